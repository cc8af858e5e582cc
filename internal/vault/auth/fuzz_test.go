package auth

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// FuzzValidate feeds Validate arbitrary strings: it must not panic, must fail
// with one of its typed errors, and may succeed only with a principal.
func FuzzValidate(f *testing.F) {
	key, _, _, _ := keys(f)
	valid := sign(f, key, jose.RS256, testKid, baseClaims())
	parts := strings.Split(valid, ".")
	for _, seed := range []string{
		valid,
		sign(f, key, jose.RS256, "", baseClaims()),
		unsigned(baseClaims()),
		parts[0] + "." + parts[1] + ".",
		parts[0] + ".." + parts[2],
		"." + parts[1] + "." + parts[2],
		"a.b.c", "..", "", "Bearer " + valid, valid + ".x.y",
		`{"payload":"e30","signatures":[{"protected":"e30","signature":""}]}`,
		"eyJhbGciOiJSUzI1NiIsImtpZCI6ImtleS0xIiwiY3JpdCI6WyJ4Il19.e30.AAAA",
	} {
		f.Add(seed)
	}
	v, _ := newValidator(f, nil)
	f.Fuzz(func(t *testing.T, token string) {
		p, err := v.Validate(context.Background(), token)
		if err == nil {
			if p.ObjectID == "" {
				t.Fatalf("success without a principal for %q", token)
			}
			return
		}
		for _, s := range sentinels {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("untyped error %v for %q", err, token)
	})
}
