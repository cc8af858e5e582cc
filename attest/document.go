package attest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// TimeLayoutParse parses Azure's timeStamp strings ("04/19/22 01:27:21 -0000").
// The -0700 element accepts Azure's literal -0000 and yields UTC.
const TimeLayoutParse = "01/02/06 15:04:05 -0700"

// TimeLayoutFormat formats a UTC time the way Azure writes it. Go treats
// "-0000" as literal text, whereas -0700 would print "+0000", which is not
// Azure's string.
const TimeLayoutFormat = "01/02/06 15:04:05 -0000"

// API versions at which fields first appear in the attested document.
const (
	apiVersionSubscriptionID = "2019-04-30"
	apiVersionSKU            = "2019-11-01"
	apiVersionLicenseType    = "2020-09-01"
)

// A Document is the signed JSON content of an attested document.
type Document struct {
	// LicenseType is the Azure Hybrid Benefit licence type, e.g.
	// "Windows_Client"; empty when none applies. Since 2020-09-01.
	LicenseType string
	// Nonce is the caller's nonce, or IMDS's default UTC time
	// "YYYYMMDD-HHMMSS" when the caller sent none.
	Nonce string
	// Plan is the Marketplace plan; all members are empty for
	// non-Marketplace images.
	Plan Plan
	// SKU is the image SKU. Since 2019-11-01.
	SKU string
	// SubscriptionID is the Azure subscription. Since 2019-04-30.
	SubscriptionID string
	// TimeStamp holds the creation and expiry of the signed document.
	TimeStamp TimeStamp
	// VMID is the VM's unique ID (a UUID).
	VMID string
}

// A Plan is the Marketplace plan of the VM image.
type Plan struct {
	Name      string
	Product   string
	Publisher string
}

// A TimeStamp holds the validity window of an attested document. A zero
// time means the field was absent or empty.
type TimeStamp struct {
	CreatedOn time.Time
	ExpiresOn time.Time
}

// MarshalAzure returns the document as Azure serialises it for apiVersion:
// compact JSON, keys in ASCII order, the key "timeStamp" with a capital S,
// times in UTC with TimeLayoutFormat, and only the fields that exist at that
// api-version (subscriptionId from 2019-04-30, sku from 2019-11-01,
// licenseType from 2020-09-01). Fields that do not apply are written as
// empty strings, as Azure does. apiVersion is compared by its leading
// YYYY-MM-DD; an unrecognisable value is treated as the newest version.
func (d Document) MarshalAzure(apiVersion string) []byte {
	v := apiVersion
	if len(v) >= 10 {
		v = v[:10]
	}
	if !isDate(v) {
		v = "9999-12-31"
	}
	var b bytes.Buffer
	b.WriteByte('{')
	if v >= apiVersionLicenseType {
		writeKV(&b, "licenseType", d.LicenseType)
		b.WriteByte(',')
	}
	writeKV(&b, "nonce", d.Nonce)
	b.WriteString(`,"plan":{`)
	writeKV(&b, "name", d.Plan.Name)
	b.WriteByte(',')
	writeKV(&b, "product", d.Plan.Product)
	b.WriteByte(',')
	writeKV(&b, "publisher", d.Plan.Publisher)
	b.WriteByte('}')
	if v >= apiVersionSKU {
		b.WriteByte(',')
		writeKV(&b, "sku", d.SKU)
	}
	if v >= apiVersionSubscriptionID {
		b.WriteByte(',')
		writeKV(&b, "subscriptionId", d.SubscriptionID)
	}
	b.WriteString(`,"timeStamp":{`)
	writeKV(&b, "createdOn", formatAzureTime(d.TimeStamp.CreatedOn))
	b.WriteByte(',')
	writeKV(&b, "expiresOn", formatAzureTime(d.TimeStamp.ExpiresOn))
	b.WriteString("},")
	writeKV(&b, "vmId", d.VMID)
	b.WriteByte('}')
	return b.Bytes()
}

func isDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

// formatAzureTime formats t in UTC with Azure's literal -0000; a zero time
// becomes the empty string so that absent fields round-trip.
func formatAzureTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeLayoutFormat)
}

// writeKV writes "key":"value". HTML escaping is off because Azure's
// serializer does not turn <, > and & into \u003c etc.
func writeKV(b *bytes.Buffer, key, value string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(key) // strings always encode
	b.Truncate(b.Len() - 1)
	b.WriteByte(':')
	_ = enc.Encode(value)
	b.Truncate(b.Len() - 1)
}

// wireDocument mirrors the JSON keys exactly; string fields make
// encoding/json reject numbers, booleans and objects where a string belongs.
type wireDocument struct {
	LicenseType string `json:"licenseType"`
	Nonce       string `json:"nonce"`
	Plan        struct {
		Name      string `json:"name"`
		Product   string `json:"product"`
		Publisher string `json:"publisher"`
	} `json:"plan"`
	SKU            string `json:"sku"`
	SubscriptionID string `json:"subscriptionId"`
	TimeStamp      struct {
		CreatedOn string `json:"createdOn"`
		ExpiresOn string `json:"expiresOn"`
	} `json:"timeStamp"`
	VMID string `json:"vmId"`
}

