package vault_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azcertificates"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"software.sslmate.com/src/go-pkcs12"
)

// testCA is a two-level CA (root, intermediate) that signs leaves for merge and
// import tests.
type testCA struct {
	root, inter       *x509.Certificate
	rootKey, interKey *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	ca := &testCA{}
	ca.rootKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca.interKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca.root = signCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "Test Root"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil, ca.rootKey.Public(), ca.rootKey)
	ca.inter = signCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "Test Intermediate"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, ca.root, ca.interKey.Public(), ca.rootKey)
	return ca
}

func signCert(t *testing.T, tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
	t.Helper()
	tmpl.SerialNumber, _ = rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(47 * 24 * time.Hour)
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func (ca *testCA) leaf(t *testing.T, pub crypto.PublicKey, dns string) *x509.Certificate {
	return signCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: dns}, DNSNames: []string{dns}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca.inter, pub, ca.interKey)
}

// privateKeyOf reads the private key and leaf from a certificate's secret value.
func privateKeyOf(t *testing.T, contentType, value string) (crypto.Signer, []*x509.Certificate) {
	t.Helper()
	switch contentType {
	case "application/x-pkcs12":
		pfx, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			t.Fatalf("PFX secret is not base64: %v", err)
		}
		key, leaf, cas, err := pkcs12.DecodeChain(pfx, "")
		if err != nil {
			t.Fatalf("PFX secret does not decode with the empty password: %v", err)
		}
		return key.(crypto.Signer), append([]*x509.Certificate{leaf}, cas...)
	case "application/x-pem-file":
		var key crypto.Signer
		var certs []*x509.Certificate
		rest := []byte(value)
		first := ""
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if first == "" {
				first = b.Type
			}
			switch b.Type {
			case "PRIVATE KEY":
				k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
				if err != nil {
					t.Fatal(err)
				}
				key = k.(crypto.Signer)
			case "CERTIFICATE":
				c, err := x509.ParseCertificate(b.Bytes)
				if err != nil {
					t.Fatal(err)
				}
				certs = append(certs, c)
			}
		}
		if first != "PRIVATE KEY" {
			t.Errorf("PEM secret starts with %q, want the PRIVATE KEY block first (Q25)", first)
		}
		return key, certs
	}
	t.Fatalf("content type %q", contentType)
	return nil, nil
}

func samePublicKey(a crypto.PublicKey, b crypto.PublicKey) bool {
	return a.(interface{ Equal(crypto.PublicKey) bool }).Equal(b)
}

