package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TLSCAFile is the local TLS CA's certificate inside the data directory, the
// file clients trust to reach tegata's HTTPS servers (the vault).
const TLSCAFile = "tls-ca.pem"

// LocalTLS returns a server certificate for hosts (DNS names, wildcards and IP
// addresses) issued by tegata's local TLS CA, which it creates on first use
// in dataDir: the CA's key is kept encrypted under master in dataDir/tls, its
// certificate is dataDir/tls-ca.pem. The server key is new at every call and
// never stored; the certificate lives 30 days, so a server restarted at least
// that often never serves an expired one.
func LocalTLS(dataDir string, master MasterKey, hosts []string, now time.Time) (tls.Certificate, *x509.Certificate, error) {
	keys := NewKeys(filepath.Join(dataDir, "tls"), master)
	caKey, ok, err := keys.Load("tls-ca")
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("pki: local TLS CA key: %w", err)
	}
	caPath := filepath.Join(dataDir, TLSCAFile)
	var ca *x509.Certificate
	if ok {
		ca, err = readCertFile(caPath)
		if err != nil || !publicKeysEqual(ca.PublicKey, caKey.Public()) || now.After(ca.NotAfter.Add(-30*24*time.Hour)) {
			ca = nil // missing, replaced by hand, or near its end: issue a new CA certificate
		}
	} else {
		if caKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return tls.Certificate{}, nil, err
		}
		if err := keys.Save("tls-ca", caKey); err != nil {
			return tls.Certificate{}, nil, err
		}
	}
	if ca == nil {
		serial, err := randomSerial()
		if err != nil {
			return tls.Certificate{}, nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber:          serial,
			Subject:               pkix.Name{CommonName: "tegata local TLS CA", Organization: []string{"tegata"}},
			NotBefore:             now.Add(-time.Hour),
			NotAfter:              now.AddDate(10, 0, 0),
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, caKey.Public(), caKey)
		if err != nil {
			return tls.Certificate{}, nil, fmt.Errorf("pki: local TLS CA: %w", err)
		}
		if ca, err = x509.ParseCertificate(der); err != nil {
			return tls.Certificate{}, nil, err
		}
		if err := writeFileAtomic(caPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
			return tls.Certificate{}, nil, err
		}
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(30 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, leafKey.Public(), caKey)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("pki: TLS server certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Raw}, PrivateKey: leafKey}, ca, nil
}

func readCertFile(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return x509.ParseCertificate(b.Bytes)
}

func publicKeysEqual(a, b any) bool {
	type equaler interface{ Equal(x any) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}
