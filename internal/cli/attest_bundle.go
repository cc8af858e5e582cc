package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tegata-project/tegata/attest"
)

// maxAnnounced bounds what `attest doctor` and `bundle refresh` read as a CA list.
const maxAnnounced = 4 << 20

func newAttestBundleCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Build intermediate bundles for verifiers in closed networks",
	}
	var out string
	var from []string
	refresh := &cobra.Command{
		Use:   "refresh --out DIR --from SOURCE...",
		Short: "Fetch the announced intermediates into a directory (where internet exists), to copy into a closed network",
		Long: `Fetch intermediate certificates and write each one into DIR as <subject>.pem, so that
'tegata attest verify --offline --bundle DIR' works in a network without internet, also after
the next Sub CA rotation as long as the bundle was refreshed after the announcement.

Sources (--from, repeatable): an http(s) URL or a file of PEM or DER certificates, such as
tegata's own http://127.0.0.1:8255/pki/bundle.pem or a CA Issuers URL. Roots (self-signed
certificates) are left out: trust anchors are configured, not bundled.`,
		Example: `  tegata attest bundle refresh --out ./bundle --from http://127.0.0.1:8255/pki/bundle.pem
  tegata attest bundle refresh --out ./bundle --from "http://www.microsoft.com/pkiops/certs/Microsoft%20Azure%20RSA%20TLS%20Issuing%20CA%2008%20-%20xsign.crt"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" || len(from) == 0 {
				return &exitError{code: 2, err: fmt.Errorf("give --out DIR and at least one --from")}
			}
			certs, err := readCertSources(cmd.Context(), from)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			written := 0
			for _, c := range certs {
				if isSelfIssued(c) {
					continue
				}
				name := filepath.Join(out, certFileName(c))
				if err := os.WriteFile(name, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s  %s (until %s)\n", name, c.Subject.CommonName, c.NotAfter.UTC().Format("2006-01-02"))
				written++
			}
			if written == 0 {
				return fmt.Errorf("no intermediate certificate found in %s", strings.Join(from, ", "))
			}
			return nil
		},
	}
	refresh.Flags().StringVar(&out, "out", "", "directory to write the bundle into")
	refresh.Flags().StringSliceVar(&from, "from", nil, "URL or file of certificates (PEM or DER), repeatable")
	cmd.AddCommand(refresh)
	return cmd
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// certFileName names a certificate's file after its subject and a fingerprint prefix,
// so a Sub CA and its cross-signed twin do not overwrite each other.
func certFileName(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	cn := unsafeName.ReplaceAllString(c.Subject.CommonName, "-")
	return fmt.Sprintf("%s-%s.pem", strings.Trim(cn, "-"), hex.EncodeToString(sum[:4]))
}

func isSelfIssued(c *x509.Certificate) bool { return bytes.Equal(c.RawSubject, c.RawIssuer) }

// readCertSources reads certificates from URLs and files, PEM or DER, bounded.
func readCertSources(ctx context.Context, sources []string) ([]*x509.Certificate, error) {
	var all []*x509.Certificate
	client := &http.Client{Timeout: 20 * time.Second}
	for _, src := range sources {
		var data []byte
		if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
			if err != nil {
				return nil, &exitError{code: 2, err: fmt.Errorf("--from %s: %w", src, err)}
			}
			resp, err := client.Do(req)
			if err != nil {
				return nil, fmt.Errorf("--from %s: %w", src, err)
			}
			data, err = io.ReadAll(io.LimitReader(resp.Body, maxAnnounced))
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				return nil, fmt.Errorf("--from %s: HTTP %d %v", src, resp.StatusCode, err)
			}
		} else {
			f, err := os.Open(src)
			if err != nil {
				return nil, &exitError{code: 2, err: fmt.Errorf("--from: %w", err)}
			}
			data, err = io.ReadAll(io.LimitReader(f, maxAnnounced))
			f.Close()
			if err != nil {
				return nil, err
			}
		}
		certs, err := attest.ParseCertificates(data)
		if err != nil {
			return nil, fmt.Errorf("--from %s: %w", src, err)
		}
		all = append(all, certs...)
	}
	return all, nil
}

// doctorFinding is one line of the doctor's report.
type doctorFinding struct {
	OK      bool   `json:"ok"`
	Check   string `json:"check"`
	Detail  string `json:"detail"`
	Advice  string `json:"advice,omitempty"`
	Subject string `json:"subject,omitempty"`
}

// pinPatterns are the ways verifiers pinned Azure's intermediates in 2026 (SPIRE's
// issuer regex, thumbprint lists): finding them in configuration predicts a failure at
// the next rotation.
var pinPatterns = []*regexp.Regexp{
	regexp.MustCompile(`Microsoft Azure (RSA |ECC )?TLS Issuing CA \d{2}`),
	regexp.MustCompile(`Microsoft (IT|RSA) TLS CA \d`),
	regexp.MustCompile(`BEGIN CERTIFICATE`),
}

func newAttestDoctorCmd(g *globals) *cobra.Command {
	var roots, bundles, announced, scan []string
	var offline bool
	var at string
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Predict whether attested-document verification here survives the next Sub CA rotation",
		Long: `Check this machine's verification set-up against the CAs that are announced (published
before they sign): is every announced Sub CA anchored in a configured root, is it in the
bundle (needed offline), and do configuration files pin an intermediate. Prints a verdict
and what to do; exit status 0 when verification will keep working, 1 when it is at risk.