func TestCertificatesWithSDK(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	c := h.certificates(adminOID)
	s := h.secrets(adminOID)
	ctx := context.Background()
	ca := newTestCA(t)

	// Self: the vault signs and completes at once.
	op, err := c.CreateCertificate(ctx, "self1", azcertificates.CreateCertificateParameters{CertificatePolicy: &azcertificates.CertificatePolicy{
		IssuerParameters:          &azcertificates.IssuerParameters{Name: to.Ptr("Self")},
		X509CertificateProperties: &azcertificates.X509CertificateProperties{Subject: to.Ptr("CN=self1.example"), SubjectAlternativeNames: &azcertificates.SubjectAlternativeNames{DNSNames: []*string{to.Ptr("self1.example")}}},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *op.Status != "completed" || op.Target == nil {
		t.Errorf("Self create: status %v target %v", *op.Status, op.Target)
	}
	cert, err := c.GetCertificate(ctx, "self1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.CER)
	if err != nil || leaf.Subject.CommonName != "self1.example" {
		t.Fatalf("cer: %v %v", leaf, err)
	}
	if cert.KID.Version() != cert.ID.Version() || cert.SID.Version() != cert.ID.Version() || cert.SID.Name() != "self1" {
		t.Errorf("kid %s sid %s id %s: want one version", *cert.KID, *cert.SID, *cert.ID)
	}
	sec, err := s.GetSecret(ctx, "self1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !*sec.Managed || *sec.ContentType != "application/x-pkcs12" || sec.KID == nil {
		t.Errorf("certificate secret: managed %v contentType %v kid %v", sec.Managed, *sec.ContentType, sec.KID)
	}
	key, chain := privateKeyOf(t, *sec.ContentType, *sec.Value)
	if !samePublicKey(key.Public(), leaf.PublicKey) || !chain[0].Equal(leaf) {
		t.Error("the PFX secret's key does not match the certificate")
	}
	// outContentType converts the PFX to PEM on the way out.
	pemSec, err := s.GetSecret(ctx, "self1", "", &azsecrets.GetSecretOptions{OutContentType: to.Ptr(azsecrets.ContentTypePEM)})
	if err != nil {
		t.Fatal(err)
	}
	pemKey, _ := privateKeyOf(t, *pemSec.ContentType, *pemSec.Value)
	if !samePublicKey(pemKey.Public(), leaf.PublicKey) {
		t.Error("outContentType PEM key does not match")
	}
	// Managed secrets are written through the certificate API only.
	_, err = s.SetSecret(ctx, "self1", azsecrets.SetSecretParameters{Value: to.Ptr("x")}, nil)
	wantResponseError(t, err, http.StatusForbidden, "Forbidden")

	// Unknown: the key stays in the vault; a CSR goes out; the signed chain merges.
	op, err = c.CreateCertificate(ctx, "web", azcertificates.CreateCertificateParameters{CertificatePolicy: &azcertificates.CertificatePolicy{
		IssuerParameters:          &azcertificates.IssuerParameters{Name: to.Ptr("Unknown")},
		KeyProperties:             &azcertificates.KeyProperties{KeyType: to.Ptr(azcertificates.KeyTypeEC), Curve: to.Ptr(azcertificates.CurveNameP256)},
		SecretProperties:          &azcertificates.SecretProperties{ContentType: to.Ptr("application/x-pem-file")},
		X509CertificateProperties: &azcertificates.X509CertificateProperties{Subject: to.Ptr("CN=www.example.com"), SubjectAlternativeNames: &azcertificates.SubjectAlternativeNames{DNSNames: []*string{to.Ptr("www.example.com")}}},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *op.Status != "inProgress" || len(op.CSR) == 0 {
		t.Fatalf("Unknown create: status %s csr %d bytes", *op.Status, len(op.CSR))
	}
	csr, err := x509.ParseCertificateRequest(op.CSR)
	if err != nil || csr.CheckSignature() != nil || csr.DNSNames[0] != "www.example.com" {
		t.Fatalf("CSR: %v %v", csr, err)
	}
	_, err = c.GetCertificate(ctx, "web", "", nil)
	wantResponseError(t, err, http.StatusNotFound, "CertificateNotFound")
	_, err = c.CreateCertificate(ctx, "web", azcertificates.CreateCertificateParameters{CertificatePolicy: &azcertificates.CertificatePolicy{IssuerParameters: &azcertificates.IssuerParameters{Name: to.Ptr("Unknown")}, X509CertificateProperties: &azcertificates.X509CertificateProperties{Subject: to.Ptr("CN=x")}}}, nil)
	wantResponseError(t, err, http.StatusConflict, "Conflict")
	pend, err := c.GetCertificateOperation(ctx, "web", nil)
	if err != nil || *pend.Status != "inProgress" || string(pend.CSR) != string(op.CSR) {
		t.Fatalf("GetCertificateOperation: %v %v", pend, err)
	}
	// A chain for another key is refused; the right one (given root-first) merges.
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	wrong := ca.leaf(t, otherKey.Public(), "www.example.com")
	_, err = c.MergeCertificate(ctx, "web", azcertificates.MergeCertificateParameters{X509Certificates: [][]byte{wrong.Raw, ca.inter.Raw}}, nil)
	wantResponseError(t, err, http.StatusBadRequest, "BadParameter")
	signed := ca.leaf(t, csr.PublicKey, "www.example.com")
	merged, err := c.MergeCertificate(ctx, "web", azcertificates.MergeCertificateParameters{X509Certificates: [][]byte{ca.inter.Raw, signed.Raw}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(merged.CER) != string(signed.Raw) || merged.ID.Version() == "" {
		t.Errorf("merge answered cer of %d bytes, id %v", len(merged.CER), merged.ID)
	}
	done, _ := c.GetCertificateOperation(ctx, "web", nil)
	if *done.Status != "completed" {
		t.Errorf("operation after merge: %s", *done.Status)
	}
	sec, err = s.GetSecret(ctx, "web", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	key, chain = privateKeyOf(t, *sec.ContentType, *sec.Value)
	if !samePublicKey(key.Public(), signed.PublicKey) || len(chain) != 2 || !chain[0].Equal(signed) || !chain[1].Equal(ca.inter) {
		t.Errorf("merged secret: key matches %v, chain of %d (leaf first %v)", samePublicKey(key.Public(), signed.PublicKey), len(chain), len(chain) > 0 && chain[0].Equal(signed))
	}

	// Cancel and delete a pending operation; the name is free again.
	op, err = c.CreateCertificate(ctx, "cancelme", azcertificates.CreateCertificateParameters{CertificatePolicy: &azcertificates.CertificatePolicy{IssuerParameters: &azcertificates.IssuerParameters{Name: to.Ptr("Unknown")}, X509CertificateProperties: &azcertificates.X509CertificateProperties{Subject: to.Ptr("CN=c")}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	upd, err := c.UpdateCertificateOperation(ctx, "cancelme", azcertificates.UpdateCertificateOperationParameter{CancellationRequested: to.Ptr(true)}, nil)
	if err != nil || !*upd.CancellationRequested {
		t.Fatalf("cancel: %v %v", upd, err)
	}
	if _, err := c.DeleteCertificateOperation(ctx, "cancelme", nil); err != nil {
		t.Fatal(err)
	}
	// The certificate never had a version, so it goes with its operation.
	_, err = c.GetCertificateOperation(ctx, "cancelme", nil)
	wantResponseError(t, err, http.StatusNotFound, "CertificateNotFound")
	_, err = c.GetCertificateOperation(ctx, "self1", nil)
	if err != nil {
		t.Errorf("the completed operation of self1 stays readable: %v", err)
	}
	if _, err := c.DeleteCertificateOperation(ctx, "self1", nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetCertificateOperation(ctx, "self1", nil)
	wantResponseError(t, err, http.StatusNotFound, "PendingCertificateNotFound")

	// Import a password-protected PFX and a PEM whose chain comes root-side first.
	ikey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ileaf := ca.leaf(t, ikey.Public(), "imported.example")
	pfx, err := pkcs12.Modern.Encode(ikey, ileaf, []*x509.Certificate{ca.inter}, "pfx-pass")
	if err != nil {
		t.Fatal(err)
	}
	imp, err := c.ImportCertificate(ctx, "imported-pfx", azcertificates.ImportCertificateParameters{Base64EncodedCertificate: to.Ptr(base64.StdEncoding.EncodeToString(pfx)), Password: to.Ptr("pfx-pass")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(imp.CER) != string(ileaf.Raw) || *imp.Policy.IssuerParameters.Name != "Unknown" {
		t.Errorf("PFX import: cer matches %v, issuer %v", string(imp.CER) == string(ileaf.Raw), imp.Policy.IssuerParameters.Name)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(ikey)
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.inter.Raw})) +
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})) +
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ileaf.Raw}))
	_, err = c.ImportCertificate(ctx, "imported-pem", azcertificates.ImportCertificateParameters{
		Base64EncodedCertificate: to.Ptr(pemText),
		CertificatePolicy:        &azcertificates.CertificatePolicy{SecretProperties: &azcertificates.SecretProperties{ContentType: to.Ptr("application/x-pem-file")}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sec, err = s.GetSecret(ctx, "imported-pem", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, chain = privateKeyOf(t, *sec.ContentType, *sec.Value)
	if len(chain) != 2 || !chain[0].Equal(ileaf) {
		t.Errorf("imported PEM chain not normalised leaf first: %d certificates", len(chain))
	}
	_, err = c.ImportCertificate(ctx, "bad", azcertificates.ImportCertificateParameters{Base64EncodedCertificate: to.Ptr("bm90IGEgcGZ4")}, nil)
	wantResponseError(t, err, http.StatusBadRequest, "BadParameter")

	// Delete cascades to the managed secret; recover brings both back.
	if _, err := c.DeleteCertificate(ctx, "web", nil); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetSecret(ctx, "web", "", nil)
	wantResponseError(t, err, http.StatusNotFound, "SecretNotFound")
	_, err = s.GetDeletedSecret(ctx, "web", nil)
	wantResponseError(t, err, http.StatusNotFound, "SecretNotFound")
	if _, err := c.RecoverDeletedCertificate(ctx, "web", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSecret(ctx, "web", "", nil); err != nil {
		t.Errorf("secret after recovering its certificate: %v", err)
	}
	// Policy read and patch.
	pol, err := c.GetCertificatePolicy(ctx, "web", nil)
	if err != nil || *pol.X509CertificateProperties.Subject != "CN=www.example.com" {
		t.Fatalf("policy: %v %v", pol, err)
	}
	if _, err := c.UpdateCertificatePolicy(ctx, "web", azcertificates.CertificatePolicy{X509CertificateProperties: &azcertificates.X509CertificateProperties{ValidityInMonths: to.Ptr[int32](3)}}, nil); err != nil {
		t.Fatal(err)
	}
	pol, _ = c.GetCertificatePolicy(ctx, "web", nil)
	if *pol.X509CertificateProperties.ValidityInMonths != 3 || *pol.X509CertificateProperties.Subject != "CN=www.example.com" {
		t.Errorf("patched policy: validity %d subject %s", *pol.X509CertificateProperties.ValidityInMonths, *pol.X509CertificateProperties.Subject)
	}
	n := 0
	pager := c.NewListCertificatePropertiesPager(nil)
	for pager.More() {
		p, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range p.Value {
			n++
			if strings.Contains(string(*it.ID), "cancelme") {
				t.Error("a certificate without a version is listed without includePending")
			}
		}
	}
	if n != 4 { // self1, web, imported-pfx, imported-pem
		t.Errorf("%d certificates listed, want 4", n)
	}
}
