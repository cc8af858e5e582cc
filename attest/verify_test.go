package attest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestVerifyAzureDocuments(t *testing.T) {
	type tc struct {
		name     string
		doc      string
		roots    []string
		inter    []string
		sources  func(t *testing.T) []IntermediateSource
		mutate   func(o *VerifyOptions)
		wantErr  error
		wantVMID string
		wantIn   []string // substrings of the error
	}
	cases := []tc{
		{name: "public-2022 Baltimore chain", doc: "public-2022", roots: []string{"baltimore-cybertrust-root"},
			inter: []string{"microsoft-rsa-tls-ca-01"}, wantVMID: "bd8e7443-24a0-41f3-b949-8baf4fd1c573"},
		{name: "rsa-2024 via DigiCert G2", doc: "rsa-2024", roots: []string{"digicert-global-root-g2"},
			inter: []string{"microsoft-azure-rsa-tls-issuing-ca-08-xsign"}, wantVMID: "960a4b4a-dab2-44ef-9b73-7753043b4f16"},
		{name: "rsa-2024 via Microsoft RSA Root 2017", doc: "rsa-2024", roots: []string{"microsoft-rsa-root-certificate-authority-2017"},
			inter: []string{"microsoft-azure-rsa-tls-issuing-ca-08"}, wantVMID: "960a4b4a-dab2-44ef-9b73-7753043b4f16"},
		{name: "rsa-2024 default root set with the whole bundle dir", doc: "rsa-2024",
			roots: []string{"digicert-global-root-g2", "microsoft-tls-rsa-root-g2", "microsoft-rsa-root-certificate-authority-2017"},
			sources: func(t *testing.T) []IntermediateSource {
				return []IntermediateSource{BundleDir("testdata/azure-ca")}
			}, wantVMID: "960a4b4a-dab2-44ef-9b73-7753043b4f16"},
		{name: "rsa-2024 without intermediate, AIA offline", doc: "rsa-2024", roots: []string{"digicert-global-root-g2"},
			sources: func(t *testing.T) []IntermediateSource {
				return []IntermediateSource{NewAIAFetcher(AIAOptions{Offline: true})}
			}, wantErr: ErrUntrustedChain,
			wantIn: []string{"Microsoft Azure RSA TLS Issuing CA 08", "http://www.microsoft.com/pkiops/certs/", "allow AIA"}},
		{name: "public-2022 without intermediate", doc: "public-2022", roots: []string{"baltimore-cybertrust-root"},
			wantErr: ErrUntrustedChain, wantIn: []string{"Microsoft RSA TLS CA 01"}},
		{name: "rsa-2024 wrong root", doc: "rsa-2024", roots: []string{"baltimore-cybertrust-root"},
			inter: []string{"microsoft-azure-rsa-tls-issuing-ca-08-xsign"}, wantErr: ErrUntrustedChain},
		{name: "rsa-2024 mismatched variant and root", doc: "rsa-2024", roots: []string{"digicert-global-root-g2"},
			inter: []string{"microsoft-azure-rsa-tls-issuing-ca-08"}, wantErr: ErrUntrustedChain},
		{name: "nonce matches", doc: "rsa-2024", roots: []string{"digicert-global-root-g2"},
			inter:  []string{"microsoft-azure-rsa-tls-issuing-ca-08-xsign"},
			mutate: func(o *VerifyOptions) { o.Nonce = "20240422-233245" }, wantVMID: "960a4b4a-dab2-44ef-9b73-7753043b4f16"},
		{name: "nonce mismatch", doc: "rsa-2024", roots: []string{"digicert-global-root-g2"},
			inter:  []string{"microsoft-azure-rsa-tls-issuing-ca-08-xsign"},
			mutate: func(o *VerifyOptions) { o.Nonce = "Zq8X1c2v3b4n5m6a7s8d9f0g1h2j3k4l" }, wantErr: ErrNonceMismatch},
		{name: "US Gov profile rejects public signer", doc: "rsa-2024", roots: []string{"digicert-global-root-g2"},
			inter:  []string{"microsoft-azure-rsa-tls-issuing-ca-08-xsign"},
			mutate: func(o *VerifyOptions) { o.SignerNames = []string{CloudUSGov} }, wantErr: ErrNameMismatch},
		{name: "label boundary", doc: "rsa-2024", roots: []string{"digicert-global-root-g2"},
			inter:  []string{"microsoft-azure-rsa-tls-issuing-ca-08-xsign"},
			mutate: func(o *VerifyOptions) { o.SignerNames = []string{"data.azure.com"} }, wantErr: ErrNameMismatch},
		{name: "verified today the document is expired", doc: "rsa-2024", roots: []string{"digicert-global-root-g2"},
			inter: []string{"microsoft-azure-rsa-tls-issuing-ca-08-xsign"},
			mutate: func(o *VerifyOptions) {
				o.At = time.Time{}
				o.CurrentTime = func() time.Time { return time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC) }
			},
			wantErr: ErrExpired},
		{name: "chain expired but document window skew-stretched", doc: "public-2022", roots: []string{"baltimore-cybertrust-root"},
			inter: []string{"microsoft-rsa-tls-ca-01"},
			mutate: func(o *VerifyOptions) {
				o.At = time.Date(2023, 3, 1, 0, 0, 0, 0, time.UTC)
				o.Skew = 24 * 365 * time.Hour
			}, wantErr: ErrUntrustedChain, wantIn: []string{"not valid at"}},
		{name: "max age", doc: "rsa-2024", roots: []string{"digicert-global-root-g2"},
			inter:  []string{"microsoft-azure-rsa-tls-issuing-ca-08-xsign"},
			mutate: func(o *VerifyOptions) { o.At = o.At.Add(time.Hour); o.MaxAge = time.Minute }, wantErr: ErrExpired},
		{name: "docs sample RSA-1024 signer", doc: "docs-sample", roots: []string{"digicert-global-root-g2"},
			mutate: func(o *VerifyOptions) { o.AllowCNFallback = true }, wantErr: ErrBadSignature, wantIn: []string{"1024 bits"}},
		{name: "nil roots", doc: "rsa-2024", mutate: func(o *VerifyOptions) { o.Roots = nil }, wantErr: ErrPolicy},
		{name: "empty names", doc: "rsa-2024", roots: []string{"digicert-global-root-g2"},
			mutate: func(o *VerifyOptions) { o.SignerNames = []string{} }, wantErr: ErrPolicy},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := VerifyOptions{At: signingTime(t, c.doc), Roots: poolOf()}
			for _, r := range c.roots {
				opts.Roots.AddCert(caCert(t, r))
			}
			for _, i := range c.inter {
				opts.Intermediates = append(opts.Intermediates, StaticIntermediates(caCert(t, i)))
			}
			if c.sources != nil {
				opts.Intermediates = append(opts.Intermediates, c.sources(t)...)
			}
			if c.mutate != nil {
				c.mutate(&opts)
			}
			res, err := Verify(context.Background(), readTestdata(t, "azure-attested/"+c.doc+".json"), opts)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err = %v, want %v", err, c.wantErr)
				}
				var ve *VerifyError
				if !errors.As(err, &ve) || ve.Step == "" {
					t.Fatalf("err %v is not a *VerifyError with a step", err)
				}
				for _, s := range c.wantIn {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.Document.VMID != c.wantVMID {
				t.Errorf("vmId = %q, want %q", res.Document.VMID, c.wantVMID)
			}
			if res.Chain[0] != res.Signer || len(res.Chain) != 3 {
				t.Errorf("chain = %d certs, want signer + intermediate + root", len(res.Chain))
			}
			if res.MatchedName == "" {
				t.Error("MatchedName empty")
			}
		})
	}
}

