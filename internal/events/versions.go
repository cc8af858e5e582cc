package events

// Versions lists the api-version values that /metadata/scheduledevents accepts, newest
// first. Scheduled events keep their own list, distinct from the global IMDS list: four of
// these versions exist only here, and the old "{latest}" alias is no longer accepted.
//
// Versions is data so that a new Azure version is a one-line change; when adding one,
// also record the fields or event types it introduced in the gating tables of
// versions.go.
var Versions = []string{
	"2020-07-01",
	"2019-08-01",
	"2019-04-01",
	"2019-01-01",
	"2017-11-01",
	"2017-08-01",
	"2017-03-01",
}

// Accepts reports whether apiVersion is one of [Versions]. The comparison is exact, so
// a value with other spacing or case is refused rather than guessed at.
func Accepts(apiVersion string) bool {
	for _, v := range Versions {
		if v == apiVersion {
			return true
		}
	}
	return false
}

// The scheduled-events version history, as data. api-versions are ISO dates, so string
// comparison orders them.
const (
	// descriptionSince is the first version whose events carry Description.
	descriptionSince = "2019-04-01"
	// eventSourceSince is the first version whose events carry EventSource.
	eventSourceSince = "2019-08-01"
	// durationSince is the first version whose events carry DurationInSeconds.
	durationSince = "2020-07-01"
	// underscoreUntil is the first version that no longer prefixes IaaS resource names
	// with "_" (the 2017-03-01 preview did).
	underscoreUntil = "2017-08-01"
)

// typeSince gives the first version that reports each event type. Older versions leave
// events of a newer type out of the document, because their clients cannot know them.
var typeSince = map[EventType]string{
	Freeze:    "2017-03-01",
	Reboot:    "2017-03-01",
	Redeploy:  "2017-03-01",
	Preempt:   "2017-11-01",
	Terminate: "2019-01-01",
}

// normalizeVersion returns apiVersion when it is accepted, else the newest version, so
// that rendering never depends on how an unknown string happens to sort.
func normalizeVersion(apiVersion string) string {
	if Accepts(apiVersion) {
		return apiVersion
	}
	return Versions[0]
}
