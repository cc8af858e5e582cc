package certkit

import (
	"crypto/x509"
	"encoding/asn1"
	"math"
)

// ImportPolicy returns the policy stored for an imported certificate (A.7):
// sent, the policy of the import request (possibly empty), with issuer
// Unknown; kty, key_size and crv from the imported key (exportable and
// reuse_key as sent); subject, sans, ekus, key_usage and validity_months
// from the leaf certificate; then WithDefaults. sent is not modified.
//
// validity_months is the leaf's lifetime in months of 30.44 days, rounded,
// and at least 1. A leaf without key usage or EKU extension gets empty lists
// (not the defaults), which is what the certificate has.
func ImportPolicy(sent Policy, m Material) Policy {
	p := sent.clone()
	kp := KeyPropsOf(m.Key)
	if p.KeyProps == nil {
		p.KeyProps = &KeyProps{}
	}
	p.KeyProps.KeyType, p.KeyProps.KeySize, p.KeyProps.Curve = kp.KeyType, kp.KeySize, kp.Curve
	p.Issuer = &IssuerParameters{Name: IssuerUnknown}
	if sent.Issuer != nil {
		p.Issuer.CertTransparency = clonePtr(sent.Issuer.CertTransparency)
		p.Issuer.CertificateType = sent.Issuer.CertificateType
	}
	if leaf := m.Leaf(); leaf != nil {
		p.X509Props = x509PropsOf(leaf, p.X509Props)
	}
	return p.WithDefaults()
}

// x509PropsOf describes cert as x509_props; basic_constraints comes from
// the certificate too, and fields cert cannot answer come from sent.
func x509PropsOf(cert *x509.Certificate, sent *X509Props) *X509Props {
	x := &X509Props{}
	if sent != nil {
		*x = *sent
	}
	if s, err := FormatSubject(cert.RawSubject); err == nil {
		x.Subject = s
	}
	x.SANs = nil
	if v, ok := findExtension(cert.Extensions, oidExtSAN); ok {
		if sans, err := parseSANs(v); err == nil && sanCount(&sans) > 0 {
			x.SANs = &sans
		}
	}
	x.EKUs = []string{}
	if v, ok := findExtension(cert.Extensions, oidExtExtKeyUsage); ok {
		var oids []asn1.ObjectIdentifier
		if rest, err := asn1.Unmarshal(v, &oids); err == nil && len(rest) == 0 {
			for _, o := range oids {
				x.EKUs = append(x.EKUs, o.String())
			}
		}
	}
	x.KeyUsage = []string{}
	if v, ok := findExtension(cert.Extensions, oidExtKeyUsage); ok {
		var bits asn1.BitString
		if rest, err := asn1.Unmarshal(v, &bits); err == nil && len(rest) == 0 {
			x.KeyUsage = keyUsageNamesOf(bits)
		}
	}
	const month = 30.44 * 24 // hours
	months := int(math.Round(cert.NotAfter.Sub(cert.NotBefore).Hours() / month))
	x.ValidityMonths = min(max(months, 1), 1200)
	x.BasicConstraints = &BasicConstraints{CA: cert.BasicConstraintsValid && cert.IsCA}
	return x
}
