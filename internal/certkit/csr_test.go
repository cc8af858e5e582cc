package certkit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"math/big"
	"net"
	"reflect"
	"testing"
	"time"
)

// fullProps asks for every kind of SAN, a key usage and two EKUs.
func fullProps() X509Props {
	return X509Props{
		Subject: "CN=www.example.com, O=Example, C=JP",
		SANs: &SANs{
			DNSNames:    []string{"www.example.com", "*.example.com"},
			Emails:      []string{"admin@example.com"},
			UPNs:        []string{"user@corp.example.com", "ユーザー@example.jp"},
			IPAddresses: []string{"192.0.2.10", "2001:db8::1", "::ffff:198.51.100.7"},
			URIs:        []string{"spiffe://example.org/web"},
		},
		EKUs:           []string{EKUServerAuth, EKUClientAuth},
		KeyUsage:       []string{"digitalSignature", "keyEncipherment", "keyCertSign", "decipherOnly"},
		ValidityMonths: 2,
	}
}

// checkExtensions checks the SAN, key usage and EKU extensions against x.
// get returns an extension's value, whether it is critical, and whether it
// is present.
func checkExtensions(t *testing.T, get func(asn1.ObjectIdentifier) ([]byte, bool, bool), x X509Props, emptySubject bool) {
	t.Helper()
	sanDER, critical, ok := get(oidExtSAN)
	if !ok {
		t.Fatal("no subjectAltName extension")
	}
	if critical != emptySubject {
		t.Errorf("subjectAltName critical = %v, want %v", critical, emptySubject)
	}
	sans, err := parseSANs(sanDER)
	if err != nil {
		t.Fatal(err)
	}
	want := *x.SANs
	want.IPAddresses = []string{"192.0.2.10", "2001:db8::1", "198.51.100.7"} // 4-in-6 is written as IPv4
	if !reflect.DeepEqual(sans, want) {
		t.Errorf("SANs = %+v, want %+v", sans, want)
	}
	kuDER, critical, ok := get(oidExtKeyUsage)
	if !ok || !critical {
		t.Fatalf("keyUsage extension present %v, critical %v; want both", ok, critical)
	}
	var bits asn1.BitString
	if _, err := asn1.Unmarshal(kuDER, &bits); err != nil {
		t.Fatal(err)
	}
	if got := keyUsageNamesOf(bits); !reflect.DeepEqual(got, x.KeyUsage) {
		t.Errorf("key usage = %v, want %v", got, x.KeyUsage)
	}
	if bits.BitLength != 9 {
		t.Errorf("key usage BitLength = %d, want 9 (DER: no trailing zero bits)", bits.BitLength)
	}
	ekuDER, _, ok := get(oidExtExtKeyUsage)
	if !ok {
		t.Fatal("no extKeyUsage extension")
	}
	var oids []asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(ekuDER, &oids); err != nil {
		t.Fatal(err)
	}
	if len(oids) != 2 || oids[0].String() != EKUServerAuth || oids[1].String() != EKUClientAuth {
		t.Errorf("EKUs = %v", oids)
	}
}

