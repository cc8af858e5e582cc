package cli

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azcertificates"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/spf13/cobra"

	"github.com/tegata-project/tegata/internal/certkit"
)

func newVaultSecretCmd(g *globals) *cobra.Command {
	var f vaultClientFlags
	cmd := &cobra.Command{
		Use:   "secret",
		Short: "Set, get and list secrets (as a Key Vault client)",
		Long: `These commands are a Key Vault client: they call the vault over HTTPS with a bearer
token, which they get from the metadata service as a VM would (--imds), or from a file.`,
	}
	f.register(cmd)
	var value, valueFile, contentType string
	set := &cobra.Command{
		Use:   "set NAME",
		Short: "Set a secret (a new version each time)",
		Example: `  tegata vault secret set db-password --value s3cret
  tegata vault secret set tls-key --file key.pem --content-type application/x-pem-file`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (value == "") == (valueFile == "") {
				return &exitError{code: 2, err: fmt.Errorf("give the value with --value or --file (one of them)")}
			}
			if valueFile != "" {
				b, err := os.ReadFile(valueFile)
				if err != nil {
					return &exitError{code: 2, err: fmt.Errorf("--file: %w", err)}
				}
				value = string(b)
			}
			c, err := f.secrets(g)
			if err != nil {
				return err
			}
			p := azsecrets.SetSecretParameters{Value: &value}
			if contentType != "" {
				p.ContentType = &contentType
			}
			resp, err := c.SetSecret(cmd.Context(), args[0], p, nil)
			if err != nil {
				return vaultError(err)
			}
			if g.output == "json" {
				resp.Value = nil
				return printJSON(cmd.OutOrStdout(), resp.Secret)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "set %s version %s\n", resp.ID.Name(), resp.ID.Version())
			return nil
		},
	}
	set.Flags().StringVar(&value, "value", "", "the secret value (visible in your shell history; prefer --file)")
	set.Flags().StringVar(&valueFile, "file", "", "read the value from this file")
	set.Flags().StringVar(&contentType, "content-type", "", "content type, e.g. text/plain")
	addOutputFlag(set, g)

	var version string
	get := &cobra.Command{
		Use:     "get NAME",
		Short:   "Print a secret's value (latest version unless --version)",
		Example: "  tegata vault secret get db-password\n  tegata vault secret get db-password --output json | jq -r .value",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.secrets(g)
			if err != nil {
				return err
			}
			resp, err := c.GetSecret(cmd.Context(), args[0], version, nil)
			if err != nil {
				return vaultError(err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp.Secret)
			}
			fmt.Fprintln(cmd.OutOrStdout(), *resp.Value)
			return nil
		},
	}
	get.Flags().StringVar(&version, "version", "", "a specific version")
	addOutputFlag(get, g)

	list := &cobra.Command{
		Use:   "list",
		Short: "List secrets (names and attributes, never values)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.secrets(g)
			if err != nil {
				return err
			}
			all, err := allPages(cmd.Context(), c.NewListSecretPropertiesPager(nil), func(p azsecrets.ListSecretPropertiesResponse) []*azsecrets.SecretProperties { return p.Value })
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), all)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tENABLED\tUPDATED\tMANAGED")
			for _, s := range all {
				fmt.Fprintf(tw, "%s\t%v\t%s\t%v\n", s.ID.Name(), deref(s.Attributes.Enabled), fmtTime(s.Attributes.Updated), deref(s.Managed))
			}
			return tw.Flush()
		},
	}
	addOutputFlag(list, g)
	cmd.AddCommand(set, get, list)
	return cmd
}

