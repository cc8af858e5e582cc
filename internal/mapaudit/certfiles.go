package mapaudit

import (
	"bytes"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/tegata-project/tegata/mapping"
)

// CertFileOptions says how to read certificate files.
type CertFileOptions struct {
	// PFXPassword opens PFX/P12 files; the empty password is tried when it
	// is empty. Private keys are never read.
	PFXPassword string
}

// certExtensions are the file names read when walking a directory; a file
// named explicitly is read whatever its name.
var certExtensions = map[string]bool{
	".pem": true, ".crt": true, ".cer": true, ".cert": true, ".der": true,
	".p7b": true, ".p7c": true, ".p7": true, ".pfx": true, ".p12": true,
}

// WalkCertificateFiles reads the certificates in each path, a file or a
// directory walked recursively (files with a certificate extension only:
// .pem .crt .cer .cert .der .p7b .p7c .pfx .p12), and calls fn with each
// one, in order. A file that cannot be read or a certificate that does not
// parse is a Problem; the walk goes on.
func WalkCertificateFiles(paths []string, opts CertFileOptions, fn func(CertificateInput)) []Problem {
	var probs []Problem
	var r fileReader
	for _, root := range paths {
		fi, err := os.Stat(root)
		if err != nil {
			probs = append(probs, Problem{Origin: root, Err: fmt.Errorf("%w: check the path", err)})
			continue
		}
		if !fi.IsDir() {
			probs = append(probs, r.readCertificateFile(root, opts, fn)...)
			continue
		}
		err = filepath.WalkDir(root, func(path string, de fs.DirEntry, err error) error {
			if err != nil {
				probs = append(probs, Problem{Origin: path, Err: err})
				return nil
			}
			if de.Type().IsRegular() && certExtensions[strings.ToLower(filepath.Ext(path))] {
				probs = append(probs, r.readCertificateFile(path, opts, fn)...)
			}
			return nil
		})
		if err != nil {
			probs = append(probs, Problem{Origin: root, Err: err})
		}
	}
	return probs
}

// ReadCertificateFiles is WalkCertificateFiles collecting the certificates.
func ReadCertificateFiles(paths []string, opts CertFileOptions) ([]CertificateInput, []Problem) {
	var out []CertificateInput
	probs := WalkCertificateFiles(paths, opts, func(in CertificateInput) { out = append(out, in) })
	return out, probs
}

// fileReader reads certificate files into one buffer, reused from a PEM
// file to the next: certificates decoded from PEM own their bytes, while
// those of a DER file point into the buffer, which is then left to them.
type fileReader struct{ buf []byte }

func (r *fileReader) readCertificateFile(path string, opts CertFileOptions, fn func(CertificateInput)) []Problem {
	data, err := readBoundedInto(path, r.buf)
	if err != nil {
		return []Problem{{Origin: path, Err: err}}
	}
	probs := DecodeCertificates(data, path, opts, fn)
	r.buf = nil
	if isPEMInput(data) {
		r.buf = data[:0]
	}
	return probs
}

// isPEMInput reports whether DecodeCertificates reads data as PEM.
func isPEMInput(data []byte) bool {
	return len(bytes.TrimSpace(data)) > 0 && bytes.Contains(data, []byte("-----BEGIN"))
}

// DecodeCertificates reads the certificates of one file's contents: PEM
// (every CERTIFICATE and PKCS7 block; keys and requests are skipped), DER,
// concatenated DER, base64 DER without PEM lines, PKCS#7 SignedData
// bundles (.p7b, DER or PEM) and PFX/P12. Origins are name:line for PEM
// blocks and name#n for the n-th certificate of a binary bundle.
func DecodeCertificates(data []byte, name string, opts CertFileOptions, fn func(CertificateInput)) []Problem {
	d := &certDecoder{name: name, opts: opts, fn: fn}
	d.parser.DeferCandidates = true
	switch trimmed := bytes.TrimSpace(data); {
	case len(trimmed) == 0:
		d.fail(name, fmt.Errorf("%w: the file is empty", ErrNotCertificate))
	case isPEMInput(data):
		d.pemBlocks(data)
	case data[0] == 0x30:
		d.der(data, name)
	default:
		raw, err := base64.StdEncoding.DecodeString(string(bytes.Join(bytes.Fields(trimmed), nil)))
		if err != nil || len(raw) == 0 || raw[0] != 0x30 {
			d.fail(name, fmt.Errorf("%w: neither PEM, DER, base64 DER, PKCS#7 nor PFX: give certificate files", ErrNotCertificate))
			break
		}
		d.der(raw, name)
	}
	if d.count == 0 && len(d.probs) == 0 {
		d.fail(name, fmt.Errorf("%w: no certificate in the file", ErrNotCertificate))
	}
	return d.probs
}

type certDecoder struct {
	// parser renders each issuer name once per file.
	parser mapping.Parser
	name   string
	opts   CertFileOptions
	fn     func(CertificateInput)
	probs  []Problem
	count  int
}