func TestCreateCSR(t *testing.T) {
	rsaKeys, ecKeys := testKeys(t)
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		alg  x509.SignatureAlgorithm
	}{
		{"RSA", rsaKeys[3], x509.SHA256WithRSA},
		{"ECDSA", ecKeys[3], x509.ECDSAWithSHA256},
	} {
		for _, emptySubject := range []bool{false, true} {
			t.Run(tc.name, func(t *testing.T) {
				x := fullProps()
				if emptySubject {
					x.Subject = ""
				}
				der, err := CreateCSR(tc.key, x)
				if err != nil {
					t.Fatal(err)
				}
				csr, err := x509.ParseCertificateRequest(der)
				if err != nil {
					t.Fatal(err)
				}
				if err := csr.CheckSignature(); err != nil {
					t.Errorf("CheckSignature = %v", err)
				}
				if csr.SignatureAlgorithm != tc.alg {
					t.Errorf("signature algorithm = %v, want %v", csr.SignatureAlgorithm, tc.alg)
				}
				if !csr.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(tc.key.Public()) {
					t.Error("the CSR carries another public key")
				}
				wantSubject, _ := subjectDER(x.Subject)
				if string(csr.RawSubject) != string(wantSubject) {
					t.Errorf("subject = %q, want %q", rdnString(t, csr.RawSubject), rdnString(t, wantSubject))
				}
				if !emptySubject && (csr.Subject.CommonName != "www.example.com" || csr.Subject.Country[0] != "JP") {
					t.Errorf("subject = %v", csr.Subject)
				}
				// Go reads the standard SANs itself: a second, independent reader.
				if !reflect.DeepEqual(csr.DNSNames, x.SANs.DNSNames) || !reflect.DeepEqual(csr.EmailAddresses, x.SANs.Emails) ||
					len(csr.IPAddresses) != 3 || !csr.IPAddresses[2].Equal(net.ParseIP("198.51.100.7")) || csr.URIs[0].String() != x.SANs.URIs[0] {
					t.Errorf("SANs as Go reads them: %v %v %v %v", csr.DNSNames, csr.EmailAddresses, csr.IPAddresses, csr.URIs)
				}
				checkExtensions(t, func(oid asn1.ObjectIdentifier) ([]byte, bool, bool) {
					for _, e := range csr.Extensions {
						if e.Id.Equal(oid) {
							return e.Value, e.Critical, true
						}
					}
					return nil, false, false
				}, x, emptySubject)
			})
		}
	}
}

func TestCreateCSRMinimal(t *testing.T) {
	_, ecKeys := testKeys(t)
	der, err := CreateCSR(ecKeys[3], X509Props{Subject: "CN=only", EKUs: []string{}, KeyUsage: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(csr.Extensions) != 0 {
		t.Errorf("extensions = %v, want none for empty lists", csr.Extensions)
	}
}

func TestCreateCSRErrors(t *testing.T) {
	_, ecKeys := testKeys(t)
	for _, tc := range []struct {
		name  string
		key   crypto.Signer
		x     X509Props
		field string
		is    error
	}{
		{"bad subject", ecKeys[3], X509Props{Subject: "CN"}, "x509_props.subject", ErrBadSubject},
		{"bad SAN", ecKeys[3], X509Props{Subject: "CN=a", SANs: &SANs{IPAddresses: []string{"nope"}}}, "x509_props.sans.ipAddresses[0]", nil},
		{"bad key usage", ecKeys[3], X509Props{Subject: "CN=a", KeyUsage: []string{"sign"}}, "x509_props.key_usage[0]", nil},
		{"bad EKU", ecKeys[3], X509Props{Subject: "CN=a", EKUs: []string{"x"}}, "x509_props.ekus[0]", nil},
		{"no key", nil, X509Props{Subject: "CN=a"}, "", ErrUnsupportedKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CreateCSR(tc.key, tc.x)
			var pe *PolicyError
			switch {
			case err == nil:
				t.Fatal("CreateCSR succeeded")
			case tc.field != "" && (!errors.As(err, &pe) || pe.Field != tc.field):
				t.Errorf("CreateCSR = %v, want a *PolicyError for %s", err, tc.field)
			case tc.is != nil && !errors.Is(err, tc.is):
				t.Errorf("CreateCSR = %v, want %v", err, tc.is)
			}
		})
	}
}

func TestSelfSign(t *testing.T) {
	rsaKeys, ecKeys := testKeys(t)
	now := time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		ca   *BasicConstraints
	}{
		{"RSA leaf", rsaKeys[3], nil},
		{"ECDSA CA", ecKeys[3], &BasicConstraints{CA: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := fullProps()
			x.BasicConstraints = tc.ca
			cert, err := SelfSign(tc.key, x, now)
			if err != nil {
				t.Fatal(err)
			}
			if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
				t.Errorf("self-signature does not verify: %v", err)
			}
			if string(cert.RawIssuer) != string(cert.RawSubject) || cert.Subject.CommonName != "www.example.com" {
				t.Errorf("issuer %v, subject %v", cert.Issuer, cert.Subject)
			}
			if !cert.NotBefore.Equal(now.Add(-Backdate)) || !cert.NotAfter.Equal(time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)) {
				t.Errorf("validity %v – %v", cert.NotBefore, cert.NotAfter)
			}
			if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.Cmp(new(big.Int).Lsh(big.NewInt(1), 128)) >= 0 {
				t.Errorf("serial %v is not a positive 128-bit number", cert.SerialNumber)
			}
			wantCA := tc.ca != nil && tc.ca.CA
			if !cert.BasicConstraintsValid || cert.IsCA != wantCA {
				t.Errorf("basic constraints valid %v, CA %v; want CA %v", cert.BasicConstraintsValid, cert.IsCA, wantCA)
			}
			if wantCA {
				if err := cert.CheckSignatureFrom(cert); err != nil || len(cert.SubjectKeyId) == 0 {
					t.Errorf("CA certificate: CheckSignatureFrom itself = %v, SKID %x", err, cert.SubjectKeyId)
				}
			}
			if _, isRSA := tc.key.(*rsa.PrivateKey); isRSA != (cert.SignatureAlgorithm == x509.SHA256WithRSA) {
				t.Errorf("signature algorithm %v for %T", cert.SignatureAlgorithm, tc.key)
			}
			if _, isEC := tc.key.(*ecdsa.PrivateKey); isEC != (cert.SignatureAlgorithm == x509.ECDSAWithSHA256) {
				t.Errorf("signature algorithm %v for %T", cert.SignatureAlgorithm, tc.key)
			}
			checkExtensions(t, func(oid asn1.ObjectIdentifier) ([]byte, bool, bool) {
				for _, e := range cert.Extensions {
					if e.Id.Equal(oid) {
						return e.Value, e.Critical, true
					}
				}
				return nil, false, false
			}, x, false)
		})
	}
	if _, err := SelfSign(ecKeys[3], X509Props{Subject: "CN=a", ValidityMonths: 1201}, now); err == nil {
		t.Error("SelfSign accepted validity_months 1201")
	}
	cert, err := SelfSign(ecKeys[3], X509Props{Subject: "CN=a"}, now)
	if err != nil || !cert.NotAfter.Equal(now.AddDate(1, 0, 0)) {
		t.Errorf("validity_months 0: NotAfter %v, %v; want 12 months", cert.NotAfter, err)
	}
}