--announced lists the announced CAs: tegata's http://<admin>/pki/bundle.pem for its own
PKI, or a file of Azure's published intermediates.`,
		Example: `  tegata attest doctor --announced http://127.0.0.1:8255/pki/bundle.pem --roots roots.pem --bundle ./bundle --offline
  tegata attest doctor --announced azure-intermediates.pem --bundle /etc/azure-ca --scan /etc/spire/server.conf`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(announced) == 0 {
				return &exitError{code: 2, err: fmt.Errorf("give --announced: the CAs to check against (a URL or file of certificates)")}
			}
			now := time.Now()
			if at != "" {
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return &exitError{code: 2, err: fmt.Errorf("--at %q: give an RFC 3339 time", at)}
				}
				now = t
			}
			pool := attest.AzureRoots()
			if len(roots) > 0 {
				p, err := loadRoots(roots)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				pool = p
			}
			ann, err := readCertSources(cmd.Context(), announced)
			if err != nil {
				return err
			}
			var bundled []*x509.Certificate
			for _, dir := range bundles {
				certs, err := attest.BundleDir(dir).Intermediates(cmd.Context(), attest.ChainRequest{})
				if err != nil {
					return fmt.Errorf("--bundle %s: %w", dir, err)
				}
				bundled = append(bundled, certs...)
			}
			findings := diagnose(ann, bundled, pool, offline, now)
			for _, f := range scan {
				findings = append(findings, scanPins(f)...)
			}
			ok := true
			for _, f := range findings {
				ok = ok && f.OK
			}
			if g.output == "json" {
				printJSON(cmd.OutOrStdout(), map[string]any{"ok": ok, "findings": findings})
			} else {
				w := cmd.OutOrStdout()
				for _, f := range findings {
					mark := "ok  "
					if !f.OK {
						mark = "RISK"
					}
					fmt.Fprintf(w, "%s  %s: %s\n", mark, f.Check, f.Detail)
					if f.Advice != "" {
						fmt.Fprintf(w, "      -> %s\n", f.Advice)
					}
				}
				if ok {
					fmt.Fprintln(w, "verdict: verification will keep working through the announced rotations")
				} else {
					fmt.Fprintln(w, "verdict: AT RISK: fix the RISK lines before the next rotation")
				}
			}
			if !ok {
				return &exitError{code: 1, err: fmt.Errorf("attested-document verification is at risk at the next rotation")}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&announced, "announced", nil, "URL or file of the announced CA certificates")
	fl.StringSliceVar(&roots, "roots", nil, "PEM file(s) of the roots the verifier trusts (default: Azure's, built in)")
	fl.StringSliceVar(&bundles, "bundle", nil, "the verifier's bundle directories")
	fl.BoolVar(&offline, "offline", false, "the verifier cannot download from AIA URLs (closed network)")
	fl.StringSliceVar(&scan, "scan", nil, "configuration files to search for pinned intermediates")
	fl.StringVar(&at, "at", "", "judge as of this RFC 3339 time instead of now")
	addOutputFlag(cmd, g)
	return cmd
}

// diagnose checks every announced, unexpired Sub CA: it must chain to roots (with the
// announced and bundled certificates as intermediates), and, for an offline verifier,
// be in the bundle.
func diagnose(announced, bundled []*x509.Certificate, roots *x509.CertPool, offline bool, now time.Time) []doctorFinding {
	inter := x509.NewCertPool()
	inBundle := map[[32]byte]bool{}
	for _, c := range bundled {
		inter.AddCert(c)
		inBundle[sha256.Sum256(c.Raw)] = true
	}
	for _, c := range announced {
		if !isSelfIssued(c) {
			inter.AddCert(c)
		}
	}
	var out []doctorFinding
	for _, c := range announced {
		if isSelfIssued(c) || now.After(c.NotAfter) {
			continue
		}
		name := c.Subject.CommonName
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			out = append(out, doctorFinding{Check: "root", Subject: name, Detail: fmt.Sprintf("%s does not chain to a configured root (%v)", name, err),
				Advice: "add the root it chains to (its issuer: " + c.Issuer.CommonName + ") to the verifier's roots"})
		} else {
			out = append(out, doctorFinding{OK: true, Check: "root", Subject: name, Detail: name + " chains to a configured root"})
		}
		switch {
		case inBundle[sha256.Sum256(c.Raw)]:
			out = append(out, doctorFinding{OK: true, Check: "bundle", Subject: name, Detail: name + " is in the bundle"})
		case offline:
			out = append(out, doctorFinding{Check: "bundle", Subject: name, Detail: name + " is not in the bundle and this verifier cannot download it",
				Advice: "run `tegata attest bundle refresh` where internet exists and copy the bundle here"})
		default:
			out = append(out, doctorFinding{OK: true, Check: "bundle", Subject: name, Detail: name + " is not in the bundle; AIA must supply it (" + strings.Join(c.IssuingCertificateURL, ", ") + ")",
				Advice: "refresh the bundle to stop depending on AIA"})
		}
	}
	return out
}

// scanPins reports pinned intermediates (issuer-name patterns, embedded certificates)
// found in a configuration file.
func scanPins(path string) []doctorFinding {
	data, err := os.ReadFile(path)
	if err != nil {
		return []doctorFinding{{Check: "scan", Detail: fmt.Sprintf("%s: %v", path, err), Advice: "give a readable file"}}
	}
	var out []doctorFinding
	for _, re := range pinPatterns {
		if m := re.Find(data); m != nil {
			out = append(out, doctorFinding{Check: "pin", Detail: fmt.Sprintf("%s pins %q", path, m),
				Advice: "remove the pin: check the signer's name (SAN under metadata.azure.com) and chain to roots instead"})
		}
	}
	if out == nil {
		out = append(out, doctorFinding{OK: true, Check: "pin", Detail: path + " pins no intermediate"})
	}
	return out
}
