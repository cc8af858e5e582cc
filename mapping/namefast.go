package mapping

import (
	"fmt"
	"unicode/utf8"
)

// A direct renderer of DER names: it walks the encoding and appends the
// KDC's string without building a Name, since an audit renders two names
// per certificate. renderedName (below) and Name.Render must agree; a fuzz
// test compares them.

// cryptoAPIKeysDER is cryptoAPIKeys keyed by the OID's DER contents.
var cryptoAPIKeysDER = func() map[string]string {
	m := make(map[string]string, len(cryptoAPIKeys))
	for dotted, key := range cryptoAPIKeys {
		m[string(encodeOID(dotted))] = key
	}
	return m
}()

// encodeOID returns the DER contents of a dotted OID known to be valid.
func encodeOID(dotted string) []byte {
	var arcs []uint64
	var v uint64
	for i := 0; i <= len(dotted); i++ {
		if i == len(dotted) || dotted[i] == '.' {
			arcs = append(arcs, v)
			v = 0
			continue
		}
		v = v*10 + uint64(dotted[i]-'0')
	}
	out := appendBase128(nil, arcs[0]*40+arcs[1])
	for _, a := range arcs[2:] {
		out = appendBase128(out, a)
	}
	return out
}

func appendBase128(b []byte, v uint64) []byte {
	var tmp [10]byte
	i := len(tmp) - 1
	tmp[i] = byte(v & 0x7F)
	for v >>= 7; v > 0; v >>= 7 {
		i--
		tmp[i] = byte(v&0x7F) | 0x80
	}
	return append(b, tmp[i:]...)
}

// appendRenderedName appends the rendering of a DER name to dst, as
// RenderName returns it.
func appendRenderedName(dst, der []byte) (out []byte, certain bool, err error) {
	r := derReader(der)
	seq, ok := r.read(tagSequence)
	if !ok || !r.empty() {
		return dst, false, fmt.Errorf("%w: name is not a single DER SEQUENCE", ErrMalformedCertificate)
	}
	certain = true
	rs := derReader(seq)
	for n := 1; !rs.empty(); n++ {
		set, ok := rs.read(tagSet)
		if !ok {
			return dst, false, fmt.Errorf("%w: RDN %d is not a SET", ErrMalformedCertificate, n)
		}
		if n > 1 {
			dst = append(dst, ',')
		}
		as := derReader(set)
		if as.empty() {
			return dst, false, fmt.Errorf("%w: RDN %d is empty", ErrMalformedCertificate, n)
		}
		for j := 0; !as.empty(); j++ {
			atv, ok := as.read(tagSequence)
			if !ok {
				return dst, false, fmt.Errorf("%w: RDN %d: attribute is not a SEQUENCE", ErrMalformedCertificate, n)
			}
			ar := derReader(atv)
			oid, ok := ar.read(tagOID)
			if !ok {
				return dst, false, fmt.Errorf("%w: RDN %d: bad attribute type", ErrMalformedCertificate, n)
			}
			key, known := cryptoAPIKeysDER[string(oid)]
			if !known {
				dotted := oidString(oid)
				if dotted == "" {
					return dst, false, fmt.Errorf("%w: RDN %d: bad attribute type", ErrMalformedCertificate, n)
				}
				key = "OID." + dotted
				certain = false
			}
			tag, val, full, ok := ar.next()
			if !ok || !ar.empty() {
				return dst, false, fmt.Errorf("%w: RDN %d: bad attribute value", ErrMalformedCertificate, n)
			}
			if j > 0 {
				dst = append(dst, ' ')
			}
			dst = append(dst, key...)
			dst = append(dst, '=')
			var sure bool
			dst, sure = appendValueText(dst, AttributeTypeAndValue{Tag: tag, Value: val, raw: full})
			if !sure {
				certain = false
			}
		}
	}
	return dst, certain, nil
}

// appendValueText appends the value as Render writes it: the text of
// AttributeTypeAndValue.text, quoted by quoteValue unless it is the #hex
// form. The common string types are written without building the text.
func appendValueText(dst []byte, a AttributeTypeAndValue) ([]byte, bool) {
	switch a.Tag {
	case tagPrintable, tagIA5String, tagNumeric, tagVisible, tagUTF8String:
		plain := true
		for _, c := range a.Value {
			if c >= 0x80 {
				plain = false
				break
			}
		}
		if plain || (a.Tag == tagUTF8String && utf8.Valid(a.Value)) {
			return appendQuotedValue(dst, a.Value), true
		}
	}
	text, sure := a.text()
	if isHexForm(text, a) {
		return append(dst, text...), sure
	}
	return append(dst, quoteValue(text)...), sure
}

// appendQuotedValue appends v with quoteValue's quoting.
func appendQuotedValue(dst, v []byte) []byte {
	need := len(v) == 0 || isSpace(v[0]) || isSpace(v[len(v)-1])
	for _, c := range v {
		if need {
			break
		}
		switch c {
		case ',', '+', '=', '"', '\r', '\n', '<', '>', '#', ';':
			need = true
		}
	}
	if !need {
		return append(dst, v...)
	}
	dst = append(dst, '"')
	for _, c := range v {
		if c == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}
