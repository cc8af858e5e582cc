package mapping

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"
)

// Test fixtures: hand-assembled certificates, so that serial encodings,
// string types, name order and duplicate extensions are exactly as written.
// Signatures are not verified by the parser, so certificates are unsigned.

var (
	oidCN      = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidC       = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidST      = asn1.ObjectIdentifier{2, 5, 4, 8}
	oidO       = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU      = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidDC      = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
	oidEmail   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	oidSKI     = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidSAN     = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidPolicy  = asn1.ObjectIdentifier{2, 5, 29, 32}
	contosoSID = "S-1-5-21-3623811015-3361044348-30300820-1013"
)

// atv builds one attribute with an explicit universal tag.
type atv struct {
	oid asn1.ObjectIdentifier
	tag int
	val []byte
}

func ps(oid asn1.ObjectIdentifier, s string) atv  { return atv{oid, asn1.TagPrintableString, []byte(s)} }
func u8(oid asn1.ObjectIdentifier, s string) atv  { return atv{oid, asn1.TagUTF8String, []byte(s)} }
func ia5(oid asn1.ObjectIdentifier, s string) atv { return atv{oid, asn1.TagIA5String, []byte(s)} }

// name encodes RDNs in the given order; each inner slice is one RDN.
func name(t testing.TB, rdns ...[]atv) []byte {
	t.Helper()
	var seq []asn1.RawValue
	for _, rdn := range rdns {
		var set []asn1.RawValue
		for _, a := range rdn {
			v, err := asn1.Marshal(struct {
				OID asn1.ObjectIdentifier
				Val asn1.RawValue
			}{a.oid, asn1.RawValue{Tag: a.tag, Bytes: a.val}})
			if err != nil {
				t.Fatal(err)
			}
			set = append(set, asn1.RawValue{FullBytes: v})
		}
		b, err := asn1.MarshalWithParams(set, "set")
		if err != nil {
			t.Fatal(err)
		}
		seq = append(seq, asn1.RawValue{FullBytes: b})
	}
	b, err := asn1.Marshal(seq)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rdn(a ...atv) []atv { return a }

// contosoCA is the KB example issuer: DC=com, DC=contoso, CN=CONTOSO-DC-CA.
func contosoCA(t testing.TB) []byte {
	return name(t, rdn(ia5(oidDC, "com")), rdn(ia5(oidDC, "contoso")), rdn(u8(oidCN, "CONTOSO-DC-CA")))
}

var (
	keyOnce sync.Once
	spkiDER []byte
)

func testSPKI(t testing.TB) []byte {
	keyOnce.Do(func() {
		k, err := ecdsa.GenerateKey(elliptic.P256(), fixedReader{})
		if err != nil {
			panic(err)
		}
		spkiDER, err = x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			panic(err)
		}
	})
	return spkiDER
}

// fixedReader yields a deterministic byte stream (test keys only).
type fixedReader struct{}

func (fixedReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i*7 + 3)
	}
	return len(p), nil
}

