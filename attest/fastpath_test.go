package attest

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"testing"

	"github.com/smallstep/pkcs7"
)

// generalParse is ParseDER without the fast path: smallstep/pkcs7 alone.
func generalParse(der []byte) (*Envelope, error) {
	var ci struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue `asn1:"explicit,optional,tag:0"`
	}
	if _, err := asn1.Unmarshal(der, &ci); err != nil {
		return nil, err
	}
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return nil, err
	}
	return &Envelope{Content: p7.Content, Certificates: p7.Certificates, Signer: p7.GetOnlySigner(), SignerInfos: len(p7.Signers), p7: p7}, nil
}

func TestFastPathTakesAzureAndTegataDocuments(t *testing.T) {
	for _, name := range []string{"public-2022", "rsa-2024"} {
		env, err := Parse(readTestdata(t, "azure-attested/"+name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if env.fast == nil {
			t.Errorf("%s took the general parser; Azure's shape should take the fast path", name)
		}
	}
	pki := newPKI(t, []string{CloudPublic})
	for _, opts := range []SignOptions{AzureSignOptions(), {}, {Intermediates: []*x509.Certificate{pki.sub.cert}}} {
		der, err := Sign(testDoc("n").MarshalAzure("2025-04-07"), pki.leaf.key, pki.leaf.cert, opts)
		if err != nil {
			t.Fatal(err)
		}
		env, err := ParseDER(der)
		if err != nil || env.fast == nil {
			t.Errorf("tegata's envelope (%+v) did not take the fast path: %v", opts, err)
		}
	}
}

// FuzzFastPath holds the fast path to the general parser: whatever it accepts, the
// general parser accepts too, with the same content, certificates and signer, and the
// same signature verdict.
func FuzzFastPath(f *testing.F) {
	for _, n := range []string{"public-2022", "rsa-2024"} {
		env, err := Parse(readTestdata(f, "azure-attested/"+n+".json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(env.DER)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		var ci struct {
			ContentType asn1.ObjectIdentifier
			Content     asn1.RawValue `asn1:"explicit,optional,tag:0"`
		}
		if rest, err := asn1.Unmarshal(der, &ci); err != nil || len(rest) != 0 || !ci.ContentType.Equal(oidSignedData) {
			return
		}
		fast, ok := fastParse(ci.Content.Bytes, der)
		if !ok {
			return
		}
		general, err := generalParse(der)
		if err != nil {
			t.Fatalf("fast path accepted what the general parser rejects: %v", err)
		}
		if !bytes.Equal(fast.Content, general.Content) || len(fast.Certificates) != len(general.Certificates) ||
			general.Signer == nil || !bytes.Equal(fast.Signer.Raw, general.Signer.Raw) || general.SignerInfos != 1 {
			t.Fatal("fast and general parsers disagree on content, certificates or signer")
		}
		if (fast.verifySignature() == nil) != (general.p7.Verify() == nil) {
			t.Fatalf("signature verdicts differ: fast %v, general %v", fast.verifySignature(), general.p7.Verify())
		}
	})
}

// FuzzStrictJSON holds quickStrictJSON to the token walk wherever it decides.
func FuzzStrictJSON(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":{"c":[1,{"a":2}]}}`, `{"a":1,"a":2}`, `{"a":{"b":1,"b":2}}`, `{"a\u0062":1,"ab":2}`,
		`{"a":"}\"{","a":1}`, `[1,2]`, `{"a":1} x`, `{"licenseType":"","nonce":"x","plan":{"name":"","product":"","publisher":""}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ok, decided := quickStrictJSON(data)
		if !decided {
			return
		}
		if walk := walkStrictJSON(data) == nil; walk != ok {
			t.Fatalf("quick says %v, token walk says %v for %q", ok, walk, data)
		}
	})
}
