package attest

import (
	"crypto/x509"
	"strings"
)

// Base domains of the Azure clouds' IMDS signing certificates (§2.8 of the
// reference). A signer name matches a base domain when it equals it or is a
// subdomain of it.
const (
	CloudPublic  = "metadata.azure.com"
	CloudUSGov   = "metadata.azure.us"
	CloudChina   = "metadata.azure.cn"
	CloudGermany = "metadata.microsoftazure.de" // legacy; closed in 2021
)

// DefaultSignerNames is used when VerifyOptions.SignerNames is nil: the
// public cloud only. Sovereign clouds are opt-in because every accepted
// domain widens who can mint an acceptable signer.
var DefaultSignerNames = []string{CloudPublic}

// AllAzureSignerNames lists the public and sovereign clouds in use
// (public, US Gov, China); Germany is left out because it is closed.
var AllAzureSignerNames = []string{CloudPublic, CloudUSGov, CloudChina}

// nameAllowed reports whether a DNS SAN of c equals a base domain or ends
// with "."+base. The label boundary is what makes evilmetadata.azure.com
// fail. The CN is consulted only when c has no SAN extension at all and
// cnFallback is set, for legacy certificates and test vectors.
func nameAllowed(c *x509.Certificate, bases []string, cnFallback bool) (string, bool) {
	names := c.DNSNames
	if cnFallback && !hasSAN(c) && c.Subject.CommonName != "" {
		names = []string{c.Subject.CommonName}
	}
	for _, n := range names {
		if !isASCII(n) {
			continue
		}
		n = strings.TrimSuffix(strings.ToLower(n), ".")
		for _, b := range bases {
			b = strings.TrimSuffix(strings.ToLower(b), ".")
			if b == "" {
				continue
			}
			if n == b || strings.HasSuffix(n, "."+b) {
				return n, true
			}
		}
	}
	return "", false
}

var oidSAN = []int{2, 5, 29, 17}

func hasSAN(c *x509.Certificate) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oidSAN) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