func (d *certDecoder) fail(origin string, err error) {
	d.probs = append(d.probs, Problem{Origin: origin, Err: err})
}

func (d *certDecoder) emit(der []byte, origin string) {
	if d.count >= MaxCertificatesPerFile {
		if d.count == MaxCertificatesPerFile {
			d.fail(origin, fmt.Errorf("%w: more than %d certificates in one file; the rest are ignored", ErrTooLarge, MaxCertificatesPerFile))
		}
		d.count++
		return
	}
	c, err := d.parser.Parse(der)
	if err != nil {
		d.fail(origin, fmt.Errorf("%w: re-export the certificate (certutil -encode, or openssl x509 -outform PEM)", err))
		return
	}
	d.count++
	d.fn(CertificateInput{Cert: c, Origin: origin})
}

// pemBlocks decodes each PEM block on its own, so that a broken block is
// reported at its line instead of being skipped silently by pem.Decode.
func (d *certDecoder) pemBlocks(data []byte) {
	begin := []byte("-----BEGIN")
	line, counted := 1, 0 // line number at offset counted, kept incrementally
	for off := 0; ; {
		i := bytes.Index(data[off:], begin)
		if i < 0 {
			return
		}
		start := off + i
		end := len(data)
		if j := bytes.Index(data[start+1:], begin); j >= 0 {
			end = start + 1 + j
		}
		off = end
		line += bytes.Count(data[counted:start], []byte("\n"))
		counted = start
		origin := d.name + ":" + strconv.Itoa(line)
		block := decodePEMBlock(data[start:end])
		if block == nil {
			d.fail(origin, fmt.Errorf("%w: the PEM block is not valid base64 or has no matching END line: re-export it", ErrNotCertificate))
			continue
		}
		switch block.Type {
		case "CERTIFICATE", "X509 CERTIFICATE":
			d.emit(block.Bytes, origin)
		case "TRUSTED CERTIFICATE":
			der := block.Bytes
			// OpenSSL's TRUSTED CERTIFICATE appends trust settings after
			// the certificate: keep the first element only.
			var rv asn1.RawValue
			if rest, err := asn1.Unmarshal(der, &rv); err == nil && len(rest) > 0 {
				der = rv.FullBytes
			}
			d.emit(der, origin)
		case "PKCS7", "CMS":
			d.pkcs7(block.Bytes, origin)
		}
	}
}

// decodePEMBlock decodes the PEM block at the start of b as pem.Decode
// does, or returns nil. A block without headers whose base64 lines hold
// nothing but base64 and line breaks is decoded directly (encoding/base64
// skips CR and LF), which is several times faster than pem.Decode; any
// other block goes through pem.Decode.
func decodePEMBlock(b []byte) *pem.Block {
	const begin, end, dashes = "-----BEGIN ", "-----END ", "-----"
	if !bytes.HasPrefix(b, []byte(begin)) {
		return nil
	}
	typeLine, body := pemLine(b[len(begin):])
	if !bytes.HasSuffix(typeLine, []byte(dashes)) || len(body) == 0 {
		return slowPEMBlock(b)
	}
	typ := typeLine[:len(typeLine)-len(dashes)]
	e := bytes.Index(body, []byte("\n"+end))
	if e < 0 {
		return slowPEMBlock(b)
	}
	trailer := body[e+1+len(end):]
	if !bytes.HasPrefix(trailer, typ) || !bytes.HasPrefix(trailer[len(typ):], []byte(dashes)) || bytes.IndexByte(body[:e], ':') >= 0 {
		return slowPEMBlock(b)
	}
	if restOfLine, _ := pemLine(trailer[len(typ)+len(dashes):]); len(restOfLine) != 0 {
		return slowPEMBlock(b)
	}
	der := make([]byte, base64.StdEncoding.DecodedLen(e))
	n, ok := decodeBase64Lines(der, body[:e])
	if !ok {
		return slowPEMBlock(b)
	}
	return &pem.Block{Type: string(typ), Bytes: der[:n]}
}

// decodeBase64Lines decodes base64 text broken into lines of a multiple
// of four characters (as PEM writers break it), a line at a time:
// encoding/base64 leaves its fast path at every line break, so giving it
// whole lines is about twice as fast. Any other layout is decoded in one
// call, which skips the line breaks itself.
func decodeBase64Lines(dst, text []byte) (int, bool) {
	n := 0
	for rest := text; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line)%4 != 0 || len(rest) > 0 && bytes.IndexByte(line, '=') >= 0 {
			k, err := base64.StdEncoding.Decode(dst, text)
			return k, err == nil
		}
		k, err := base64.StdEncoding.Decode(dst[n:], line)
		if err != nil {
			return 0, false
		}
		n += k
	}
	return n, true
}

// pemLine splits off the first line as encoding/pem does: without its LF,
// the CR before it, and trailing spaces and tabs.
func pemLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	j := i + 1
	switch {
	case i < 0:
		i, j = len(b), len(b)
	case i > 0 && b[i-1] == '\r':
		i--
	}
	return bytes.TrimRight(b[:i], " \t"), b[j:]
}

