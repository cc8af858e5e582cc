// Package renew is tegata's ACME renewal service: it keeps certificates in a
// Key Vault (tegata's or Azure's) current, issuing them from any RFC 8555 CA with
// the private key generated inside the vault (create, CSR, finalize, merge),
// renewing them when ARI or their lifetime says so, and reporting through
// webhooks. The pieces live in subpackages: acme (the lego wrapper), dnsprov
// (DNS-01 providers), schedule (when to renew) and notify (webhooks).
package renew

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// A Definition is one managed certificate: what to ask the CA for and where it
// lives.
type Definition struct {
	// Name is the certificate's name in the vault (1-127 letters, digits, hyphens).
	Name string `json:"name"`
	// DNSNames are the names it covers, wildcards allowed; the first is the subject.
	DNSNames []string `json:"dnsNames"`
	// KeyType is RSA or EC; KeySize (RSA: 2048, 3072, 4096) or Curve (EC: P-256, P-384).
	KeyType  string `json:"keyType"`
	KeySize  int    `json:"keySize,omitempty"`
	Curve    string `json:"keyCurveName,omitempty"`
	ReuseKey bool   `json:"reuseKey,omitempty"`
	// DNSProvider names a configured DNS provider instance for DNS-01; empty with
	// HTTP01 set.
	DNSProvider string `json:"dnsProviderName,omitempty"`
	// DNSAlias publishes the challenge at _acme-challenge.<DNSAlias> (a CNAME target).
	DNSAlias string `json:"dnsAlias,omitempty"`
	// HTTP01 answers http-01 challenges instead of DNS-01.
	HTTP01 bool `json:"http01,omitempty"`
	// Profile and PreferredChain go to the CA as is.
	Profile        string `json:"profile,omitempty"`
	PreferredChain string `json:"preferredChain,omitempty"`
	// Disabled stops renewals without forgetting the certificate.
	Disabled bool `json:"disabled,omitempty"`
}

var certificateName = regexp.MustCompile(`^[0-9A-Za-z-]{1,127}$`)

// DefaultName is acmebot's rule for a certificate named after its first DNS
// name: "*" becomes "wildcard" and "." becomes "-".
func DefaultName(dnsName string) string {
	return strings.ReplaceAll(strings.ReplaceAll(dnsName, "*", "wildcard"), ".", "-")
}

// Validate fills defaults (name, key type) and checks the definition, saying
// which field is wrong and what is allowed.
func (d *Definition) Validate() error {
	if len(d.DNSNames) == 0 {
		return errors.New("dnsNames: give at least one DNS name")
	}
	if len(d.DNSNames) > 100 {
		return fmt.Errorf("dnsNames: %d names; a certificate covers at most 100", len(d.DNSNames))
	}
	for i, n := range d.DNSNames {
		n = strings.ToLower(strings.TrimSuffix(n, "."))
		if n == "" || len(n) > 253 || strings.ContainsAny(n, " /:@") || strings.Count(n, "*") > 1 || strings.Contains(n, "*") && !strings.HasPrefix(n, "*.") {
			return fmt.Errorf("dnsNames[%d]: %q is not a DNS name (a wildcard is allowed only as the first label, *.example.com)", i, d.DNSNames[i])
		}
		d.DNSNames[i] = n
	}
	if d.Name == "" {
		d.Name = DefaultName(d.DNSNames[0])
	}
	if !certificateName.MatchString(d.Name) || d.Name == "issuers" || d.Name == "contacts" || d.Name == "restore" {
		return fmt.Errorf("certificateName: %q: use 1-127 letters, digits and hyphens (not issuers, contacts or restore)", d.Name)
	}
	switch strings.ToUpper(d.KeyType) {
	case "", "EC":
		d.KeyType = "EC"
		if d.Curve == "" {
			d.Curve = "P-256"
		}
		if d.Curve != "P-256" && d.Curve != "P-384" {
			return fmt.Errorf("keyCurveName: %q: use P-256 or P-384 (public CAs refuse P-521 and P-256K)", d.Curve)
		}
		d.KeySize = 0
	case "RSA":
		d.KeyType = "RSA"
		if d.KeySize == 0 {
			d.KeySize = 2048
		}
		if d.KeySize != 2048 && d.KeySize != 3072 && d.KeySize != 4096 {
			return fmt.Errorf("keySize: %d: use 2048, 3072 or 4096", d.KeySize)
		}
		d.Curve = ""
	default:
		return fmt.Errorf("keyType: %q: use RSA or EC", d.KeyType)
	}
	if d.HTTP01 && d.DNSProvider != "" {
		return errors.New("http01 and dnsProviderName: choose one way to answer challenges")
	}
	if !d.HTTP01 && d.DNSProvider == "" {
		return errors.New("dnsProviderName: name a configured DNS provider (renew.dns_providers), or set http01")
	}
	for _, n := range d.DNSNames {
		if d.HTTP01 && strings.HasPrefix(n, "*.") {
			return fmt.Errorf("dnsNames: %s is a wildcard, which only DNS-01 can validate; set dnsProviderName", n)
		}
	}
	return nil
}

// tegataTag is the value of the "tegata" tag written on vault certificates (B.4):
// short enough for Key Vault's 256-character tag limit.
type tegataTag struct {
	V         int    `json:"v"`
	ManagedBy string `json:"managedBy"`
	Endpoint  string `json:"endpoint"`
	CertID    string `json:"certId,omitempty"`
}

// acmebotTag is acmebot v5's "Acmebot" tag, read to adopt its certificates.
type acmebotTag struct {
	Endpoint      string `json:"endpoint"`
	DNSProvider   string `json:"dnsProvider"`
	DNSAlias      string `json:"dnsAlias"`
	CertificateID string `json:"certificateId"`
}

// Adoption is what a vault certificate's tags say about who manages it.
type Adoption struct {
	// By is "tegata", "acmebot" (v5 JSON tag) or "acmebot-legacy" (Issuer=Acmebot).
	By          string
	Endpoint    string // ACME directory host
	DNSProvider string
	DNSAlias    string
	CertID      string // ARI CertID of the current version, when recorded
}

// ReadTags recognises the tags tegata and acmebot write (B.4); ok is false for a
// certificate no ACME client manages.
func ReadTags(tags map[string]string) (Adoption, bool) {
	if v, ok := tags["tegata"]; ok {
		var t tegataTag
		if json.Unmarshal([]byte(v), &t) == nil && t.V == 1 {
			return Adoption{By: "tegata", Endpoint: t.Endpoint, CertID: t.CertID}, true
		}
	}
	if v, ok := tags["Acmebot"]; ok {
		var t acmebotTag
		if json.Unmarshal([]byte(v), &t) == nil {
			return Adoption{By: "acmebot", Endpoint: t.Endpoint, DNSProvider: t.DNSProvider, DNSAlias: t.DNSAlias, CertID: t.CertificateID}, true
		}
	}
	if strings.EqualFold(tags["Issuer"], "Acmebot") {
		return Adoption{By: "acmebot-legacy", Endpoint: tags["Endpoint"], DNSProvider: tags["DnsProvider"], DNSAlias: tags["DnsAlias"]}, true
	}
	return Adoption{}, false
}

// writeTag renders the tegata tag.
func writeTag(instance, endpoint, certID string) string {
	b, _ := json.Marshal(tegataTag{V: 1, ManagedBy: instance, Endpoint: endpoint, CertID: certID})
	return string(b)
}
