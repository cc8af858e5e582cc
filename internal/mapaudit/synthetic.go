package mapaudit

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tegata-project/tegata/mapping"
)

// Synthetic corpora for benchmarks and the peak-RSS check: certificates are
// assembled as DER without signing (the audit never verifies signatures),
// so that 100,000 of them take a second to build.

// SyntheticIssuer is the issuer of the synthetic certificates, in the
// KDC's rendering.
const SyntheticIssuer = "DC=test,DC=corp,CN=CORP-CA"

// SyntheticDomainSID is the domain of the synthetic accounts.
const SyntheticDomainSID = "S-1-5-21-1111111111-2222222222-3333333333"

var (
	oidSAN = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidSKI = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidBC  = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidCN  = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidDC  = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
)

// SANExtension returns a subjectAltName extension with UPN otherNames,
// DNS names and URIs, in that order.
func SANExtension(upns, dnsNames, uris []string) (pkix.Extension, error) {
	var gns []asn1.RawValue
	for _, u := range upns {
		type otherName struct {
			ID  asn1.ObjectIdentifier
			Val string `asn1:"utf8,explicit,tag:0"`
		}
		b, err := asn1.MarshalWithParams(otherName{mapping.OIDUPNOtherName, u}, "tag:0")
		if err != nil {
			return pkix.Extension{}, err
		}
		gns = append(gns, asn1.RawValue{FullBytes: b})
	}
	for _, d := range dnsNames {
		gns = append(gns, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(d)})
	}
	for _, u := range uris {
		gns = append(gns, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(u)})
	}
	v, err := asn1.Marshal(gns)
	return pkix.Extension{Id: oidSAN, Value: v}, err
}

// syntheticName encodes DC=test, DC=corp, CN=cn in that order.
func syntheticName(cn string) []byte {
	type atv struct {
		OID asn1.ObjectIdentifier
		Val asn1.RawValue
	}
	rdn := func(oid asn1.ObjectIdentifier, tag int, v string) []atv {
		return []atv{{oid, asn1.RawValue{Tag: tag, Bytes: []byte(v)}}}
	}
	name := []any{}
	for _, r := range [][]atv{rdn(oidDC, asn1.TagIA5String, "test"), rdn(oidDC, asn1.TagIA5String, "corp"), rdn(oidCN, asn1.TagUTF8String, cn)} {
		b, _ := asn1.MarshalWithParams(r, "set")
		name = append(name, asn1.RawValue{FullBytes: b})
	}
	b, _ := asn1.Marshal(name)
	return b
}

type syntheticBuilder struct {
	spki   []byte
	issuer []byte
}

func newSyntheticBuilder() (*syntheticBuilder, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return nil, err
	}
	return &syntheticBuilder{spki: spki, issuer: syntheticName("CORP-CA")}, nil
}

// build assembles an unsigned certificate.
func (b *syntheticBuilder) build(serial, subject []byte, notBefore time.Time, exts []pkix.Extension) ([]byte, error) {
	type validity struct{ NotBefore, NotAfter time.Time }
	alg := pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}}
	tbs, err := asn1.Marshal(struct {
		Version    int `asn1:"explicit,tag:0"`
		Serial     asn1.RawValue
		SigAlg     pkix.AlgorithmIdentifier
		Issuer     asn1.RawValue
		Validity   validity
		Subject    asn1.RawValue
		SPKI       asn1.RawValue
		Extensions []pkix.Extension `asn1:"optional,explicit,tag:3"`
	}{2, asn1.RawValue{Tag: asn1.TagInteger, Bytes: serial}, alg, asn1.RawValue{FullBytes: b.issuer},
		validity{notBefore, notBefore.AddDate(5, 0, 0)}, asn1.RawValue{FullBytes: subject},
		asn1.RawValue{FullBytes: b.spki}, exts})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(struct {
		TBS    asn1.RawValue
		Alg    pkix.AlgorithmIdentifier
		Signed asn1.BitString
	}{asn1.RawValue{FullBytes: tbs}, alg, asn1.BitString{Bytes: []byte{0x30, 6, 2, 1, 1, 2, 1, 1}, BitLength: 64}})
}

// SyntheticCorpus is n synthetic pairs: the certificates (DER), the CA
// certificate and the LDIF export of the accounts, two DCs (Server 2022 and
// 2016) and the NTAuth store. Pair i is, by i mod 4: a user with a strong
// X509IssuerSerialNumber mapping; a user whose certificate carries its SID;
// a user mapped by UPN only (weak); a computer mapped by DNS name only
// (weak).
type SyntheticCorpus struct {
	Certificates [][]byte
	CA           []byte
	LDIF         []byte
}

