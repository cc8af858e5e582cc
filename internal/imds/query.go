package imds

import (
	"errors"
	"net/url"
	"strings"
)

// Bounds on the query string. Real clients send two to four parameters.
const (
	maxQueryBytes  = 4096
	maxQueryParams = 32
)

var (
	errDuplicateParam = errors.New("duplicate query parameter")
	errBadQuery       = errors.New("malformed query string")
)

type param struct{ name, value string }

// query is a parsed query string that remembers every name, so a repeated name can be
// rejected as Azure does. url.Values cannot do that: it merges repeats, and
// url.ParseQuery also rejects ';', which IMDS treats as an ordinary character.
type query struct {
	params []param
	inline [6]param
}

// parseQuery splits raw on '&', percent-decodes names and values ('+' is a space) and
// fails with errDuplicateParam when a decoded name repeats (case-sensitive), or with
// errBadQuery on a bad escape or when the bounds are exceeded. Empty pairs are skipped.
func parseQuery(raw string, q *query) error {
	q.params = q.inline[:0]
	if len(raw) > maxQueryBytes {
		return errBadQuery
	}
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		var err error
		if name, err = unescape(name); err != nil {
			return errBadQuery
		}
		if value, err = unescape(value); err != nil {
			return errBadQuery
		}
		for _, p := range q.params {
			if p.name == name {
				return errDuplicateParam
			}
		}
		if len(q.params) == maxQueryParams {
			return errBadQuery
		}
		q.params = append(q.params, param{name, value})
	}
	return nil
}

func unescape(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, nil
	}
	return url.QueryUnescape(s)
}

// get returns the value of name and whether it was present.
func (q *query) get(name string) (string, bool) {
	for _, p := range q.params {
		if p.name == name {
			return p.value, true
		}
	}
	return "", false
}
