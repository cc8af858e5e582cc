package mapaudit

import (
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf16"
	"unicode/utf8"
)

// Input bounds. Every source checks them so that a hostile or corrupt file
// costs bounded memory; an input over a bound is a Problem, never a crash.
const (
	// MaxFileSize bounds any one input file.
	MaxFileSize = 256 << 20
	// MaxLineLength bounds one logical line (after unfolding) of LDIF, CSV,
	// YAML or .reg input: room for a large certificate in base64.
	MaxLineLength = 4 << 20
	// MaxValuesPerAttribute bounds the values of one attribute of one LDIF
	// entry after merging ranged values.
	MaxValuesPerAttribute = 100_000
	// MaxCertificatesPerFile bounds the certificates read from one file.
	MaxCertificatesPerFile = 1_000_000
)

// Sentinel errors; the errors returned wrap them with the place and the
// remedy. Callers branch with errors.Is.
var (
	// ErrTooLarge reports an input over one of the bounds above.
	ErrTooLarge = errors.New("mapaudit: input too large")
	// ErrLDIFSyntax reports LDIF that does not follow RFC 2849.
	ErrLDIFSyntax = errors.New("mapaudit: LDIF syntax")
	// ErrLDIFURL reports a ":<" URL reference, which tegata never follows.
	ErrLDIFURL = errors.New("mapaudit: LDIF URL reference")
	// ErrCSV reports a certutil CSV export that cannot be used.
	ErrCSV = errors.New("mapaudit: certutil CSV")
	// ErrNotCertificate reports a file or entry that holds no certificate.
	ErrNotCertificate = errors.New("mapaudit: not a certificate")
	// ErrDCDeclaration reports a bad domain-controller declaration.
	ErrDCDeclaration = errors.New("mapaudit: domain controller declaration")
	// ErrRegExport reports a .reg file that cannot be used.
	ErrRegExport = errors.New("mapaudit: registry export")
)

// readBounded reads a whole file, refusing files over MaxFileSize.
func readBounded(path string) ([]byte, error) { return readBoundedInto(path, nil) }

// readBoundedInto is readBounded reading into buf's storage when it is
// large enough.
func readBoundedInto(path string, buf []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var size int64
	if fi, err := f.Stat(); err == nil {
		if fi.Size() > MaxFileSize {
			return nil, fmt.Errorf("%w: %s is %d bytes, over the %d-byte limit: split it", ErrTooLarge, path, fi.Size(), MaxFileSize)
		}
		size = fi.Size()
	}
	// One buffer of the file's size (plus one byte to see EOF), instead of
	// io.ReadAll's doublings; a file that grows while read still stops at
	// the limit.
	b := buf[:0]
	if int64(cap(b)) < size+1 {
		b = make([]byte, 0, size+1)
	}
	for {
		if len(b) == cap(b) {
			if len(b) > MaxFileSize {
				return nil, fmt.Errorf("%w: %s is over the %d-byte limit: split it", ErrTooLarge, path, MaxFileSize)
			}
			b = append(b, 0)[:len(b)]
		}
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%w: %s is over the %d-byte limit: split it", ErrTooLarge, path, MaxFileSize)
	}
	return b, nil
}

// toUTF8 returns text input as UTF-8: UTF-16LE or UTF-16BE with a byte
// order mark (as reg export, ldifde -u and PowerShell's Out-File write it)
// is transcoded; a UTF-8 byte order mark is dropped.
func toUTF8(b []byte) []byte {
	switch {
	case len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF:
		return b[3:]
	case len(b) >= 2 && (b[0] == 0xFF && b[1] == 0xFE || b[0] == 0xFE && b[1] == 0xFF):
		little := b[0] == 0xFF
		b = b[2:]
		u := make([]uint16, len(b)/2)
		for i := range u {
			if little {
				u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
			} else {
				u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
			}
		}
		out := make([]byte, 0, len(u)+len(u)/4)
		for _, r := range utf16.Decode(u) {
			out = utf8.AppendRune(out, r)
		}
		return out
	}
	return b
}
