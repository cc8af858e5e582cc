package certkit

import (
	"encoding/asn1"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Validate reports whether tegata accepts p, which should have gone through
// WithDefaults first (Validate does not fill anything in). It returns nil or
// a *PolicyError naming the first field at fault, in this order:
//
//   - key_props: kty RSA, RSA-HSM, EC or EC-HSM; for RSA key_size 2048, 3072
//     or 4096 and no crv; for EC crv P-256, P-384 or P-521 (P-256K is
//     refused: Go has no secp256k1) and key_size absent or the curve's
//     size; exportable true (tegata v1 refuses non-exportable keys, Q9);
//   - secret_props.contentType: application/x-pkcs12 or application/x-pem-file;
//   - x509_props: a subject ParseSubject accepts, or at least one SAN when
//     the subject is empty; at most 256 SANs, each well formed (DNS names,
//     emails and URIs in ASCII, URIs absolute, IP addresses parseable);
//     EKUs as dotted OIDs; key_usage names from RFC 5280; validity_months
//     1–1200;
//   - lifetime_actions: each trigger with exactly one of lifetime_percentage
//     (1–99) and days_before_expiry (1 to validity_months×27), and
//     action_type AutoRenew or EmailContacts;
//   - issuer: a name is required; names other than Self and Unknown
//     (compared case-insensitively) give a *PolicyError wrapping
//     ErrUnsupportedIssuer. This check runs last, so that error means every
//     other field passed.
func (p Policy) Validate() error {
	if err := validateKeyProps(p.KeyProps); err != nil {
		return err
	}
	if p.SecretProps == nil {
		return policyErr("secret_props.contentType", "missing; use %q or %q", ContentTypePKCS12, ContentTypePEM)
	}
	if ct := p.SecretProps.ContentType; ct != ContentTypePKCS12 && ct != ContentTypePEM {
		return policyErr("secret_props.contentType", "%q is not supported; use %q or %q", truncate(ct), ContentTypePKCS12, ContentTypePEM)
	}
	if err := validateX509Props(p.X509Props); err != nil {
		return err
	}
	for i, a := range p.LifetimeActions {
		if err := validateLifetimeAction(i, a, p.X509Props.ValidityMonths); err != nil {
			return err
		}
	}
	if err := validateIssuer(p.Issuer); err != nil {
		return err
	}
	return nil
}

func validateKeyProps(kp *KeyProps) *PolicyError {
	if kp == nil {
		return policyErr("key_props", "missing")
	}
	switch {
	case isRSA(kp.KeyType):
		if kp.KeySize != 2048 && kp.KeySize != 3072 && kp.KeySize != 4096 {
			return policyErr("key_props.key_size", "%d is not supported for %s; use 2048, 3072 or 4096", kp.KeySize, kp.KeyType)
		}
		if kp.Curve != "" {
			return policyErr("key_props.crv", "applies to EC keys only; remove it or set kty to EC")
		}
	case isEC(kp.KeyType):
		switch kp.Curve {
		case CurveP256, CurveP384, CurveP521:
		case CurveP256K:
			return &PolicyError{Field: "key_props.crv", Reason: "P-256K (secp256k1) is not supported by tegata; use P-256, P-384 or P-521", Err: ErrUnsupportedKey}
		default:
			return policyErr("key_props.crv", "%q is not supported; use P-256, P-384 or P-521", truncate(kp.Curve))
		}
		if kp.KeySize != 0 && kp.KeySize != curveBits(kp.Curve) {
			return policyErr("key_props.key_size", "%d does not match crv %s (%d); omit key_size for EC keys", kp.KeySize, kp.Curve, curveBits(kp.Curve))
		}
	default:
		return policyErr("key_props.kty", "%q is not supported; use RSA, RSA-HSM, EC or EC-HSM", truncate(kp.KeyType))
	}
	if kp.Exportable != nil && !*kp.Exportable {
		return policyErr("key_props.exportable", "false is not supported by tegata yet: keys must be exportable (the certificate's secret holds the private key); set exportable to true")
	}
	return nil
}

func validateX509Props(x *X509Props) *PolicyError {
	if x == nil {
		return policyErr("x509_props", "missing; set a subject or SANs")
	}
	if _, err := parseSubject(x.Subject); err != nil {
		return &PolicyError{Field: "x509_props.subject", Reason: err.Error(), Err: ErrBadSubject}
	}
	if err := validateSANs(x.SANs); err != nil {
		return err
	}
	if strings.TrimSpace(x.Subject) == "" && sanCount(x.SANs) == 0 {
		return policyErr("x509_props.subject", "empty, and there are no SANs; set a subject (e.g. \"CN=www.example.com\") or sans")
	}
	for i, e := range x.EKUs {
		if _, err := parseOID(e); err != nil {
			return policyErr(fmt.Sprintf("x509_props.ekus[%d]", i), "%q is not a dotted OID such as %q (serverAuth)", truncate(e), EKUServerAuth)
		}
	}
	for i, u := range x.KeyUsage {
		if keyUsageBit(u) < 0 {
			return policyErr(fmt.Sprintf("x509_props.key_usage[%d]", i), "%q is not a key usage; use one of %s", truncate(u), strings.Join(keyUsageNames, ", "))
		}
	}
	if x.ValidityMonths < 1 || x.ValidityMonths > 1200 {
		return policyErr("x509_props.validity_months", "%d is outside 1–1200", x.ValidityMonths)
	}
	return nil
}

// validateSANs checks each SAN for what its encoding needs.
func validateSANs(s *SANs) *PolicyError {
	if s == nil {
		return nil
	}
	if n := sanCount(s); n > maxSANs {
		return policyErr("x509_props.sans", "%d names; at most %d are allowed", n, maxSANs)
	}
	for i, v := range s.DNSNames {
		if v == "" || len(v) > 253 || !isASCIIPrintable(v) || strings.ContainsAny(v, " /@") {
			return policyErr(fmt.Sprintf("x509_props.sans.dns_names[%d]", i), "%q is not a DNS name (ASCII, no spaces, at most 253 characters; use punycode for IDNs)", truncate(v))
		}
	}
	for i, v := range s.Emails {
		if !isASCIIPrintable(v) || strings.Count(v, "@") != 1 || strings.HasPrefix(v, "@") || strings.HasSuffix(v, "@") {
			return policyErr(fmt.Sprintf("x509_props.sans.emails[%d]", i), "%q is not an email address (ASCII, user@domain)", truncate(v))
		}
	}
	for i, v := range s.UPNs {
		if v == "" || !utf8.ValidString(v) {
			return policyErr(fmt.Sprintf("x509_props.sans.upns[%d]", i), "%q is not a user principal name (e.g. user@example.com)", truncate(v))
		}
	}
	for i, v := range s.IPAddresses {
		if a, err := netip.ParseAddr(v); err != nil || a.Zone() != "" {
			return policyErr(fmt.Sprintf("x509_props.sans.ipAddresses[%d]", i), "%q is not an IPv4 or IPv6 address", truncate(v))
		}
	}
	for i, v := range s.URIs {
		if u, err := url.Parse(v); err != nil || !u.IsAbs() || !isASCIIPrintable(v) {
			return policyErr(fmt.Sprintf("x509_props.sans.uris[%d]", i), "%q is not an absolute URI in ASCII (e.g. spiffe://example.org/web)", truncate(v))
		}
	}
	return nil
}

func validateLifetimeAction(i int, a LifetimeAction, validityMonths int) *PolicyError {
	field := fmt.Sprintf("lifetime_actions[%d]", i)
	t := a.Trigger
	switch {
	case t.LifetimePercentage != nil && t.DaysBeforeExpiry != nil:
		return policyErr(field+".trigger", "has both lifetime_percentage and days_before_expiry; set exactly one")
	case t.LifetimePercentage != nil:
		if v := *t.LifetimePercentage; v < 1 || v > 99 {
			return policyErr(field+".trigger.lifetime_percentage", "%d is outside 1–99", v)
		}
	case t.DaysBeforeExpiry != nil:
		if v, limit := *t.DaysBeforeExpiry, validityMonths*27; v < 1 || v > limit {
			return policyErr(field+".trigger.days_before_expiry", "%d is outside 1–%d (validity_months × 27)", v, limit)
		}
	default:
		return policyErr(field+".trigger", "has neither lifetime_percentage nor days_before_expiry; set exactly one")
	}
	if at := a.Action.ActionType; at != ActionAutoRenew && at != ActionEmailContacts {
		return policyErr(field+".action.action_type", "%q is not supported; use %q or %q", truncate(at), ActionAutoRenew, ActionEmailContacts)
	}
	return nil
}

func validateIssuer(iss *IssuerParameters) *PolicyError {
	if iss == nil || iss.Name == "" {
		return policyErr("issuer.name", "missing; use %q (self-signed) or %q (CSR, then merge)", IssuerSelf, IssuerUnknown)
	}
	if !strings.EqualFold(iss.Name, IssuerSelf) && !strings.EqualFold(iss.Name, IssuerUnknown) {
		return &PolicyError{
			Field:  "issuer.name",
			Reason: fmt.Sprintf("%q is not supported; use %q (self-signed) or %q (CSR, then merge)", truncate(iss.Name), IssuerSelf, IssuerUnknown),
			Err:    ErrUnsupportedIssuer,
		}
	}
	return nil
}

func sanCount(s *SANs) int {
	if s == nil {
		return 0
	}
	return len(s.DNSNames) + len(s.Emails) + len(s.UPNs) + len(s.IPAddresses) + len(s.URIs)
}

// parseOID parses a dotted OID with at least two arcs.
func parseOID(s string) (asn1.ObjectIdentifier, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 64 {
		return nil, fmt.Errorf("%q is not a dotted OID", s)
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, p := range parts {
		if p == "" || (len(p) > 1 && p[0] == '0') || strings.TrimLeft(p, "0123456789") != "" {
			return nil, fmt.Errorf("%q is not a dotted OID", s)
		}
		n, err := strconv.Atoi(p)
		if err != nil || n > 1<<31-1 {
			return nil, fmt.Errorf("%q is not a dotted OID", s)
		}
		oid[i] = n
	}
	if oid[0] > 2 || (oid[0] < 2 && oid[1] > 39) {
		return nil, fmt.Errorf("%q is not a dotted OID", s)
	}
	return oid, nil
}

func isASCIIPrintable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// truncate shortens a caller's value for an error message.
func truncate(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