// maxJSONDepth bounds nesting in checkStrictJSON; Azure's document has depth 2.
const maxJSONDepth = 16

// ParseDocument decodes the signed JSON content of an attested document.
// Decoding is strict where a lenient decoder would let two parsers disagree:
// duplicate keys (at any depth), trailing data and non-string values for
// known fields are rejected. Unknown fields are ignored because Azure adds
// fields with new api-versions. Errors wrap ErrMalformed.
func ParseDocument(content []byte) (*Document, error) {
	if err := checkStrictJSON(content); err != nil {
		return nil, newErr(ErrMalformed, "claims", "document JSON is not strict: "+err.Error(), nil)
	}
	var w wireDocument
	if err := json.Unmarshal(content, &w); err != nil {
		return nil, newErr(ErrMalformed, "claims", "document JSON does not match the attested document schema", err)
	}
	created, err := parseAzureTime(w.TimeStamp.CreatedOn)
	if err != nil {
		return nil, newErr(ErrMalformed, "claims", "timeStamp.createdOn is not in the form 01/02/06 15:04:05 -0000", err)
	}
	expires, err := parseAzureTime(w.TimeStamp.ExpiresOn)
	if err != nil {
		return nil, newErr(ErrMalformed, "claims", "timeStamp.expiresOn is not in the form 01/02/06 15:04:05 -0000", err)
	}
	return &Document{
		LicenseType:    w.LicenseType,
		Nonce:          w.Nonce,
		Plan:           Plan{Name: w.Plan.Name, Product: w.Plan.Product, Publisher: w.Plan.Publisher},
		SKU:            w.SKU,
		SubscriptionID: w.SubscriptionID,
		TimeStamp:      TimeStamp{CreatedOn: created, ExpiresOn: expires},
		VMID:           w.VMID,
	}, nil
}

func parseAzureTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(TimeLayoutParse, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// checkStrictJSON walks the token stream once to find what encoding/json
// silently accepts: duplicate object keys (it keeps the last), trailing data
// and a top level that is not an object.
func checkStrictJSON(data []byte) error {
	if ok, decided := quickStrictJSON(data); decided {
		if !ok {
			return errors.New("duplicate object key")
		}
		return nil
	}
	return walkStrictJSON(data)
}

// walkStrictJSON is checkStrictJSON by encoding/json's token stream.
func walkStrictJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("top level is not a JSON object")
	}
	if err := walkObject(dec, 1); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// quickStrictJSON answers checkStrictJSON for the common case without the token
// stream: syntactically valid JSON (json.Valid) whose top level is an object, whose keys
// are plain ASCII without escapes, and which nests at most maxJSONDepth deep; it then only has to
// find a repeated key in an object. decided is false for anything else (escaped keys
// can spell one key two ways), which takes the token walk.
func quickStrictJSON(data []byte) (ok, decided bool) {
	data = bytes.Trim(data, " \t\r\n") // JSON's whitespace, not Unicode's
	if len(data) == 0 || data[0] != '{' || !json.Valid(data) {
		return false, false
	}
	type frame struct {
		object bool
		keys   []string
	}
	var stack []frame
	expectKey := false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '{', '[':
			if len(stack) >= maxJSONDepth {
				return false, false
			}
			stack = append(stack, frame{object: c == '{'})
			expectKey = c == '{'
		case '}', ']':
			stack = stack[:len(stack)-1]
			expectKey = false
		case ',':
			expectKey = stack[len(stack)-1].object
		case '"':
			j := i + 1
			for ; data[j] != '"'; j++ {
				if expectKey && (data[j] == '\\' || data[j] >= 0x80) {
					// Escapes, and invalid UTF-8 (which encoding/json turns into U+FFFD),
					// can make two spellings one key: leave those to the token walk.
					return false, false
				}
				if data[j] == '\\' {
					j++ // skip the escaped character, which may be a quote
				}
			}
			if expectKey {
				top := &stack[len(stack)-1]
				key := string(data[i+1 : j])
				for _, k := range top.keys {
					if k == key {
						return false, true
					}
				}
				top.keys = append(top.keys, key)
				expectKey = false
			}
			i = j
		}
	}
	return true, true
}

func walkObject(dec *json.Decoder, depth int) error {
	if depth > maxJSONDepth {
		return errors.New("JSON nested too deeply")
	}
	seen := map[string]bool{}
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok && d == '}' {
			return nil
		}
		key, ok := tok.(string)
		if !ok {
			return errors.New("object key is not a string")
		}
		if seen[key] {
			return fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		if err := walkValue(dec, depth); err != nil {
			return err
		}
	}
}

func walkValue(dec *json.Decoder, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		return walkObject(dec, depth+1)
	case '[':
		if depth+1 > maxJSONDepth {
			return errors.New("JSON nested too deeply")
		}
		for dec.More() {
			if err := walkValue(dec, depth+1); err != nil {
				return err
			}
		}
		_, err := dec.Token() // closing ]
		return err
	}
	return fmt.Errorf("unexpected delimiter %q", d)
}
