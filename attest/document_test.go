package attest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestMarshalAzureGolden re-serialises the real documents' content and
// expects Azure's exact bytes.
func TestMarshalAzureGolden(t *testing.T) {
	for _, c := range []struct{ doc, apiVersion string }{
		{"public-2022", "2020-09-01"},
		{"rsa-2024", "2025-04-07"},
		{"docs-sample", "2018-10-01"},
	} {
		t.Run(c.doc, func(t *testing.T) {
			env, err := Parse(readTestdata(t, "azure-attested/"+c.doc+".json"))
			if err != nil {
				t.Fatal(err)
			}
			d, err := ParseDocument(env.Content)
			if err != nil {
				t.Fatal(err)
			}
			if got := d.MarshalAzure(c.apiVersion); string(got) != string(env.Content) {
				t.Errorf("MarshalAzure(%s):\n got %s\nwant %s", c.apiVersion, got, env.Content)
			}
			if !env.DigestAlgorithm.Equal(OIDSHA256WithRSA) || !env.SignatureAlgorithm.Equal(OIDRSAEncryption) || env.SignedAttributes || len(env.Certificates) != 1 {
				t.Errorf("unexpected envelope layout: %s %s attrs=%v certs=%d", env.DigestAlgorithm, env.SignatureAlgorithm, env.SignedAttributes, len(env.Certificates))
			}
		})
	}
}

func TestMarshalAzureFieldsByVersion(t *testing.T) {
	d := Document{Nonce: "n", SKU: "s", SubscriptionID: "sub", LicenseType: "l", VMID: "v",
		TimeStamp: TimeStamp{CreatedOn: time.Date(2026, 5, 17, 8, 9, 10, 0, time.FixedZone("x", 3600)), ExpiresOn: time.Date(2026, 5, 17, 13, 9, 10, 0, time.UTC)}}
	want := map[string]string{
		"2018-10-01": `{"nonce":"n","plan":{"name":"","product":"","publisher":""},"timeStamp":{"createdOn":"05/17/26 07:09:10 -0000","expiresOn":"05/17/26 13:09:10 -0000"},"vmId":"v"}`,
		"2019-04-30": `{"nonce":"n","plan":{"name":"","product":"","publisher":""},"subscriptionId":"sub","timeStamp":{"createdOn":"05/17/26 07:09:10 -0000","expiresOn":"05/17/26 13:09:10 -0000"},"vmId":"v"}`,
		"2019-11-01": `{"nonce":"n","plan":{"name":"","product":"","publisher":""},"sku":"s","subscriptionId":"sub","timeStamp":{"createdOn":"05/17/26 07:09:10 -0000","expiresOn":"05/17/26 13:09:10 -0000"},"vmId":"v"}`,
		"2020-09-01": `{"licenseType":"l","nonce":"n","plan":{"name":"","product":"","publisher":""},"sku":"s","subscriptionId":"sub","timeStamp":{"createdOn":"05/17/26 07:09:10 -0000","expiresOn":"05/17/26 13:09:10 -0000"},"vmId":"v"}`,
	}
	for v, w := range want {
		if got := string(d.MarshalAzure(v)); got != w {
			t.Errorf("%s:\n got %s\nwant %s", v, got, w)
		}
	}
}

func TestParseDocumentStrict(t *testing.T) {
	bad := map[string]string{
		"duplicate key":        `{"vmId":"a","vmId":"b"}`,
		"nested duplicate key": `{"plan":{"name":"a","name":"b"}}`,
		"number for string":    `{"vmId":1}`,
		"trailing data":        `{"vmId":"a"}{}`,
		"array top level":      `[]`,
		"bad time":             `{"timeStamp":{"createdOn":"2026-01-01T00:00:00Z"}}`,
	}
	for name, in := range bad {
		if _, err := ParseDocument([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
	d, err := ParseDocument([]byte(`{"vmId":"a","newField":{"x":[1,2]},"timeStamp":{"createdOn":"04/19/22 01:27:21 -0000"}}`))
	if err != nil || d.VMID != "a" || !d.TimeStamp.CreatedOn.Equal(time.Date(2022, 4, 19, 1, 27, 21, 0, time.UTC)) {
		t.Errorf("unknown fields must be ignored: %+v, %v", d, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, n := range []string{"public-2022", "rsa-2024", "docs-sample"} {
		f.Add(readTestdata(f, "azure-attested/"+n+".json"))
	}
	f.Add([]byte(`{"encoding":"pkcs7","signature":"MAA="}`))
	roots := poolOf(caCert(f, "digicert-global-root-g2"))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse error %v does not wrap ErrMalformed", err)
			}
			return
		}
		// Verification of whatever parsed must not panic either.
		_, _ = VerifyEnvelope(context.Background(), env, VerifyOptions{Roots: roots, At: testEpoch})
	})
}

func FuzzParseDER(f *testing.F) {
	for _, n := range []string{"public-2022", "rsa-2024", "docs-sample"} {
		env, err := Parse(readTestdata(f, "azure-attested/"+n+".json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(env.DER)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		_, _ = ParseDER(der)
		_, _ = ParseCertificates(der)
	})
}

func FuzzParseDocument(f *testing.F) {
	f.Add([]byte(`{"licenseType":"","nonce":"20220419-072721","plan":{"name":"","product":"","publisher":""},"timeStamp":{"createdOn":"04/19/22 01:27:21 -0000","expiresOn":"04/19/22 07:27:21 -0000"},"vmId":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDocument(b)
		if err != nil {
			return
		}
		// What parses must re-parse from its Azure serialisation.
		if _, err := ParseDocument(d.MarshalAzure("2025-04-07")); err != nil {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// TestParseBase64Whitespace: wrapped base64 (line breaks, spaces, tabs) parses
// to the same envelope as the unwrapped value.
func TestParseBase64Whitespace(t *testing.T) {
	var resp struct{ Signature string }
	if err := json.Unmarshal(readTestdata(t, "azure-attested/public-2022.json"), &resp); err != nil {
		t.Fatal(err)
	}
	plain, err := ParseBase64(resp.Signature)
	if err != nil {
		t.Fatal(err)
	}
	var wrapped strings.Builder
	for i, r := range resp.Signature {
		if i > 0 && i%64 == 0 {
			wrapped.WriteString([]string{"\r\n", "\n", " ", "\t"}[i/64%4])
		}
		wrapped.WriteRune(r)
	}
	got, err := ParseBase64(wrapped.String())
	if err != nil {
		t.Fatalf("wrapped base64: %v", err)
	}
	if !bytes.Equal(got.Content, plain.Content) || !got.Signer.Equal(plain.Signer) {
		t.Error("wrapped base64 parsed to another envelope")
	}
	if _, err := ParseBase64(resp.Signature[:100] + "\v" + resp.Signature[100:]); err == nil {
		t.Error("a vertical tab (not allowed white space) was accepted")
	}
}
