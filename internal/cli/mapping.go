package cli

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tegata-project/tegata/internal/gctune"
	"github.com/tegata-project/tegata/internal/mapaudit"
	"github.com/tegata-project/tegata/internal/mapaudit/ldapdir"
	"github.com/tegata-project/tegata/mapping"
)

func newMappingCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mapping",
		Short: "Strong certificate mapping (KB5014754): audit, explain and fix",
		Long: `Domain controllers now deny certificate logon (smart cards, Wi-Fi and VPN through NPS,
IIS client certificates) unless the certificate is strongly mapped to its account: the
account's SID in the certificate, or an explicit altSecurityIdentities value of type
issuer+serial number or SKI. These commands predict, for every certificate and account,
what each of your DCs does, say why, and write the values that fix weak pairs.

Inputs are files (certificates, a CA database export, an LDIF export of AD, the DCs'
registry) or a live directory over LDAPS. Nothing is written to AD unless you run
` + "`tegata mapping fix --apply`" + `. See docs/mapping.md.`,
	}
	cmd.AddCommand(newMappingAuditCmd(), newMappingAltSecIDCmd(), newMappingExplainCmd(), newMappingFixCmd())
	return cmd
}

func newMappingAuditCmd() *cobra.Command {
	var src mappingSources
	var output, failOn string
	var all bool
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Predict each DC's verdict for every certificate/account pair",
		Long: `Pair every certificate with the accounts a DC could map it to (its SID, an
altSecurityIdentities value, its UPN or DNS name, the userCertificate that publishes it),
then predict each DC's verdict today, in Compatibility mode, and, for DCs whose patch
level is not declared, at each update date of the KB5014754 timeline. The worst DC wins.
Every stored altSecurityIdentities value is classified (exact, normalised-only = broken,
other-certificate = stale...).

DCs come from the directory (OS from operatingSystemVersion), --dcs and --reg. A DC
without a declared lastUpdate is assumed patched up to --as-of; with no DC at all the
audit assumes one fully patched DC.

The table lists the pairs that are not cleanly allowed and the unmapped certificates
(--all: every pair), then problems and a summary per DC. Unreadable inputs are listed
as problems; the rest of the audit goes on.

Exit status: 0 nothing over --fail-on; 1 findings over --fail-on (denied: a pair denied
today on some DC; weak: also allowed only with an event or only in Compatibility mode;
never); 2 usage or configuration error. Unmapped certificates never fail the audit.`,
		Example: `  # Files: certificates, an ldifde export, the DCs declared in YAML
  tegata mapping audit --certs ./certs --ldif corp.ldf --dcs dcs.yaml

  # A CA database export against the live directory, in CI
  certutil -view -restrict "Disposition=20" -out "RequestID,RequesterName,SerialNumber,CertificateTemplate,RawCertificate" csv > issued.csv
  tegata mapping audit --ca-export issued.csv --ldap ldaps://dc1.corp.example \
      --bind-dn svc-audit@corp.example --password-file pw.txt --fail-on weak

  # What would DC1 do with its registry as exported, on 1 March 2025?
  tegata mapping audit --certs user.pem --ldif corp.ldf --reg dc1=dc1-kdc.reg --as-of 2025-03-01

  # Everything as JSON, or one CSV row per pair
  tegata mapping audit --certs ./certs --ldif corp.ldf --output json > audit.json
  tegata mapping audit --certs ./certs --ldif corp.ldf --output csv > audit.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			threshold, err := mapaudit.ParseFailOn(failOn)
			if err != nil {
				return usageErr("%v", err)
			}
			rep, err := newAuditReport(cmd.OutOrStdout(), output, all)
			if err != nil {
				return err
			}
			defer gctune.Start(gctune.BatchHeadroom, 50*time.Millisecond)()
			l, err := src.load(cmd, true)
			if err != nil {
				return err
			}
			rep.begin(l)
			a, err := src.audit(cmd, l, rep.finding)
			if err != nil {
				return err
			}
			if err := rep.end(l, a.Summary(), cmd.ErrOrStderr()); err != nil {
				return err
			}
			if a.Summary().Exceeds(threshold) {
				return &exitError{code: 1, err: fmt.Errorf("%w (%s): %d denied, %d allowed with an event", errFindings, threshold,
					a.Summary().ByOutcome[mapaudit.OutcomeDenied], a.Summary().ByOutcome[mapaudit.OutcomeLogged])}
			}
			return nil
		},
	}
	src.addCertificateFlags(cmd)
	src.addDirectoryFlags(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or csv")
	cmd.Flags().StringVar(&failOn, "fail-on", "denied", "exit 1 when findings reach: denied, weak or never")
	cmd.Flags().BoolVar(&all, "all", false, "table: list every pair, including those allowed without an event")
	return cmd
}

func newMappingAltSecIDCmd() *cobra.Command {
	var output, pfxEnv string
	cmd := &cobra.Command{
		Use:   "altsecid CERT...",
		Short: "Print a certificate's altSecurityIdentities values exactly as the KDC compares them",
		Long: `For each certificate, print every altSecurityIdentities value a DC would accept for it,
strong ones first: issuer in encoding order with CryptoAPI key names and quoting, the
serial's bytes reversed. "emit" marks the values tegata writes as fixes
(X509IssuerSerialNumber, and X509SKI when the certificate has the extension); weak types
and SHA1-PUKEY (whose hashed input is unconfirmed) are listed for recognition only.`,
		Example: `  tegata mapping altsecid alice.pem
  tegata mapping altsecid bundle.p7b --output json
  tegata mapping altsecid alice.pfx --pfx-password-env PFX_PASSWORD`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "text" && output != "json" {
				return usageErr("--output %q: use text or json", output)
			}
			opts := mapaudit.CertFileOptions{}
			if pfxEnv != "" {
				opts.PFXPassword = os.Getenv(pfxEnv)
			}
			certs, probs := mapaudit.ReadCertificateFiles(args, opts)
			for _, p := range probs {
				fmt.Fprintln(cmd.ErrOrStderr(), "tegata: problem:", p.Error())
			}
			if len(certs) == 0 {
				return usageErr("no certificate could be read from %s", strings.Join(args, ", "))
			}
			return writeAltSecIDs(cmd.OutOrStdout(), certs, output == "json")
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.Flags().StringVar(&pfxEnv, "pfx-password-env", "", "environment variable holding the PFX password")
	return cmd
}

func newMappingExplainCmd() *cobra.Command {
	var src mappingSources
	var output, account, sid, upn, sam, dns, created, class string
	var altsec []string
	cmd := &cobra.Command{
		Use:   "explain CERT --account NAME",
		Short: "Explain step by step what each DC decides for one certificate and one account",
		Long: `Run the KDC's decision procedure for the certificate in CERT (the first one of the file)
and one account on each DC, and print every step: the patch level and mode, the mapping
found, the NTAuth and SID checks, the date check, the event and the Kerberos error.

The account is NAME in the --ldif or --ldap sources (matched against sAMAccountName,
userPrincipalName, distinguishedName or SID), or described with --sid, --upn,
--sam-account-name, --dns-host-name, --created, --class and --altsecid.`,
		Example: `  tegata mapping explain alice.pem --account alice --ldif corp.ldf --dcs dcs.yaml
  tegata mapping explain ws1.pem --account 'WS1$' --ldap ldaps://dc1.corp.example --bind-dn svc@corp.example --password-file pw.txt
  tegata mapping explain alice.pem --sid S-1-5-21-3623811015-3361044348-30300820-1013 \
      --upn alice@contoso.com --created 2024-01-15T09:30:12Z --as-of 2025-03-01`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			certs, probs := mapaudit.ReadCertificateFiles(args[:1], mapaudit.CertFileOptions{PFXPassword: os.Getenv(src.pfxPasswordEnv)})
			if len(certs) == 0 {
				return usageErr("%s: no certificate: %v", args[0], probs)
			}
			l, err := src.load(cmd, false)
			if err != nil {
				return err
			}
			var acct *mapaudit.DirectoryAccount
			switch {
			case account != "" && src.ldap.url != "":
				cfg, err := src.ldapConfig()
				if err != nil {
					return err
				}
				if acct, err = ldapdir.LookupAccount(cmd.Context(), cfg, account); err != nil {
					return usageErr("--account %s: %v", account, err)
				}
			case account != "":
				if acct = findAccount(l.dir, account); acct == nil {
					return usageErr("--account %q: no account with that sAMAccountName, UPN, DN or SID in the --ldif sources", account)
				}
			case sid != "":
				acct, err = describedAccount(sid, upn, sam, dns, created, class, altsec)
				if err != nil {
					return err
				}
			default:
				return usageErr("give --account NAME with --ldif or --ldap, or describe the account with --sid (and --upn, --created...)")
			}
			a := mapaudit.NewAuditor(l.dir, mapaudit.Options{AsOf: l.asOf, DCs: l.dcs})
			verdicts := a.Explain(certs[0].Cert, &acct.Account)
			return writeExplain(cmd.OutOrStdout(), output == "json", &certs[0], acct, l.dcs, verdicts)
		},
	}
	src.addDirectoryFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&src.pfxPasswordEnv, "pfx-password-env", "", "environment variable holding the PFX password")
	f.StringVar(&account, "account", "", "the account: sAMAccountName, UPN, DN or SID")
	f.StringVar(&sid, "sid", "", "describe the account: its objectSid (S-1-5-21-...)")
	f.StringVar(&upn, "upn", "", "describe the account: its userPrincipalName")
	f.StringVar(&sam, "sam-account-name", "", "describe the account: its sAMAccountName")
	f.StringVar(&dns, "dns-host-name", "", "describe the account: its dNSHostName (computers)")
	f.StringVar(&created, "created", "", "describe the account: whenCreated, RFC 3339 or YYYYMMDDHHMMSS.0Z")
	f.StringVar(&class, "class", "user", "describe the account: user, computer or dc")
	f.StringArrayVar(&altsec, "altsecid", nil, "describe the account: an altSecurityIdentities value; repeatable")
	f.StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// findAccount finds name among the directory's accounts.
func findAccount(d *mapaudit.Directory, name string) *mapaudit.DirectoryAccount {
	for i := range d.Accounts {
		a := &d.Accounts[i]
		if strings.EqualFold(a.SAMAccountName, name) || strings.EqualFold(a.UserPrincipalName, name) ||
			strings.EqualFold(a.DN, name) || strings.EqualFold(a.ObjectSID.String(), name) {
			return a
		}
	}
	return nil
}

func describedAccount(sid, upn, sam, dns, created, class string, altsec []string) (*mapaudit.DirectoryAccount, error) {
	s, err := mapping.ParseSID(sid)
	if err != nil {
		return nil, usageErr("--sid: %v", err)
	}
	a := &mapaudit.DirectoryAccount{DN: "(described by flags)", Origin: "flags"}
	a.ObjectSID, a.UserPrincipalName, a.SAMAccountName, a.DNSHostName, a.AltSecurityIdentities = s, upn, sam, dns, altsec
	switch strings.ToLower(class) {
	case "user":
		a.Class = mapping.ClassUser
	case "computer":
		a.Class = mapping.ClassComputer
	case "dc", "domain-controller":
		a.Class = mapping.ClassDomainController
	default:
		return nil, usageErr("--class %q: use user, computer or dc", class)
	}
	if created != "" {
		t, err := time.Parse(time.RFC3339, created)
		if err != nil {
			if t, err = mapping.ParseGeneralizedTime(created); err != nil {
				return nil, usageErr("--created %q: give RFC 3339 (2024-01-15T09:30:12Z) or 20240115093012.0Z", created)
			}
		}
		a.WhenCreated = t.UTC()
	}
	return a, nil
}

func newMappingFixCmd() *cobra.Command {
	var src mappingSources
	var format, output string
	var apply bool
	cmd := &cobra.Command{
		Use:   "fix",
		Short: "Write the altSecurityIdentities values that fix weak pairs (dry run by default)",
		Long: `Audit as ` + "`tegata mapping audit`" + ` does, then print the explicit strong mappings
(X509IssuerSerialNumber, and X509SKI when the certificate has the extension) for the pairs
that are weak or unmapped today, as LDIF for ldifde -i / ldapmodify, or as PowerShell for
the ActiveDirectory module. Comments show each account's existing values and why a value
is added. Values already present (compared ignoring case) are left out, so the output can
be applied twice. Pairs whose certificate carries a wrong or malformed SID, or whose issuer
is not in NTAuth, get advice in the audit instead: no mapping can fix them.

With --apply and --ldap, the values are added over LDAP (never removed or replaced), and
each result is printed. The identity needs write access to altSecurityIdentities.`,
		Example: `  # Review, then apply with ldifde or ldapmodify
  tegata mapping fix --certs ./certs --ldif corp.ldf > fix.ldf
  ldifde -i -f fix.ldf

  # PowerShell for the ActiveDirectory module
  tegata mapping fix --ca-export issued.csv --ldif corp.ldf --format powershell > fix.ps1

  # Write directly
  tegata mapping fix --ca-export issued.csv --ldap ldaps://dc1.corp.example \
      --bind-dn svc-mapping@corp.example --password-file pw.txt --apply`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "ldif" && format != "powershell" {
				return usageErr("--format %q: use ldif or powershell", format)
			}
			if apply && src.ldap.url == "" {
				return usageErr("--apply writes over LDAP: give --ldap (and --bind-dn, --password-file)")
			}
			defer gctune.Start(gctune.BatchHeadroom, 50*time.Millisecond)()
			l, err := src.load(cmd, true)
			if err != nil {
				return err
			}
			var fixes []mapaudit.Fix
			if _, err := src.audit(cmd, l, func(f *mapaudit.Finding) { fixes = append(fixes, f.Fixes...) }); err != nil {
				return err
			}
			for _, p := range l.problems {
				fmt.Fprintln(cmd.ErrOrStderr(), "tegata: problem:", p.Error())
			}
			plan := mapaudit.PlanFixes(fixes, l.dir.ExistingValues())
			values := 0
			for _, af := range plan {
				values += len(af.Add)
			}
			if !apply {
				fmt.Fprintf(cmd.ErrOrStderr(), "tegata: %d values for %d accounts; dry run, nothing written (--apply with --ldap writes)\n", values, len(plan))
				if format == "powershell" {
					return mapaudit.WritePowerShell(cmd.OutOrStdout(), plan, true)
				}
				return mapaudit.WriteLDIF(cmd.OutOrStdout(), plan, true)
			}
			cfg, err := src.ldapConfig()
			if err != nil {
				return err
			}
			var flat []mapaudit.Fix
			for _, af := range plan {
				flat = append(flat, af.Add...)
			}
			if len(flat) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "tegata: nothing to add: every fixable pair already has its value")
				return writeFixResults(cmd.OutOrStdout(), output == "json", []mapaudit.FixResult{})
			}
			results, err := ldapdir.Apply(cmd.Context(), cfg, flat)
			if err != nil {
				return fmt.Errorf("--apply: %w", err)
			}
			added := 0
			for _, r := range results {
				if r.Status == mapaudit.FixAdded {
					added++
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "tegata: %d of %d values added\n", added, len(results))
			return writeFixResults(cmd.OutOrStdout(), output == "json", results)
		},
	}
	src.addCertificateFlags(cmd)
	src.addDirectoryFlags(cmd)
	cmd.Flags().StringVar(&format, "format", "ldif", "dry-run output: ldif or powershell")
	cmd.Flags().BoolVar(&apply, "apply", false, "add the values over LDAP (requires --ldap); never removes a value")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "--apply results: text or json")
	return cmd
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
