package cli

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tegata-project/tegata/attest"
)

// maxAttestInput bounds what `attest verify` reads from a file, stdin or a URL.
const maxAttestInput = 1 << 20

func newAttestCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "attest",
		Short: "Verify Azure IMDS attested documents, offline and across CA rotations",
	}
	cmd.AddCommand(newAttestVerifyCmd(g), newAttestBundleCmd(g), newAttestDoctorCmd(g))
	return cmd
}

// attestVerifyFlags are the options of `tegata attest verify`.
type attestVerifyFlags struct {
	url, file, nonce, at, cloud string
	roots, bundles, domains     []string
	offline                     bool
	aiaHosts                    []string
}

const defaultAttestURL = "http://169.254.169.254/metadata/attested/document?api-version=2025-04-07"

func newAttestVerifyCmd(g *globals) *cobra.Command {
	var f attestVerifyFlags
	cmd := &cobra.Command{
		Use:   "verify [FILE|-]",
		Short: "Verify an attested document: signature, chain to your roots, names, nonce, time",
		Long: `Verify an attested document as returned by /metadata/attested/document (the JSON with
"encoding" and "signature"), read from FILE, from stdin (-), or fetched from an IMDS URL.

The signature is checked with the certificate that signed; the chain is built to the
roots you trust only: by default the roots Azure's documents chain to, built into tegata,
never the operating system's store. Intermediates are untrusted hints: those in the
document, bundle directories (--bundle, made where internet exists and copied into a
closed network), and, unless --offline, the leaf's AIA "CA Issuers" URL on Microsoft's
and DigiCert's hosts. A document signed by a new Sub CA therefore verifies without a
software update as long as a bundle or AIA can supply the intermediate.

Exit status: 0 only when the document verifies; 1 when it does not (the error names the
step and what to do); 2 for bad usage.`,
		Example: `  # on an Azure VM
  tegata attest verify --url "http://169.254.169.254/metadata/attested/document?api-version=2025-04-07&nonce=abcdef1234"  --nonce abcdef1234
  # offline, with a bundle of intermediates, as of the moment it was signed
  tegata attest verify doc.json --offline --bundle ./azure-ca --at 2024-06-01T12:00:00Z --output json
  # against tegata's own PKI
  curl -s -H Metadata:true "http://127.0.0.1:8254/metadata/attested/document?api-version=2025-04-07" | tegata attest verify - --roots roots.pem --signer-domain metadata.example.internal`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				f.file = args[0]
			}
			return runAttestVerify(cmd, g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.url, "url", "", "fetch the document from this IMDS URL (with Metadata: true), e.g. "+defaultAttestURL)
	fl.StringVar(&f.nonce, "nonce", "", "require this nonce in the document")
	fl.StringSliceVar(&f.roots, "roots", nil, "PEM file(s) of the roots to trust (default: Azure's public roots, built in)")
	fl.StringSliceVar(&f.bundles, "bundle", nil, "directory of intermediate certificates (PEM or DER), used as untrusted hints")
	fl.BoolVar(&f.offline, "offline", false, "never download intermediates from AIA URLs")
	fl.StringSliceVar(&f.aiaHosts, "aia-host", attest.DefaultAIAHosts, "hosts AIA downloads may use")
	fl.StringVar(&f.at, "at", "", "verify as of this RFC 3339 time instead of now (for old documents)")
	fl.StringVar(&f.cloud, "cloud", "public", "Azure cloud whose signer names to accept: public, usgov, china or all")
	fl.StringSliceVar(&f.domains, "signer-domain", nil, "accept signers named this domain or under it instead (a private cloud's domain)")
	addOutputFlag(cmd, g)
	return cmd
}

