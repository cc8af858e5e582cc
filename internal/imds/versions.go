package imds

import "slices"

// DefaultAPIVersions is the global api-version list of Azure IMDS, newest first, as
// published in its documentation. Scheduled-events-only versions are not in it.
var DefaultAPIVersions = []string{
	"2025-04-07", "2024-07-17", "2024-03-15", "2023-11-15", "2023-07-01", "2021-12-13", "2021-11-15",
	"2021-11-01", "2021-10-01", "2021-08-01", "2021-05-01", "2021-03-01", "2021-02-01", "2021-01-01",
	"2020-12-01", "2020-10-01", "2020-09-01", "2020-07-15", "2020-06-01", "2019-11-01", "2019-08-15",
	"2019-08-01", "2019-06-04", "2019-06-01", "2019-04-30", "2019-03-11", "2019-02-01", "2018-10-01",
	"2018-04-02", "2018-02-01", "2017-12-01", "2017-10-01", "2017-08-01", "2017-04-02", "2017-03-01",
}

// Minimum api-versions per category (imds.md §1.4). Versions are compared as
// YYYY-MM-DD strings, which order like dates.
const (
	minInstance     = "2017-03-01"
	minAttested     = "2018-10-01"
	minIdentity     = "2018-02-01"
	minLoadBalancer = "2020-10-01"
)

// catalog answers which api-versions a category accepts. It is data, not code, so a
// new Azure version is a configuration change.
type catalog struct {
	set             map[string]bool
	newest          []string // newest three, newest first, for the E3 body
	ascending       []byte   // the /metadata/versions body
	scheduledEvents func(string) bool
}

func newCatalog(versions []string, eventsAccepts func(string) bool) *catalog {
	c := &catalog{set: make(map[string]bool, len(versions)), scheduledEvents: eventsAccepts}
	sorted := slices.Clone(versions)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	for _, v := range sorted {
		c.set[v] = true
	}
	for i := len(sorted) - 1; i >= 0 && len(c.newest) < 3; i-- {
		c.newest = append(c.newest, sorted[i])
	}
	b := []byte(`{"apiVersions":[`)
	for i, v := range sorted {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, v...)
		b = append(b, '"')
	}
	c.ascending = append(b, "]}"...)
	return c
}

// accepts reports whether v is a known global version at or above min.
func (c *catalog) accepts(v, min string) bool { return c.set[v] && v >= min }
