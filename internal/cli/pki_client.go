package cli

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tegata-project/tegata/internal/mapaudit"
	"github.com/tegata-project/tegata/internal/mapaudit/ldapdir"
	"github.com/tegata-project/tegata/internal/pki"
	"github.com/tegata-project/tegata/mapping"
)

// issueClientFlags are the flags of `tegata pki issue-client`.
type issueClientFlags struct {
	sid, upn, dns          string
	sanURL, smartCard      bool
	key                    string
	days                   int
	crlURL                 string
	outCert, outKey, outCA string

	ldapURL, account, bindDN, passwordFile, ntlmDomain, ldapCAFile, baseDN string
	startTLS                                                               bool
}

// maxClientBindPassword bounds --password-file.
const maxClientBindPassword = 4096

func newPKIIssueClientCmd(g *globals) *cobra.Command {
	var f issueClientFlags
	cmd := &cobra.Command{
		Use:   "issue-client",
		Short: "Issue a client-authentication certificate that maps strongly to an AD account (KB5014754)",
		Long: `Issue a user or computer logon certificate from tegata's client CA (a Sub CA under the
PKI's root, created on first use, its key encrypted in the store like the other CA keys).
The certificate carries the account's SID in the SID security extension
(1.3.6.1.4.1.311.25.2), which domain controllers treat as a strong mapping, and the UPN
(users) or DNS name (computers) in the subject alternative name.

With --ldap and --account the SID, UPN and dNSHostName are read from Active Directory:
prefer this, as a SID copied by hand maps the certificate to whichever account has it.

Domain controllers accept the certificates once the root is trusted
(certutil -dspublish -f root.cer RootCA) and the client CA is in NTAuth
(certutil -dspublish -f client-ca.cer NTAuthCA); --out-ca writes both. The KDC checks
revocation: give DCs a CRL they can fetch (--crl-url).`,
		Example: `  tegata pki issue-client --ldap ldaps://dc1.corp.example --bind-dn svc-tegata@corp.example \
      --password-file pw.txt --ldap-ca-file corp-ca.pem --account alice \
      --out-cert alice.pem --out-key alice.key --out-ca chain.pem
  tegata pki issue-client --sid S-1-5-21-1004336348-1177238915-682003330-1106 \
      --upn alice@corp.example --san-url --smartcard --out-cert alice.pem --out-key alice.key
  tegata pki issue-client --sid S-1-5-21-1004336348-1177238915-682003330-1107 \
      --dns ws1.corp.example --key rsa-2048 --out-cert ws1.pem --out-key ws1.key --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runIssueClient(cmd, g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.sid, "sid", "", "the account's objectSid (S-1-5-21-...); with --upn or --dns, instead of --ldap")
	fl.StringVar(&f.upn, "upn", "", "user certificate: the account's userPrincipalName")
	fl.StringVar(&f.dns, "dns", "", "computer certificate: the account's dNSHostName")
	fl.BoolVar(&f.sanURL, "san-url", false, "also put the SID in a SAN URL (tag:microsoft.com,2022-09-14:sid:...)")
	fl.BoolVar(&f.smartCard, "smartcard", false, "add the Smart Card Logon EKU (1.3.6.1.4.1.311.20.2.2) for Windows logon")
	fl.StringVar(&f.key, "key", pki.KeyECDSAP256, "key algorithm: ecdsa-p256 or rsa-2048")
	fl.IntVar(&f.days, "days", 365, "validity in days (at most 1825, and never past the client CA)")
	fl.StringVar(&f.crlURL, "crl-url", "", "CRL distribution point to write into the certificate (http://...)")
	fl.StringVar(&f.outCert, "out-cert", "", "write the certificate (PEM) here (required)")
	fl.StringVar(&f.outKey, "out-key", "", "write the private key (PKCS#8 PEM, mode 0600) here; the file must not exist (required)")
	fl.StringVar(&f.outCA, "out-ca", "", "write the client CA and the root (PEM) here")
	fl.StringVar(&f.ldapURL, "ldap", "", "look the account up in this directory: ldaps://dc[:636], or ldap://dc with --start-tls")
	fl.StringVar(&f.account, "account", "", "with --ldap: the sAMAccountName, userPrincipalName, DNS host name or SID to look up")
	fl.StringVar(&f.bindDN, "bind-dn", "", "with --ldap: bind as this DN or user@domain (the user name with --ntlm-domain)")
	fl.StringVar(&f.passwordFile, "password-file", "", "with --ldap: file holding the bind password")
	fl.StringVar(&f.ntlmDomain, "ntlm-domain", "", "with --ldap: bind with NTLM (SASL GSS-SPNEGO, TLS channel binding) as DOMAIN\\user instead of a simple bind")
	fl.StringVar(&f.ldapCAFile, "ldap-ca-file", "", "with --ldap: PEM CA certificates that verify the DC (default: system roots)")
	fl.BoolVar(&f.startTLS, "start-tls", false, "with --ldap: upgrade an ldap:// connection with StartTLS")
	fl.StringVar(&f.baseDN, "base-dn", "", "with --ldap: search base (default: the domain's naming context)")
	addOutputFlag(cmd, g)
	return cmd
}

// issueClientResult is what the command reports (the JSON output).
type issueClientResult struct {
	Subject   string    `json:"subject"`
	Serial    string    `json:"serial"`
	SID       string    `json:"sid"`
	UPN       string    `json:"upn,omitempty"`
	DNSName   string    `json:"dns_name,omitempty"`
	AccountDN string    `json:"account_dn,omitempty"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	SHA256    string    `json:"sha256"`
	Issuer    string    `json:"issuer"`
	// StrongMappings are altSecurityIdentities values for the certificate,
	// for DCs older than the SID extension (reference 7.3).
	StrongMappings []string `json:"strong_mappings"`
	CertFile       string   `json:"cert_file"`
	KeyFile        string   `json:"key_file"`
	CAFile         string   `json:"ca_file,omitempty"`
}

func runIssueClient(cmd *cobra.Command, g *globals, f issueClientFlags) error {
	usage := func(format string, args ...any) error {
		return &exitError{code: 2, err: fmt.Errorf(format, args...)}
	}
	if f.outCert == "" || f.outKey == "" {
		return usage("--out-cert and --out-key are required")
	}
	if f.days < 1 || f.days > int(pki.MaxClientValidity/(24*time.Hour)) {
		return usage("--days %d is outside 1..%d", f.days, int(pki.MaxClientValidity/(24*time.Hour)))
	}
	if _, err := os.Lstat(f.outKey); err == nil {
		return usage("--out-key %s exists; remove it or choose another file (a key is never overwritten)", f.outKey)
	}
	req := pki.ClientRequest{SANURL: f.sanURL, SmartCardLogon: f.smartCard, KeyAlgorithm: f.key,
		Validity: time.Duration(f.days) * 24 * time.Hour, CRLURL: f.crlURL}
	var accountDN string
	if f.ldapURL != "" {
		if f.sid != "" || f.upn != "" || f.dns != "" {
			return usage("--ldap reads the SID, UPN and DNS name from the directory; drop --sid, --upn and --dns")
		}
		if f.account == "" {
			return usage("--ldap needs --account (a sAMAccountName, UPN, DNS host name or SID)")
		}
		acct, err := lookupClientAccount(cmd.Context(), f)
		if err != nil {
			return err
		}
		accountDN, req.SID = acct.DN, acct.ObjectSID
		switch acct.Class {
		case mapping.ClassComputer, mapping.ClassDomainController:
			if req.DNSName = acct.DNSHostName; req.DNSName == "" {
				return fmt.Errorf("computer %s has no dNSHostName; set it (the certificate's SAN needs it) and run again", acct.DN)
			}
		case mapping.ClassUser:
			if req.UPN = acct.UserPrincipalName; req.UPN == "" {
				return fmt.Errorf("user %s has no userPrincipalName; set one (implicit mapping needs it) and run again", acct.DN)
			}
		default:
			return fmt.Errorf("%s is a %v account; client certificates are for users and computers", acct.DN, acct.Class)
		}
		if acct.Disabled {
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s is disabled; the certificate will not log on until it is enabled\n", acct.DN)
		}
	} else {
		if f.account != "" || f.bindDN != "" || f.passwordFile != "" {
			return usage("--account and the bind flags need --ldap")
		}
		if f.sid == "" || (f.upn == "") == (f.dns == "") {
			return usage("give --ldap and --account, or --sid with either --upn (user) or --dns (computer)")
		}
		sid, err := mapping.ParseSID(f.sid)
		if err != nil {
			return usage("--sid %q: %v", f.sid, err)
		}
		req.SID, req.UPN, req.DNSName = sid, f.upn, f.dns
	}
	auth, closeStore, err := openClientPKI(cmd.Context(), g)
	if err != nil {
		return err
	}
	defer closeStore()
	cc, err := auth.IssueClient(req, time.Now())
	if err != nil {
		if errors.Is(err, pki.ErrInvalidClientRequest) {
			return &exitError{code: 2, err: err}
		}
		return err
	}
	res, err := writeClientFiles(cc, f)
	if err != nil {
		return err
	}
	res.AccountDN = accountDN
	if g.output == "json" {
		return printJSON(cmd.OutOrStdout(), res)
	}
	printIssueClient(cmd.OutOrStdout(), res)
	return nil
}

// lookupClientAccount reads the account from the directory with ldapdir.
func lookupClientAccount(ctx context.Context, f issueClientFlags) (*mapaudit.DirectoryAccount, error) {
	cfg := ldapdir.Config{URL: f.ldapURL, BindDN: f.bindDN, NTLMDomain: f.ntlmDomain, CAFile: f.ldapCAFile,
		StartTLS: f.startTLS, BaseDN: f.baseDN}
	if f.passwordFile != "" {
		pw, err := readClientBindPassword(f.passwordFile)
		if err != nil {
			return nil, err
		}
		cfg.Password = pw
	}
	acct, err := ldapdir.LookupAccount(ctx, cfg, f.account)
	if errors.Is(err, ldapdir.ErrConfig) || errors.Is(err, ldapdir.ErrInsecureTransport) {
		return nil, &exitError{code: 2, err: fmt.Errorf("looking up %q: %w", f.account, err)}
	}
	if err != nil {
		return nil, fmt.Errorf("looking up %q: %w", f.account, err)
	}
	return acct, nil
}

// readClientBindPassword reads a password, dropping one trailing line break.
func readClientBindPassword(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("--password-file: %w", err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxClientBindPassword+1))
	if err != nil {
		return "", fmt.Errorf("--password-file %s: %w", path, err)
	}
	if len(b) > maxClientBindPassword {
		return "", fmt.Errorf("--password-file %s is larger than %d bytes; it should hold the password alone", path, maxClientBindPassword)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if pw == "" {
		return "", fmt.Errorf("--password-file %s is empty", path)
	}
	return pw, nil
}

// openClientPKI opens the PKI in the configured store, creating it on first
// use, as the service does.
func openClientPKI(ctx context.Context, g *globals) (*pki.Authority, func(), error) {
	cfg, err := loadConfig(g, nil)
	if err != nil {
		return nil, nil, err
	}
	master, created, err := pki.LoadMasterKey(cfg.PKI.MasterKeyFile, cfg.DataDir, os.Getenv)
	if err != nil {
		return nil, nil, fmt.Errorf("pki master key: %w", err)
	}
	if created {
		fmt.Fprintf(os.Stderr, "generated a master key for the private keys at rest in %s/%s (key id %s); keep it safe\n", cfg.DataDir, pki.MasterKeyFile, master.ID())
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	plan := cfg.PKI.Plan
	if plan.AIABaseURL == "" {
		plan.AIABaseURL = "http://" + cfg.IMDS.AdminListen + "/pki"
	}
	auth, err := pki.OpenStorage(pkiRecords(cfg, st), master, plan, time.Now)
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("pki: %w", err)
	}
	return auth, func() { st.Close() }, nil
}

// writeClientFiles writes the key (0600, never over an existing file),
// the certificate and, when asked, the client CA and root.
func writeClientFiles(cc *pki.ClientCertificate, f issueClientFlags) (*issueClientResult, error) {
	keyDER, err := x509.MarshalPKCS8PrivateKey(cc.Key)
	if err != nil {
		return nil, err
	}
	kf, err := os.OpenFile(f.outKey, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--out-key: %w", err)
	}
	err = pem.Encode(kf, &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	clear(keyDER)
	if cerr := kf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("writing --out-key %s: %w", f.outKey, err)
	}
	leaf := cc.Certificate
	if err := os.WriteFile(f.outCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}), 0o644); err != nil {
		return nil, fmt.Errorf("writing --out-cert: %w", err)
	}
	if f.outCA != "" {
		var b []byte
		for _, c := range cc.Chain {
			b = append(b, fmt.Sprintf("# %s\n", c.Subject.CommonName)...)
			b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
		if err := os.WriteFile(f.outCA, b, 0o644); err != nil {
			return nil, fmt.Errorf("writing --out-ca: %w", err)
		}
	}
	mc, err := mapping.ParseCertificate(leaf.Raw)
	if err != nil {
		return nil, fmt.Errorf("reading back the issued certificate: %w", err)
	}
	sum := sha256.Sum256(leaf.Raw)
	res := &issueClientResult{
		Subject: leaf.Subject.CommonName, Serial: strings.ToUpper(hex.EncodeToString(mc.RawSerial)),
		SID: mc.SIDExtension.Text, NotBefore: leaf.NotBefore.UTC(), NotAfter: leaf.NotAfter.UTC(),
		SHA256: hex.EncodeToString(sum[:]), Issuer: mc.Issuer, StrongMappings: mapping.StrongMappings(mc),
		CertFile: f.outCert, KeyFile: f.outKey, CAFile: f.outCA,
	}
	if len(mc.UPNs) > 0 {
		res.UPN = mc.UPNs[0]
	}
	if len(mc.DNSNames) > 0 {
		res.DNSName = mc.DNSNames[0]
	}
	return res, nil
}

func printIssueClient(w io.Writer, r *issueClientResult) {
	who := r.UPN
	if who == "" {
		who = r.DNSName
	}
	fmt.Fprintf(w, "issued %s for %s, SID %s\n", r.CertFile, who, r.SID)
	if r.AccountDN != "" {
		fmt.Fprintf(w, "  account:   %s\n", r.AccountDN)
	}
	fmt.Fprintf(w, "  issuer:    %s\n  serial:    %s\n  valid:     %s to %s\n  key:       %s\n",
		r.Issuer, r.Serial, r.NotBefore.Format(time.RFC3339), r.NotAfter.Format(time.RFC3339), r.KeyFile)
	if r.CAFile != "" {
		fmt.Fprintf(w, "  CA chain:  %s (publish the client CA in NTAuth, the root in RootCA)\n", r.CAFile)
	}
	for _, m := range r.StrongMappings {
		fmt.Fprintf(w, "  optional altSecurityIdentities for DCs without SID support: %s\n", m)
	}
}