// certSpec describes a test certificate.
type certSpec struct {
	serial    []byte // INTEGER content octets; default 2B0000000011AC0000000012
	issuer    []byte // DER name; default contosoCA
	subject   []byte // DER name; default CN=Alice Smith under contoso
	notBefore time.Time
	exts      []pkix.Extension
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// build assembles a DER certificate for spec.
func build(t testing.TB, s certSpec) []byte {
	t.Helper()
	if s.serial == nil {
		s.serial = mustHex(t, "2B0000000011AC0000000012")
	}
	if s.issuer == nil {
		s.issuer = contosoCA(t)
	}
	if s.subject == nil {
		s.subject = name(t, rdn(ia5(oidDC, "com")), rdn(ia5(oidDC, "contoso")), rdn(u8(oidCN, "Users")), rdn(u8(oidCN, "Alice Smith")))
	}
	if s.notBefore.IsZero() {
		s.notBefore = time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	}
	type validity struct{ NotBefore, NotAfter time.Time }
	type tbs struct {
		Version    int `asn1:"explicit,tag:0"`
		Serial     asn1.RawValue
		SigAlg     pkix.AlgorithmIdentifier
		Issuer     asn1.RawValue
		Validity   validity
		Subject    asn1.RawValue
		SPKI       asn1.RawValue
		Extensions []pkix.Extension `asn1:"optional,explicit,tag:3"`
	}
	alg := pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}}
	tb, err := asn1.Marshal(tbs{
		Version:    2,
		Serial:     asn1.RawValue{Tag: asn1.TagInteger, Bytes: s.serial},
		SigAlg:     alg,
		Issuer:     asn1.RawValue{FullBytes: s.issuer},
		Validity:   validity{s.notBefore, s.notBefore.AddDate(1, 0, 0)},
		Subject:    asn1.RawValue{FullBytes: s.subject},
		SPKI:       asn1.RawValue{FullBytes: testSPKI(t)},
		Extensions: s.exts,
	})
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal(struct {
		TBS    asn1.RawValue
		Alg    pkix.AlgorithmIdentifier
		Signed asn1.BitString
	}{asn1.RawValue{FullBytes: tb}, alg, asn1.BitString{Bytes: mustHex(t, "3006020101020101"), BitLength: 64}})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func parse(t testing.TB, s certSpec) *Certificate {
	t.Helper()
	c, err := ParseCertificate(build(t, s))
	if err != nil {
		t.Fatalf("ParseCertificate: %v", err)
	}
	return c
}

// sanName is one GeneralName for san().
type sanName struct {
	tag int    // 1 rfc822, 2 dNS, 6 URI; 0 for a UPN otherName
	val string // the name
}

func upn(s string) sanName   { return sanName{0, s} }
func dns(s string) sanName   { return sanName{2, s} }
func email(s string) sanName { return sanName{1, s} }
func uri(s string) sanName   { return sanName{6, s} }

// san builds a subjectAltName extension with names in order.
func san(t testing.TB, names ...sanName) pkix.Extension {
	t.Helper()
	var gns []asn1.RawValue
	for _, n := range names {
		if n.tag != 0 {
			gns = append(gns, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: n.tag, Bytes: []byte(n.val)})
			continue
		}
		type otherName struct {
			ID  asn1.ObjectIdentifier
			Val string `asn1:"utf8,explicit,tag:0"`
		}
		b, err := asn1.MarshalWithParams(otherName{OIDUPNOtherName, n.val}, "tag:0")
		if err != nil {
			t.Fatal(err)
		}
		gns = append(gns, asn1.RawValue{FullBytes: b})
	}
	v, err := asn1.Marshal(gns)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidSAN, Value: v}
}

func sidExt(t testing.TB, sid string) pkix.Extension {
	t.Helper()
	s, err := ParseSID(sid)
	if err != nil {
		t.Fatal(err)
	}
	e, err := SIDExtension(s)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func skiExt(t testing.TB, id []byte) pkix.Extension {
	v, err := asn1.Marshal(id)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidSKI, Value: v}
}

func policyExt(t testing.TB, oids ...asn1.ObjectIdentifier) pkix.Extension {
	type info struct{ ID asn1.ObjectIdentifier }
	var infos []info
	for _, o := range oids {
		infos = append(infos, info{o})
	}
	v, err := asn1.Marshal(infos)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidPolicy, Value: v}
}

func mustSID(t testing.TB, s string) SID {
	t.Helper()
	sid, err := ParseSID(s)
	if err != nil {
		t.Fatal(err)
	}
	return sid
}

// sidExtWith builds a SID extension whose GeneralNames holds one SID
// otherName per text, in order (two texts: a duplicate SID).
func sidExtWith(t testing.TB, texts ...string) pkix.Extension {
	t.Helper()
	type otherName struct {
		TypeID asn1.ObjectIdentifier
		Value  []byte `asn1:"tag:0,explicit"`
	}
	var gns []asn1.RawValue
	for _, s := range texts {
		b, err := asn1.MarshalWithParams(otherName{OIDSIDOtherName, []byte(s)}, "tag:0")
		if err != nil {
			t.Fatal(err)
		}
		gns = append(gns, asn1.RawValue{FullBytes: b})
	}
	v, err := asn1.Marshal(gns)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: OIDSIDExtension, Value: v}
}