// TestVerifyTamperedContent flips one byte of the signed JSON inside the DER:
// the document still parses but the signature must fail.
func TestVerifyTamperedContent(t *testing.T) {
	var r struct{ Signature string }
	if err := json.Unmarshal(readTestdata(t, "azure-attested/rsa-2024.json"), &r); err != nil {
		t.Fatal(err)
	}
	der, _ := base64.StdEncoding.DecodeString(r.Signature)
	i := bytes.Index(der, []byte("960a4b4a"))
	if i < 0 {
		t.Fatal("vmId not found in DER")
	}
	der[i] = '8'
	opts := VerifyOptions{
		At:            signingTime(t, "rsa-2024"),
		Roots:         poolOf(caCert(t, "digicert-global-root-g2")),
		Intermediates: []IntermediateSource{StaticIntermediates(caCert(t, "microsoft-azure-rsa-tls-issuing-ca-08-xsign"))},
	}
	_, err := Verify(context.Background(), MarshalResponse(der), opts)
	if !errors.Is(err, ErrBadSignature) {
		t.Fatalf("err = %v, want ErrBadSignature", err)
	}
}

func TestVerifyMalformed(t *testing.T) {
	cases := map[string]string{
		"not json":        `nope`,
		"wrong encoding":  `{"encoding":"cms","signature":"AA=="}`,
		"duplicate key":   `{"encoding":"pkcs7","encoding":"pkcs7","signature":"AA=="}`,
		"missing sig":     `{"encoding":"pkcs7"}`,
		"bad base64":      `{"encoding":"pkcs7","signature":"***"}`,
		"not pkcs7":       `{"encoding":"pkcs7","signature":"AAAA"}`,
		"trailing":        `{"encoding":"pkcs7","signature":"AA=="} x`,
		"too many hints":  `{"encoding":"pkcs7","signature":"AA==","intermediates":["","","","","","","","","","",""]}`,
		"oversized input": `{"encoding":"pkcs7","signature":"` + strings.Repeat("A", MaxResponseSize) + `"}`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Verify(context.Background(), []byte(in), VerifyOptions{Roots: poolOf()})
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}