// NewSyntheticCorpus builds a corpus of n pairs.
func NewSyntheticCorpus(n int) (*SyntheticCorpus, error) {
	b, err := newSyntheticBuilder()
	if err != nil {
		return nil, err
	}
	caDER, err := b.build([]byte{0x01}, b.issuer, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		[]pkix.Extension{{Id: oidBC, Critical: true, Value: []byte{0x30, 0x03, 0x01, 0x01, 0xFF}}})
	if err != nil {
		return nil, err
	}
	out := &SyntheticCorpus{CA: caDER}
	var ldif []byte
	ldif = append(ldif, "version: 1\n\n"...)
	dcs := []struct{ name, version string }{{"dc1.corp.test", "10.0 (20348)"}, {"dc2.corp.test", "10.0 (14393)"}}
	for i, dc := range dcs {
		sid, _ := mapping.ParseSID(fmt.Sprintf("%s-%d", SyntheticDomainSID, 500000+i))
		ldif = fmt.Appendf(ldif, "dn: CN=DC%d,OU=Domain Controllers,DC=corp,DC=test\nobjectClass: computer\nobjectSid:: %s\nsAMAccountName: DC%d$\ndNSHostName: %s\nuserAccountControl: 532480\noperatingSystem: Windows Server\noperatingSystemVersion: %s\nwhenCreated: 20200101000000.0Z\n\n",
			i+1, base64.StdEncoding.EncodeToString(sid.Bytes()), i+1, dc.name, dc.version)
	}
	ldif = fmt.Appendf(ldif, "dn: CN=NTAuthCertificates,CN=Public Key Services,CN=Services,CN=Configuration,DC=corp,DC=test\nobjectClass: certificationAuthority\ncACertificate:: %s\n\n", base64.StdEncoding.EncodeToString(caDER))
	notBefore := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		sid, _ := mapping.ParseSID(fmt.Sprintf("%s-%d", SyntheticDomainSID, 1000+i))
		serial := make([]byte, 16)
		binary.BigEndian.PutUint64(serial, 0x1000000000000000|uint64(i))
		binary.BigEndian.PutUint64(serial[8:], uint64(i)*0x9E3779B97F4A7C15)
		ski := make([]byte, 20)
		binary.BigEndian.PutUint64(ski[12:], uint64(i)+1)
		skiExt, _ := asn1.Marshal(ski)
		exts := []pkix.Extension{{Id: oidSKI, Value: skiExt}}
		name := fmt.Sprintf("user%d", i)
		var san pkix.Extension
		if i%4 == 3 {
			name = fmt.Sprintf("ws%d", i)
			san, err = SANExtension(nil, []string{name + ".corp.test"}, nil)
		} else {
			san, err = SANExtension([]string{name + "@corp.test"}, nil, nil)
		}
		if err != nil {
			return nil, err
		}
		exts = append(exts, san)
		if i%4 == 1 {
			e, err := mapping.SIDExtension(sid)
			if err != nil {
				return nil, err
			}
			exts = append(exts, e)
		}
		der, err := b.build(serial, syntheticName(name), notBefore, exts)
		if err != nil {
			return nil, err
		}
		out.Certificates = append(out.Certificates, der)
		if i%4 == 3 {
			ldif = fmt.Appendf(ldif, "dn: CN=%s,CN=Computers,DC=corp,DC=test\nobjectClass: computer\nobjectSid:: %s\nsAMAccountName: %s$\ndNSHostName: %s.corp.test\nuserAccountControl: 4096\nwhenCreated: 20240101000000.0Z\n\n",
				name, base64.StdEncoding.EncodeToString(sid.Bytes()), name, name)
			continue
		}
		ldif = fmt.Appendf(ldif, "dn: CN=%s,CN=Users,DC=corp,DC=test\nobjectClass: user\nobjectSid:: %s\nsAMAccountName: %s\nuserPrincipalName: %s@corp.test\nuserAccountControl: 512\nwhenCreated: 20240101000000.0Z\n",
			name, base64.StdEncoding.EncodeToString(sid.Bytes()), name, name)
		if i%4 == 0 {
			ldif = fmt.Appendf(ldif, "altSecurityIdentities: X509:<I>%s<SR>%s\n", SyntheticIssuer, mapping.ReversedSerial(serial))
		}
		ldif = append(ldif, '\n')
	}
	out.LDIF = ldif
	return out, nil
}

// WriteFiles writes the corpus under dir: certs/NNN.pem with 1,000
// certificates each, ca.pem, and directory.ldf.
func (s *SyntheticCorpus) WriteFiles(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "certs"), 0o755); err != nil {
		return err
	}
	for start := 0; start < len(s.Certificates); start += 1000 {
		f, err := os.Create(filepath.Join(dir, "certs", fmt.Sprintf("%03d.pem", start/1000)))
		if err != nil {
			return err
		}
		w := bufio.NewWriter(f)
		for _, der := range s.Certificates[start:min(start+1000, len(s.Certificates))] {
			pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: der})
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.CA}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "directory.ldf"), s.LDIF, 0o644)
}
