package auth

import (
	"context"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// BenchmarkValidateCached validates the token a client presents on every
// request: after the first call, a SHA-256 and a map lookup.
func BenchmarkValidateCached(b *testing.B) {
	key, _, _, _ := keys(b)
	v, _ := newValidator(b, nil)
	tok := sign(b, key, jose.RS256, testKid, baseClaims())
	ctx := context.Background()
	if _, err := v.Validate(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Validate(ctx, tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkValidateUncached validates with the cache off: parse, RS256 verify,
// claims.
func BenchmarkValidateUncached(b *testing.B) {
	key, _, _, _ := keys(b)
	v, _ := newValidator(b, func(o *Options) { o.CacheSize = -1 })
	tok := sign(b, key, jose.RS256, testKid, baseClaims())
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Validate(ctx, tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
