package attest

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/smallstep/pkcs7"
)

// A ChainRequest tells an IntermediateSource what path Verify is building.
type ChainRequest struct {
	// Signer is the certificate that signed the document.
	Signer *x509.Certificate
	// Roots is the explicit root pool.
	Roots *x509.CertPool
	// Known are the intermediates gathered so far from earlier sources.
	Known []*x509.Certificate
	// At is the verification time.
	At time.Time
}

// An IntermediateSource supplies candidate intermediate certificates. Every
// certificate it returns is an untrusted hint: Verify puts it in the
// intermediates pool, never in the roots, so a wrong or hostile certificate
// can make verification fail but never succeed. An error from a source is
// not fatal; Verify records it and carries on with the other sources.
type IntermediateSource interface {
	Intermediates(ctx context.Context, req ChainRequest) ([]*x509.Certificate, error)
}

// A FallbackSource is an IntermediateSource that Verify consults only when
// the path cannot be built from the other sources (x509.UnknownAuthorityError),
// and only after every offline check of the document has passed. AIAFetcher
// is one, because it touches the network.
type FallbackSource interface {
	IntermediateSource
	FallbackOnly() bool
}

type staticSource []*x509.Certificate

func (s staticSource) Intermediates(context.Context, ChainRequest) ([]*x509.Certificate, error) {
	return s, nil
}

// StaticIntermediates returns a source that always offers certs, for example
// a bundle compiled into the program.
func StaticIntermediates(certs ...*x509.Certificate) IntermediateSource {
	return staticSource(append([]*x509.Certificate(nil), certs...))
}

// Limits for BundleDir, so a misconfigured path (say, /) costs bounded work.
const (
	maxBundleFiles    = 512
	maxBundleFileSize = 256 << 10
)

// A bundleDir reads its directory on every call, so an operator can replace
// the bundle without restarting the verifier.
type bundleDir struct{ path string }

// BundleDir returns a source that reads every regular file in the directory
// path (not its subdirectories) and offers the certificates found in them.
// A file may hold one DER certificate or any number of PEM "CERTIFICATE"
// blocks. Files larger than 256 KiB and files that hold no certificate are
// reported in the returned error while the certificates from the other files
// are still used; at most 512 files are read.
func BundleDir(path string) IntermediateSource { return bundleDir{path: path} }

func (b bundleDir) Intermediates(context.Context, ChainRequest) ([]*x509.Certificate, error) {
	entries, err := os.ReadDir(b.path)
	if err != nil {
		return nil, fmt.Errorf("attest: intermediates bundle %s: %w (check the path, or run a bundle refresh)", b.path, err)
	}
	var certs []*x509.Certificate
	var errs []error
	n := 0
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if n++; n > maxBundleFiles {
			errs = append(errs, fmt.Errorf("attest: intermediates bundle %s: more than %d files; the rest were ignored", b.path, maxBundleFiles))
			break
		}
		p := filepath.Join(b.path, e.Name())
		data, err := readBounded(p, maxBundleFileSize)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cs, err := ParseCertificates(data)
		if err != nil {
			errs = append(errs, fmt.Errorf("attest: intermediates bundle file %s: %w", p, err))
			continue
		}
		certs = append(certs, cs...)
	}
	return certs, errors.Join(errs...)
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("attest: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("attest: read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("attest: %s is larger than %d bytes; skipped", path, limit)
	}
	return data, nil
}

// ParseCertificates reads certificates in PEM (CERTIFICATE blocks; other blocks are
// skipped), a single DER certificate, or a certs-only PKCS#7 (.p7c): the
// three forms CA Issuers URLs and bundle files come in.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	// PEM files may carry text before their blocks (tegata's bundle.pem names each CA
	// in a comment line), so look for a block anywhere, not only at the start.
	trimmed := bytes.TrimSpace(data)
	if bytes.Contains(trimmed, []byte("-----BEGIN")) {
		var certs []*x509.Certificate
		rest := trimmed
		for len(certs) < MaxCertificates*10 {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM certificate %d: %w", len(certs)+1, err)
			}
			certs = append(certs, c)
		}
		if len(certs) == 0 {
			return nil, errors.New("no PEM CERTIFICATE block")
		}
		return certs, nil
	}
	if c, err := x509.ParseCertificate(data); err == nil {
		return []*x509.Certificate{c}, nil
	}
	if cs, err := parseCertsOnlyPKCS7(data); err == nil && len(cs) > 0 {
		return cs, nil
	}
	return nil, errors.New("neither PEM, DER certificate nor PKCS#7 certificates")
}

// parseCertsOnlyPKCS7 reads the certificates of a degenerate (certs-only)
// PKCS#7 as served for .p7c files. Nothing in it is verified.
func parseCertsOnlyPKCS7(data []byte) (certs []*x509.Certificate, err error) {
	if len(data) > MaxDERSize {
		return nil, errors.New("PKCS#7 too large")
	}
	defer func() {
		if r := recover(); r != nil {
			certs, err = nil, fmt.Errorf("PKCS#7 parser panicked: %v", r)
		}
	}()
	p7, err := pkcs7.Parse(data)
	if err != nil {
		return nil, err
	}
	if len(p7.Certificates) > MaxCertificates {
		return nil, errors.New("PKCS#7 holds too many certificates")
	}
	return p7.Certificates, nil
}
