package attest

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestSignVerifyOwnPKI(t *testing.T) {
	names := []string{"metadata.tegata.test", "eastus.metadata.tegata.test"}
	pki := newPKI(t, names)
	ecLeaf := issue(t, leafTemplate(names), pki.sub, ecKey(t))
	content := testDoc("n0nce").MarshalAzure("2025-04-07")
	cases := []struct {
		name    string
		leaf    *testCA
		opts    SignOptions
		sources []IntermediateSource
		wantErr error
	}{
		{name: "embedded sub CA, standard OID", leaf: pki.leaf, opts: SignOptions{Intermediates: []*x509.Certificate{pki.sub.cert}}},
		{name: "azure parity: quirk OID, leaf only, sub CA from a static source", leaf: pki.leaf, opts: AzureSignOptions(),
			sources: []IntermediateSource{StaticIntermediates(pki.sub.cert)}},
		{name: "leaf only and no source", leaf: pki.leaf, opts: AzureSignOptions(), wantErr: ErrUntrustedChain},
		{name: "ECDSA leaf", leaf: ecLeaf, opts: SignOptions{Intermediates: []*x509.Certificate{pki.sub.cert}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			der, err := Sign(content, c.leaf.key, c.leaf.cert, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			env, err := ParseDER(der)
			if err != nil {
				t.Fatal(err)
			}
			wantOID := OIDSHA256
			if c.opts.AzureDigestOIDQuirk {
				wantOID = OIDSHA256WithRSA
			}
			if !env.DigestAlgorithm.Equal(wantOID) || env.SignedAttributes || env.Signer != env.Certificates[0] {
				t.Errorf("digest %s attrs %v: not Azure's layout", env.DigestAlgorithm, env.SignedAttributes)
			}
			res, err := Verify(context.Background(), MarshalResponse(der), VerifyOptions{
				At: testEpoch.Add(time.Minute), Roots: poolOf(pki.root.cert), Nonce: "n0nce",
				SignerNames: []string{"metadata.tegata.test"}, Intermediates: c.sources,
			})
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err = %v, want %v", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(res.Content, content) || res.Chain[len(res.Chain)-1] != pki.root.cert {
				t.Error("content or anchor differs")
			}
		})
	}
}

// TestSignerMustBeTheCheckedCertificate is the SPIRE advisory's regression
// test (R1): an attacker signs with its own certificate and adds a genuine
// Azure leaf to the bag; every check must run on the actual signer.
func TestSignerMustBeTheCheckedCertificate(t *testing.T) {
	attacker := newPKI(t, []string{"attacker.example"})
	env, err := Parse(readTestdata(t, "azure-attested/rsa-2024.json"))
	if err != nil {
		t.Fatal(err)
	}
	der, err := Sign(testDoc("n").MarshalAzure("2025-04-07"), attacker.leaf.key, attacker.leaf.cert,
		SignOptions{Intermediates: []*x509.Certificate{env.Signer, attacker.sub.cert}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Verify(context.Background(), MarshalResponse(der), VerifyOptions{At: testEpoch, Roots: poolOf(attacker.root.cert)})
	if !errors.Is(err, ErrNameMismatch) {
		t.Fatalf("err = %v, want ErrNameMismatch", err)
	}
}

func TestSignRejectsMismatchedKey(t *testing.T) {
	a := newPKI(t, []string{"metadata.tegata.test"})
	if _, err := Sign([]byte("{}"), a.sub.key, a.leaf.cert, SignOptions{}); err == nil {
		t.Fatal("Sign accepted a key that does not match the leaf")
	}
}

// TestSignOpenSSL checks our output with an independent implementation.
func TestSignOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("TEGATA_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("openssl not found and TEGATA_REQUIRE_INTEGRATION=1")
		}
		t.Skip("openssl not found")
	}
	pki := newPKI(t, []string{"metadata.tegata.test"})
	content := testDoc("abc").MarshalAzure("2025-04-07")
	for _, quirk := range []bool{false, true} {
		der, err := Sign(content, pki.leaf.key, pki.leaf.cert, SignOptions{AzureDigestOIDQuirk: quirk})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "doc.p7")
		if err := os.WriteFile(p, der, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(openssl, "smime", "-verify", "-in", p, "-inform", "DER", "-noverify").Output()
		if err != nil {
			t.Fatalf("quirk=%v: openssl smime -verify: %v", quirk, err)
		}
		if !bytes.Equal(out, content) {
			t.Errorf("quirk=%v: openssl printed %q, want the content", quirk, out)
		}
		certs, err := exec.Command(openssl, "pkcs7", "-inform", "DER", "-in", p, "-print_certs").Output()
		if err != nil || bytes.Count(certs, []byte("BEGIN CERTIFICATE")) != 1 {
			t.Errorf("quirk=%v: openssl pkcs7 -print_certs: %v, %d certificates", quirk, err, bytes.Count(certs, []byte("BEGIN CERTIFICATE")))
		}
	}
}
