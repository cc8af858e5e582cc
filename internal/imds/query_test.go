package imds

import (
	"errors"
	"strings"
	"testing"
)

func TestParseQuery(t *testing.T) {
	tests := []struct {
		raw     string
		want    map[string]string
		wantErr error
	}{
		{raw: "", want: map[string]string{}},
		{raw: "api-version=2021-02-01&format=text", want: map[string]string{"api-version": "2021-02-01", "format": "text"}},
		{raw: "api-version=2021-02-01&api-version=2021-02-01", wantErr: errDuplicateParam},
		{raw: "api-version=2021-02-01&api%2Dversion=2020-09-01", wantErr: errDuplicateParam},
		{raw: "Api-Version=1&api-version=2", want: map[string]string{"Api-Version": "1", "api-version": "2"}},
		{raw: "a=1;b=2", want: map[string]string{"a": "1;b=2"}},
		{raw: "resource=https%3A%2F%2Fvault.azure.net&x=a+b", want: map[string]string{"resource": "https://vault.azure.net", "x": "a b"}},
		{raw: "a=%zz", wantErr: errBadQuery},
		{raw: "&&a=1&&", want: map[string]string{"a": "1"}},
		{raw: "flag", want: map[string]string{"flag": ""}},
		{raw: strings.Repeat("a", maxQueryBytes+1), wantErr: errBadQuery},
	}
	for _, tt := range tests {
		var q query
		err := parseQuery(tt.raw, &q)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("parseQuery(%q) error = %v, want %v", tt.raw, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if len(q.params) != len(tt.want) {
			t.Errorf("parseQuery(%q) = %v, want %v", tt.raw, q.params, tt.want)
		}
		for k, v := range tt.want {
			if got, ok := q.get(k); !ok || got != v {
				t.Errorf("parseQuery(%q).get(%q) = %q, %v; want %q", tt.raw, k, got, ok, v)
			}
		}
	}
}

func TestParseQueryTooManyParams(t *testing.T) {
	var b strings.Builder
	for i := 0; i <= maxQueryParams; i++ {
		b.WriteString("p")
		b.WriteString(strings.Repeat("x", i+1))
		b.WriteString("=1&")
	}
	var q query
	if err := parseQuery(b.String(), &q); !errors.Is(err, errBadQuery) {
		t.Fatalf("parseQuery with %d params: error = %v, want errBadQuery", maxQueryParams+1, err)
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"api-version=2021-02-01&format=text", "a=1&a=2", "%", "a=%2", "x=;&y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var q query
		if err := parseQuery(raw, &q); err != nil {
			return
		}
		seen := map[string]bool{}
		for _, p := range q.params {
			if seen[p.name] {
				t.Fatalf("duplicate %q accepted in %q", p.name, raw)
			}
			seen[p.name] = true
		}
	})
}
