package attest

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"
)

// BenchmarkSign measures a cache miss of the metadata service: build the document JSON
// and sign it into Azure's PKCS#7 envelope. BenchmarkRSASign, in the same run, is the
// raw RSA-2048 PKCS#1 v1.5 signature it contains (docs/benchmarks.md compares them).
func BenchmarkSign(b *testing.B) {
	pki := newPKI(b, []string{CloudPublic})
	doc := testDoc("abcdef1234")
	opts := AzureSignOptions()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sign(doc.MarshalAzure("2025-04-07"), pki.leaf.key, pki.leaf.cert, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRSASign(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("document"))
	for b.Loop() {
		if _, err := key.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCached is BenchmarkVerify with a ChainCache, as a service verifying a
// fleet's documents runs.
func BenchmarkVerifyCached(b *testing.B) {
	pki := newPKI(b, []string{CloudPublic})
	der, err := Sign(testDoc("abcdef1234").MarshalAzure("2025-04-07"), pki.leaf.key, pki.leaf.cert, AzureSignOptions())
	if err != nil {
		b.Fatal(err)
	}
	body := MarshalResponse(der)
	opts := VerifyOptions{Roots: poolOf(pki.root.cert), Intermediates: []IntermediateSource{StaticIntermediates(pki.sub.cert)}, At: testEpoch, Nonce: "abcdef1234", ChainCache: NewChainCache(100)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(context.Background(), body, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify measures a verifier that sees many documents of the same signer with
// its intermediates at hand (a static source, the warm state of a bundle or AIA cache).
func BenchmarkVerify(b *testing.B) {
	pki := newPKI(b, []string{CloudPublic})
	doc := testDoc("abcdef1234")
	der, err := Sign(doc.MarshalAzure("2025-04-07"), pki.leaf.key, pki.leaf.cert, AzureSignOptions())
	if err != nil {
		b.Fatal(err)
	}
	body := MarshalResponse(der)
	opts := VerifyOptions{Roots: poolOf(pki.root.cert), Intermediates: []IntermediateSource{StaticIntermediates(pki.sub.cert)}, At: testEpoch, Nonce: "abcdef1234"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(context.Background(), body, opts); err != nil {
			b.Fatal(err)
		}
	}
}