func newVaultCertCmd(g *globals) *cobra.Command {
	var f vaultClientFlags
	cmd := &cobra.Command{
		Use:   "cert",
		Short: "Import, get, list and download certificates (as a Key Vault client)",
	}
	f.register(cmd)
	var file, password string
	imp := &cobra.Command{
		Use:   "import NAME",
		Short: "Import a PFX or a PEM file (private key and chain) as a new version",
		Example: `  tegata vault cert import www --file www.pfx --password ''
  tegata vault cert import www --file www.pem`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(file)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--file: %w", err)}
			}
			p := azcertificates.ImportCertificateParameters{}
			if strings.Contains(string(data), "-----BEGIN") {
				s, ct := string(data), "application/x-pem-file"
				p.Base64EncodedCertificate = &s
				p.CertificatePolicy = &azcertificates.CertificatePolicy{SecretProperties: &azcertificates.SecretProperties{ContentType: &ct}}
			} else {
				s := base64.StdEncoding.EncodeToString(data)
				p.Base64EncodedCertificate = &s
				p.Password = &password
			}
			c, err := f.certificates(g)
			if err != nil {
				return err
			}
			resp, err := c.ImportCertificate(cmd.Context(), args[0], p, nil)
			if err != nil {
				return vaultError(err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp.Certificate)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "imported %s version %s (x5t %s)\n", resp.ID.Name(), resp.ID.Version(), base64.RawURLEncoding.EncodeToString(resp.X509Thumbprint))
			return nil
		},
	}
	imp.Flags().StringVar(&file, "file", "", "PFX (binary) or PEM file with the private key and the certificates")
	imp.Flags().StringVar(&password, "password", "", "PFX password")
	addOutputFlag(imp, g)

	get := &cobra.Command{
		Use:   "get NAME",
		Short: "Show a certificate (latest version): subject, validity, thumbprint",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.certificates(g)
			if err != nil {
				return err
			}
			resp, err := c.GetCertificate(cmd.Context(), args[0], "", nil)
			if err != nil {
				return vaultError(err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp.Certificate)
			}
			a := resp.Attributes
			fmt.Fprintf(cmd.OutOrStdout(), "name      %s\nversion   %s\nx5t       %s\nnot after %s\nenabled   %v\n",
				resp.ID.Name(), resp.ID.Version(), base64.RawURLEncoding.EncodeToString(resp.X509Thumbprint), fmtTime(a.Expires), deref(a.Enabled))
			return nil
		},
	}
	addOutputFlag(get, g)

	list := &cobra.Command{
		Use:   "list",
		Short: "List certificates",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.certificates(g)
			if err != nil {
				return err
			}
			all, err := allPages(cmd.Context(), c.NewListCertificatePropertiesPager(nil), func(p azcertificates.ListCertificatePropertiesResponse) []*azcertificates.CertificateProperties {
				return p.Value
			})
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), all)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tNOT AFTER\tENABLED")
			for _, c := range all {
				fmt.Fprintf(tw, "%s\t%s\t%v\n", c.ID.Name(), fmtTime(c.Attributes.Expires), deref(c.Attributes.Enabled))
			}
			return tw.Flush()
		},
	}
	addOutputFlag(list, g)

	var out, format string
	download := &cobra.Command{
		Use:   "download NAME",
		Short: "Write a certificate with its private key to a PEM or PFX file (mode 0600)",
		Long: `Download reads the secret behind the certificate (which holds the private key), as the
Key Vault VM extension does, and writes it as PEM (key, leaf, chain) or PFX. It needs a
role with getSecret (Secrets User, Certificate User, or above).`,
		Example: "  tegata vault cert download www --out www.pem\n  tegata vault cert download www --format pfx --out www.pfx",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "pem" && format != "pfx" {
				return &exitError{code: 2, err: fmt.Errorf("--format %q: use pem or pfx", format)}
			}
			if out == "" {
				return &exitError{code: 2, err: fmt.Errorf("--out is required: the file to write")}
			}
			c, err := f.secrets(g)
			if err != nil {
				return err
			}
			resp, err := c.GetSecret(cmd.Context(), args[0], "", nil)
			if err != nil {
				return vaultError(err)
			}
			var data []byte
			ct := deref(resp.ContentType)
			switch {
			case ct == "application/x-pkcs12":
				pfx, err := base64.StdEncoding.DecodeString(*resp.Value)
				if err != nil {
					return fmt.Errorf("the certificate's secret is not base64 PFX: %w", err)
				}
				data = pfx
				if format == "pem" {
					if data, err = certkit.PFXToPEM(pfx); err != nil {
						return err
					}
				}
			case ct == "application/x-pem-file":
				data = []byte(*resp.Value)
				if format == "pfx" {
					mat, err := certkit.ParseImport(data, "", ct, true)
					if err != nil {
						return err
					}
					if data, err = certkit.EncodePFX(mat, false); err != nil {
						return err
					}
				}
			default:
				return fmt.Errorf("%s is not a certificate's secret (content type %q)", args[0], ct)
			}
			if err := os.WriteFile(out, data, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%s, version %s)\n", out, format, resp.ID.Version())
			return nil
		},
	}
	download.Flags().StringVar(&out, "out", "", "file to write (mode 0600)")
	download.Flags().StringVar(&format, "format", "pem", "pem or pfx")
	cmd.AddCommand(imp, get, list, download)
	return cmd
}

// allPages follows a Key Vault listing to its end (the SDK's pager follows
// nextLink) and returns every item, an empty slice rather than nil.
func allPages[P, T any](ctx context.Context, pager *runtime.Pager[P], items func(P) []T) ([]T, error) {
	all := []T{}
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, vaultError(err)
		}
		all = append(all, items(page)...)
	}
	return all, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