func slowPEMBlock(b []byte) *pem.Block {
	block, _ := pem.Decode(b)
	return block
}

// der dispatches on the first element inside the outer SEQUENCE: a
// certificate starts with its TBSCertificate SEQUENCE, a PKCS#7 ContentInfo
// with an OID, a PFX with the INTEGER version 3.
func (d *certDecoder) der(data []byte, origin string) {
	var outer asn1.RawValue
	if _, err := asn1.Unmarshal(data, &outer); err != nil || len(outer.Bytes) == 0 {
		d.fail(origin, fmt.Errorf("%w: not DER (%v): give PEM, DER, PKCS#7 or PFX files", ErrNotCertificate, err))
		return
	}
	switch outer.Bytes[0] {
	case 0x06:
		d.pkcs7(data, origin)
	case 0x02:
		d.pfx(data, origin)
	default:
		for n := 1; len(data) > 0; n++ {
			var rv asn1.RawValue
			rest, err := asn1.Unmarshal(data, &rv)
			where := origin
			if n > 1 || len(rest) > 0 {
				where = fmt.Sprintf("%s#%d", origin, n)
			}
			if err != nil {
				d.fail(where, fmt.Errorf("%w: truncated DER (%v): re-export the file", ErrNotCertificate, err))
				return
			}
			d.emit(rv.FullBytes, where)
			data = rest
		}
	}
}

func (d *certDecoder) pkcs7(data []byte, origin string) {
	certs, err := pkcs7Certificates(data)
	if err != nil {
		d.fail(origin, err)
		return
	}
	if len(certs) == 0 {
		d.fail(origin, fmt.Errorf("%w: the PKCS#7 bundle holds no certificate", ErrNotCertificate))
		return
	}
	for i, c := range certs {
		d.emit(c, fmt.Sprintf("%s#%d", origin, i+1))
	}
}

func (d *certDecoder) pfx(data []byte, origin string) {
	_, leaf, chain, err := pkcs12.DecodeChain(data, d.opts.PFXPassword)
	if err != nil {
		certs, err2 := pkcs12.DecodeTrustStore(data, d.opts.PFXPassword)
		if err2 != nil {
			if errors.Is(err, pkcs12.ErrIncorrectPassword) {
				d.fail(origin, fmt.Errorf("%w: wrong PFX password: give it with --pfx-password-env", err))
			} else {
				d.fail(origin, fmt.Errorf("PFX: %w (export the certificates as .cer or .p7b instead)", err))
			}
			return
		}
		for i, c := range certs {
			d.emit(c.Raw, fmt.Sprintf("%s#%d", origin, i+1))
		}
		return
	}
	d.emit(leaf.Raw, origin+"#1")
	for i, c := range chain {
		d.emit(c.Raw, fmt.Sprintf("%s#%d", origin, i+2))
	}
}

// oidSignedData is PKCS#7 signedData, 1.2.840.113549.1.7.2.
var oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}

// pkcs7Certificates returns the DER certificates of a PKCS#7 SignedData
// (RFC 5652 5.1): ContentInfo, then SignedData's certificates [0] IMPLICIT
// SET. Other CertificateChoices (attribute certificates) are skipped.
func pkcs7Certificates(der []byte) ([][]byte, error) {
	bad := func(what string, err error) error {
		return fmt.Errorf("%w: PKCS#7 %s (%v): export the bundle again as DER or PEM .p7b", ErrNotCertificate, what, err)
	}
	var ci struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"explicit,tag:0"`
	}
	if _, err := asn1.Unmarshal(der, &ci); err != nil {
		return nil, bad("ContentInfo", err)
	}
	if !ci.Type.Equal(oidSignedData) {
		return nil, fmt.Errorf("%w: PKCS#7 content type %s is not signedData", ErrNotCertificate, ci.Type)
	}
	// The explicit [0] wrapper is kept in the RawValue: SignedData is inside.
	content := ci.Content.FullBytes
	if ci.Content.Class == asn1.ClassContextSpecific {
		content = ci.Content.Bytes
	}
	var sd asn1.RawValue
	if _, err := asn1.Unmarshal(content, &sd); err != nil || sd.Tag != asn1.TagSequence {
		return nil, bad("SignedData", err)
	}
	rest := sd.Bytes
	for i := 0; len(rest) > 0; i++ {
		var el asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &el); err != nil {
			return nil, bad("SignedData element", err)
		}
		if i < 3 || el.Class != asn1.ClassContextSpecific || el.Tag != 0 {
			continue
		}
		var out [][]byte
		certs := el.Bytes
		for len(certs) > 0 {
			var c asn1.RawValue
			if certs, err = asn1.Unmarshal(certs, &c); err != nil {
				return nil, bad("certificate set", err)
			}
			if c.Class == asn1.ClassUniversal && c.Tag == asn1.TagSequence {
				out = append(out, c.FullBytes)
			}
		}
		return out, nil
	}
	return nil, nil
}
