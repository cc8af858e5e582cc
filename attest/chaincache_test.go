package attest

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestChainCache(t *testing.T) {
	pki := newPKI(t, []string{CloudPublic})
	der, err := Sign(testDoc("n1").MarshalAzure("2025-04-07"), pki.leaf.key, pki.leaf.cert, AzureSignOptions())
	if err != nil {
		t.Fatal(err)
	}
	body := MarshalResponse(der)
	roots := poolOf(pki.root.cert)
	cache := NewChainCache(10)
	ctx := context.Background()

	opts := VerifyOptions{Roots: roots, Intermediates: []IntermediateSource{StaticIntermediates(pki.sub.cert)}, At: testEpoch, ChainCache: cache}
	if _, err := Verify(ctx, body, opts); err != nil {
		t.Fatal(err)
	}
	// The Sub CA is no longer supplied: only the cached chain can make this pass.
	opts.Intermediates = nil
	res, err := Verify(ctx, body, opts)
	if err != nil {
		t.Fatalf("second verification did not use the cached chain: %v", err)
	}
	if len(res.Chain) != 3 {
		t.Fatalf("cached chain has %d certificates", len(res.Chain))
	}
	// Another root pool does not reuse it.
	if _, err := Verify(ctx, body, VerifyOptions{Roots: poolOf(pki.root.cert), At: testEpoch, ChainCache: cache}); !errors.Is(err, ErrUntrustedChain) {
		t.Fatalf("other pool: %v, want ErrUntrustedChain", err)
	}
	// Outside the chain's validity the cache is not used (and the leaf has expired).
	late := opts
	late.At = pki.leaf.cert.NotAfter.Add(time.Hour)
	if _, err := verifyChainOnly(ctx, body, late); err == nil {
		t.Fatal("a cached chain was used after its certificates expired")
	}
	// The signature is still checked on every document.
	tampered := append([]byte(nil), der...)
	tampered[len(tampered)/2] ^= 0xff
	if _, err := Verify(ctx, MarshalResponse(tampered), opts); err == nil {
		t.Fatal("a tampered document verified through the cache")
	}
}

// verifyChainOnly runs buildChain as Verify would, skipping the claims (whose
// timestamps have also expired at such a time).
func verifyChainOnly(ctx context.Context, body []byte, opts VerifyOptions) ([]byte, error) {
	env, err := Parse(body)
	if err != nil {
		return nil, err
	}
	_, _, err = buildChain(ctx, env, opts, opts.At)
	return nil, err
}