func TestGenerateKey(t *testing.T) {
	if testing.Short() {
		t.Skip("RSA 3072/4096 generation is slow")
	}
	for _, tc := range []struct {
		kp   KeyProps
		want KeyProps
	}{
		{KeyProps{}, KeyProps{KeyType: KeyTypeRSA, KeySize: 2048}},
		{KeyProps{KeyType: KeyTypeRSAHSM, KeySize: 3072}, KeyProps{KeyType: KeyTypeRSA, KeySize: 3072}},
		{KeyProps{KeyType: KeyTypeRSA, KeySize: 4096}, KeyProps{KeyType: KeyTypeRSA, KeySize: 4096}},
		{KeyProps{KeyType: KeyTypeEC}, KeyProps{KeyType: KeyTypeEC, KeySize: 256, Curve: CurveP256}},
		{KeyProps{KeyType: KeyTypeECHSM, Curve: CurveP384}, KeyProps{KeyType: KeyTypeEC, KeySize: 384, Curve: CurveP384}},
		{KeyProps{KeyType: KeyTypeEC, Curve: CurveP521}, KeyProps{KeyType: KeyTypeEC, KeySize: 521, Curve: CurveP521}},
	} {
		key, err := GenerateKey(tc.kp)
		if err != nil {
			t.Fatalf("GenerateKey(%+v) = %v", tc.kp, err)
		}
		if got := KeyPropsOf(key.Public()); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("KeyPropsOf(GenerateKey(%+v)) = %+v, want %+v", tc.kp, got, tc.want)
		}
		if got := KeyPropsOf(key); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("KeyPropsOf(private key) = %+v, want %+v", got, tc.want)
		}
	}
	for _, kp := range []KeyProps{
		{KeyType: KeyTypeRSA, KeySize: 1024},
		{KeyType: KeyTypeEC, Curve: CurveP256K},
		{KeyType: KeyTypeEC, Curve: "P-224"},
		{KeyType: "oct"},
	} {
		var pe *PolicyError
		if _, err := GenerateKey(kp); !errors.As(err, &pe) {
			t.Errorf("GenerateKey(%+v) = %v, want a *PolicyError", kp, err)
		}
	}
	if got := KeyPropsOf("not a key"); got.KeyType != "" {
		t.Errorf("KeyPropsOf(string) = %+v", got)
	}
}
