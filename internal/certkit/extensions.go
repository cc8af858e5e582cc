package certkit

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"net/netip"
)

var (
	oidExtKeyUsage    = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtSAN         = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidExtExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidUPN            = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}
)

// GeneralName tags (RFC 5280 4.2.1.6).
const (
	tagOtherName = 0
	tagRFC822    = 1
	tagDNS       = 2
	tagURI       = 6
	tagIP        = 7
)

// requestedExtensions returns the subjectAltName, keyUsage and
// extKeyUsage extensions x asks for, each omitted when x has no values for
// it. emptySubject marks the SAN extension critical (RFC 5280 4.2.1.6).
func requestedExtensions(x X509Props, emptySubject bool) ([]pkix.Extension, error) {
	var exts []pkix.Extension
	if x.SANs != nil && sanCount(x.SANs) > 0 {
		if err := validateSANs(x.SANs); err != nil {
			return nil, err
		}
		v, err := marshalSANs(*x.SANs)
		if err != nil {
			return nil, err
		}
		exts = append(exts, pkix.Extension{Id: oidExtSAN, Critical: emptySubject, Value: v})
	}
	if len(x.KeyUsage) > 0 {
		v, err := marshalKeyUsage(x.KeyUsage)
		if err != nil {
			return nil, err
		}
		exts = append(exts, pkix.Extension{Id: oidExtKeyUsage, Critical: true, Value: v})
	}
	if len(x.EKUs) > 0 {
		oids := make([]asn1.ObjectIdentifier, len(x.EKUs))
		for i, e := range x.EKUs {
			oid, err := parseOID(e)
			if err != nil {
				return nil, policyErr(fmt.Sprintf("x509_props.ekus[%d]", i), "%q is not a dotted OID such as %q (serverAuth)", truncate(e), EKUServerAuth)
			}
			oids[i] = oid
		}
		v, err := asn1.Marshal(oids)
		if err != nil {
			return nil, err
		}
		exts = append(exts, pkix.Extension{Id: oidExtExtKeyUsage, Value: v})
	}
	return exts, nil
}

// marshalSANs encodes GeneralNames in the order DNS names, emails, UPNs (as
// otherName 1.3.6.1.4.1.311.20.2.3 holding a UTF8String), IP addresses,
// URIs. s must have passed validateSANs.
func marshalSANs(s SANs) ([]byte, error) {
	var names []asn1.RawValue
	add := func(tag int, compound bool, b []byte) {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tag, IsCompound: compound, Bytes: b})
	}
	for _, v := range s.DNSNames {
		add(tagDNS, false, []byte(v))
	}
	for _, v := range s.Emails {
		add(tagRFC822, false, []byte(v))
	}
	for _, v := range s.UPNs {
		typeID, err := asn1.Marshal(oidUPN)
		if err != nil {
			return nil, err
		}
		value, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagUTF8String, Bytes: []byte(v)})
		if err != nil {
			return nil, err
		}
		explicit, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: value})
		if err != nil {
			return nil, err
		}
		add(tagOtherName, true, append(typeID, explicit...))
	}
	for _, v := range s.IPAddresses {
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, err
		}
		b := a.AsSlice()
		if a.Is4In6() {
			b = a.Unmap().AsSlice()
		}
		add(tagIP, false, b)
	}
	for _, v := range s.URIs {
		add(tagURI, false, []byte(v))
	}
	return asn1.Marshal(names)
}

// parseSANs decodes a subjectAltName extension value into SANs. Kinds Key
// Vault has no list for (directoryName, other otherNames, ...) are skipped.
func parseSANs(der []byte) (SANs, error) {
	var names []asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &names); err != nil || len(rest) != 0 {
		return SANs{}, fmt.Errorf("malformed subjectAltName extension")
	}
	var s SANs
	for _, n := range names {
		if n.Class != asn1.ClassContextSpecific {
			continue
		}
		switch n.Tag {
		case tagDNS:
			s.DNSNames = append(s.DNSNames, string(n.Bytes))
		case tagRFC822:
			s.Emails = append(s.Emails, string(n.Bytes))
		case tagURI:
			s.URIs = append(s.URIs, string(n.Bytes))
		case tagIP:
			if a, ok := netip.AddrFromSlice(n.Bytes); ok {
				s.IPAddresses = append(s.IPAddresses, a.String())
			}
		case tagOtherName:
			if upn, ok := parseUPN(n.Bytes); ok {
				s.UPNs = append(s.UPNs, upn)
			}
		}
	}
	return s, nil
}

// parseUPN reads the inside of an otherName and returns its UPN, if it is one.
func parseUPN(b []byte) (string, bool) {
	var typeID asn1.ObjectIdentifier
	rest, err := asn1.Unmarshal(b, &typeID)
	if err != nil || !typeID.Equal(oidUPN) {
		return "", false
	}
	var explicit asn1.RawValue
	if rest, err = asn1.Unmarshal(rest, &explicit); err != nil || len(rest) != 0 || explicit.Tag != 0 || explicit.Class != asn1.ClassContextSpecific {
		return "", false
	}
	var upn string
	if rest, err = asn1.Unmarshal(explicit.Bytes, &upn); err != nil || len(rest) != 0 {
		return "", false
	}
	return upn, true
}

// marshalKeyUsage encodes key_usage names as the KeyUsage BIT STRING.
func marshalKeyUsage(names []string) ([]byte, error) {
	var b [2]byte
	length := 0
	for i, n := range names {
		bit := keyUsageBit(n)
		if bit < 0 {
			return nil, policyErr(fmt.Sprintf("x509_props.key_usage[%d]", i), "%q is not a key usage", truncate(n))
		}
		b[bit/8] |= 0x80 >> (bit % 8)
		length = max(length, bit+1)
	}
	return asn1.Marshal(asn1.BitString{Bytes: b[:(length+7)/8], BitLength: length})
}

// keyUsageNamesOf returns the key_usage names of a KeyUsage BIT STRING.
func keyUsageNamesOf(bits asn1.BitString) []string {
	names := []string{}
	for i, n := range keyUsageNames {
		if bits.At(i) == 1 {
			names = append(names, n)
		}
	}
	return names
}

// findExtension returns the value of the extension with the given OID.
func findExtension(exts []pkix.Extension, oid asn1.ObjectIdentifier) ([]byte, bool) {
	for _, e := range exts {
		if e.Id.Equal(oid) {
			return e.Value, true
		}
	}
	return nil, false
}