func runAttestVerify(cmd *cobra.Command, g *globals, f attestVerifyFlags) error {
	usage := func(format string, a ...any) error { return &exitError{code: 2, err: fmt.Errorf(format, a...)} }
	if (f.url != "") == (f.file != "") {
		return usage("give exactly one of FILE, - (stdin) or --url")
	}
	opts := attest.VerifyOptions{Nonce: f.nonce}
	switch f.cloud {
	case "public":
		opts.SignerNames = attest.DefaultSignerNames
	case "usgov":
		opts.SignerNames = []string{attest.CloudUSGov}
	case "china":
		opts.SignerNames = []string{attest.CloudChina}
	case "all":
		opts.SignerNames = attest.AllAzureSignerNames
	default:
		return usage("--cloud %q: use public, usgov, china or all (or --signer-domain for a private cloud)", f.cloud)
	}
	if len(f.domains) > 0 {
		opts.SignerNames = f.domains
	}
	if f.at != "" {
		t, err := time.Parse(time.RFC3339, f.at)
		if err != nil {
			return usage("--at %q: give an RFC 3339 time such as 2024-06-01T12:00:00Z", f.at)
		}
		opts.At = t
	}
	if len(f.roots) == 0 {
		opts.Roots = attest.AzureRoots()
	} else {
		pool, err := loadRoots(f.roots)
		if err != nil {
			return usage("%v", err)
		}
		opts.Roots = pool
	}
	for _, dir := range f.bundles {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return usage("--bundle %s: not a directory", dir)
		}
		opts.Intermediates = append(opts.Intermediates, attest.BundleDir(dir))
	}
	opts.Intermediates = append(opts.Intermediates, attest.NewAIAFetcher(attest.AIAOptions{Offline: f.offline, AllowedHosts: f.aiaHosts}))

	data, err := readAttestInput(cmd.Context(), f)
	if err != nil {
		return err
	}
	res, err := attest.Verify(cmd.Context(), data, opts)
	if err != nil {
		if g.output == "json" {
			printJSON(cmd.OutOrStdout(), map[string]any{"verified": false, "error": err.Error()})
		}
		return fmt.Errorf("not verified: %w", err)
	}
	if g.output == "json" {
		chain := make([]map[string]string, len(res.Chain))
		for i, c := range res.Chain {
			chain[i] = map[string]string{"subject": c.Subject.String(), "issuer": c.Issuer.String(), "not_after": c.NotAfter.UTC().Format(time.RFC3339)}
		}
		return printJSON(cmd.OutOrStdout(), map[string]any{"verified": true, "document": json.RawMessage(res.Content), "chain": chain, "matched_name": res.MatchedName, "warnings": res.Warnings})
	}
	w := cmd.OutOrStdout()
	fmt.Fprintln(w, "verified")
	fmt.Fprintln(w, "chain:")
	for i, c := range res.Chain {
		fmt.Fprintf(w, "  %s%s (until %s)\n", strings.Repeat("  ", i), c.Subject.CommonName, c.NotAfter.UTC().Format("2006-01-02"))
	}
	fmt.Fprintf(w, "document: %s\n", res.Content)
	for _, warn := range res.Warnings {
		fmt.Fprintln(w, "warning:", warn)
	}
	return nil
}

func loadRoots(files []string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("--roots %s: %w", name, err)
		}
		certs, err := attest.ParseCertificates(data)
		if err != nil {
			return nil, fmt.Errorf("--roots %s: %w", name, err)
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
	}
	return pool, nil
}

func readAttestInput(ctx context.Context, f attestVerifyFlags) ([]byte, error) {
	var r io.Reader
	switch {
	case f.url != "":
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url, nil)
		if err != nil {
			return nil, &exitError{code: 2, err: fmt.Errorf("--url: %w", err)}
		}
		req.Header.Set("Metadata", "true")
		// IMDS must be called directly, never through a proxy.
		resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
		if err != nil {
			return nil, fmt.Errorf("fetching %s: %w", f.url, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return nil, fmt.Errorf("fetching %s: HTTP %d: %s", f.url, resp.StatusCode, b)
		}
		r = resp.Body
	case f.file == "-":
		r = os.Stdin
	default:
		file, err := os.Open(f.file)
		if err != nil {
			return nil, &exitError{code: 2, err: err}
		}
		defer file.Close()
		r = file
	}
	data, err := io.ReadAll(io.LimitReader(r, maxAttestInput+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxAttestInput {
		return nil, errors.New("input is larger than 1 MiB: that is not an attested document")
	}
	return data, nil
}
