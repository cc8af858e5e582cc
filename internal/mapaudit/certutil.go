package mapaudit

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tegata-project/tegata/mapping"
)

// ReadCertutilCSVFile reads a CA database export file; see ReadCertutilCSV.
func ReadCertutilCSVFile(path string, fn func(CertificateInput)) ([]Problem, error) {
	data, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	return ReadCertutilCSV(data, path, fn)
}

// csvColumns are the English header names certutil writes (display names)
// and the property names given to -out, compared without spaces and case.
var csvColumns = map[string]string{
	"binarycertificate": "raw", "rawcertificate": "raw",
	"requestername":   "requester",
	"issuedrequestid": "request", "requestid": "request",
}

// ReadCertutilCSV reads the CSV written by
//
//	certutil -view -restrict "Disposition=20" -out "RequestID,RequesterName,SerialNumber,CertificateTemplate,RawCertificate" csv
//
// and calls fn with each certificate. Header names are localised: the raw
// certificate column is found by its English name ("Binary Certificate" or
// "RawCertificate") or else as the column whose first value is a base64
// certificate. Every date and serial comes from the raw certificate, since
// the serial column is in display order and the others are localised;
// RequesterName, when its column is found, is kept as a hint only (it is
// the enrolling identity, such as an NDES service account, not the owner).
//
// A row whose certificate does not parse is a Problem naming the file and
// line; the rest is still read. The error is returned when the file has no
// usable header or no certificate column at all.
func ReadCertutilCSV(data []byte, origin string, fn func(CertificateInput)) ([]Problem, error) {
	data = toUTF8(data)
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: %s is over the %d-byte limit: export in parts with -restrict", ErrTooLarge, origin, MaxFileSize)
	}
	r := csv.NewReader(bufio.NewReader(bytes.NewReader(data)))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: no header row (%v): export with certutil -view ... csv", ErrCSV, origin, err)
	}
	cols := map[string]int{}
	for i, h := range header {
		key := strings.ToLower(strings.Join(strings.Fields(strings.Trim(h, "\ufeff")), ""))
		if role, ok := csvColumns[key]; ok {
			if _, dup := cols[role]; !dup {
				cols[role] = i
			}
		}
	}
	var probs []Problem
	raw, haveRaw := cols["raw"]
	for row := 1; ; row++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// With FieldsPerRecord -1 and LazyQuotes, only broken quoting
			// or I/O fails, and the reader cannot find the next row again.
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return probs, fmt.Errorf("%w: %s:%d: %v: export again with certutil -out ... csv", ErrCSV, origin, pe.Line, pe.Err)
			}
			return probs, fmt.Errorf("%w: %s: %v", ErrCSV, origin, err)
		}
		if len(rec) == 0 {
			continue
		}
		line, _ := r.FieldPos(0)
		where := fmt.Sprintf("%s:%d", origin, line)
		if !haveRaw {
			for i, f := range rec {
				if _, err := decodeCSVCertificate(f); err == nil {
					raw, haveRaw = i, true
					break
				}
			}
			if !haveRaw {
				return probs, fmt.Errorf("%w: %s: no RawCertificate column (header %q, and no column of row %d holds a base64 certificate): add RawCertificate to certutil -out", ErrCSV, origin, truncate(strings.Join(header, ","), 120), row)
			}
		}
		if raw >= len(rec) {
			probs = append(probs, Problem{Origin: where, Err: fmt.Errorf("%w: row has %d fields, the certificate is field %d", ErrCSV, len(rec), raw+1)})
			continue
		}
		if id, ok := cols["request"]; ok && id < len(rec) && rec[id] != "" {
			where += " (request " + rec[id] + ")"
		}
		field := rec[raw]
		if strings.EqualFold(strings.TrimSpace(field), "EMPTY") || strings.TrimSpace(field) == "" {
			probs = append(probs, Problem{Origin: where, Err: fmt.Errorf("%w: the row has no certificate", ErrCSV)})
			continue
		}
		der, err := decodeCSVCertificate(field)
		if err != nil {
			probs = append(probs, Problem{Origin: where, Err: fmt.Errorf("%w: RawCertificate: %v", ErrCSV, err)})
			continue
		}
		c, err := mapping.ParseCertificate(der)
		if err != nil {
			probs = append(probs, Problem{Origin: where, Err: fmt.Errorf("%w: check the export's RawCertificate column", err)})
			continue
		}
		in := CertificateInput{Cert: c, Origin: where}
		if i, ok := cols["requester"]; ok && i < len(rec) && !strings.EqualFold(rec[i], "EMPTY") {
			in.Requester = rec[i]
		}
		fn(in)
	}
	return probs, nil
}

// decodeCSVCertificate decodes a RawCertificate field: base64 DER, with or
// without BEGIN/END CERTIFICATE lines and line breaks.
func decodeCSVCertificate(f string) ([]byte, error) {
	f = strings.TrimSpace(f)
	f = strings.TrimPrefix(f, "-----BEGIN CERTIFICATE-----")
	f = strings.TrimSuffix(f, "-----END CERTIFICATE-----")
	f = strings.Join(strings.Fields(f), "")
	if len(f) < 64 {
		return nil, errors.New("too short for a base64 certificate")
	}
	der, err := base64.StdEncoding.DecodeString(f)
	if err != nil {
		return nil, fmt.Errorf("not base64: %v", err)
	}
	if der[0] != 0x30 {
		return nil, errors.New("base64 but not a DER certificate")
	}
	return der, nil
}
