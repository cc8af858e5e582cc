package mapaudit

// The audit writes one Finding per certificate/account pair, and with
// `-o json` encoding/json.Marshal was the largest cost of the run: about
// 20 µs a finding in reflection, allocations and Fix.MarshalJSON (which
// marshals again). AppendJSON writes the same bytes by hand, with no
// reflection and no allocation beyond growing dst. Keep it in step with the
// json tags of Finding and the types it holds; findings_json_test.go
// compares it with json.Marshal byte for byte.

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends f as JSON, byte for byte what encoding/json.Marshal
// writes for it (a nil f is null), and returns the extended slice.
//
// One difference: json.Marshal fails on a time.Time whose year is outside
// [0,9999] or whose zone offset is 24 hours or more (time.Time.MarshalJSON
// refuses it). AppendJSON cannot fail, so it writes such a time as
// time.Time.AppendFormat with time.RFC3339Nano formats it, in quotes.
func (f *Finding) AppendJSON(dst []byte) []byte {
	if f == nil {
		return append(dst, "null"...)
	}
	dst = f.Certificate.appendJSON(append(dst, `{"certificate":`...))
	if f.Account != nil {
		dst = f.Account.appendJSON(append(dst, `,"account":`...))
	}
	dst = appendJSONArray(dst, `,"foundBy":`, f.FoundBy, true, appendJSONStr)
	dst = appendJSONField(dst, `,"outcome":`, string(f.Outcome))
	dst = f.Worst.appendJSON(append(dst, `,"worst":`...))
	dst = appendJSONField(dst, `,"worstDC":`, f.WorstDC)
	dst = appendJSONField(dst, `,"compatibility":`, string(f.Compatibility))
	dst = appendJSONArray(dst, `,"dcs":`, f.DCs, false, (*DCResult).appendJSON)
	dst = appendJSONArray(dst, `,"values":`, f.Values, true, (*StoredValue).appendJSON)
	dst = appendJSONArray(dst, `,"warnings":`, f.Warnings, true, appendJSONStr)
	dst = appendJSONArray(dst, `,"fixes":`, f.Fixes, true, (*Fix).appendJSON)
	dst = appendJSONArray(dst, `,"advice":`, f.Advice, true, appendJSONStr)
	return append(dst, '}')
}

func (c *CertificateSummary) appendJSON(dst []byte) []byte {
	dst = appendJSONField(dst, `{"origin":`, c.Origin)
	dst = appendJSONField(dst, `,"subject":`, c.Subject)
	dst = appendJSONField(dst, `,"issuer":`, c.Issuer)
	dst = appendJSONField(dst, `,"serial":`, c.Serial)
	dst = appendJSONField(dst, `,"thumbprint":`, c.Thumbprint)
	dst = appendJSONTime(append(dst, `,"notBefore":`...), c.NotBefore)
	dst = appendJSONTime(append(dst, `,"notAfter":`...), c.NotAfter)
	dst = appendJSONOmit(dst, `,"requesterHint":`, c.Requester)
	dst = appendJSONArray(dst, `,"upns":`, c.UPNs, true, appendJSONStr)
	dst = appendJSONArray(dst, `,"dnsNames":`, c.DNSNames, true, appendJSONStr)
	dst = appendJSONOmit(dst, `,"sid":`, c.SID)
	dst = appendJSONOmit(dst, `,"sidSource":`, c.SIDSource)
	dst = appendJSONField(dst, `,"sidState":`, c.SIDState)
	dst = appendJSONField(dst, `,"ntauth":`, c.NTAuth)
	return append(dst, '}')
}

func (a *AccountSummary) appendJSON(dst []byte) []byte {
	dst = appendJSONField(dst, `{"dn":`, a.DN)
	dst = appendJSONField(dst, `,"sid":`, a.SID)
	dst = appendJSONOmit(dst, `,"sAMAccountName":`, a.SAMAccountName)
	dst = appendJSONOmit(dst, `,"userPrincipalName":`, a.UserPrincipalName)
	dst = appendJSONOmit(dst, `,"dNSHostName":`, a.DNSHostName)
	dst = appendJSONField(dst, `,"class":`, a.Class)
	if a.Disabled {
		dst = append(dst, `,"disabled":true`...)
	}
	if a.WhenCreated != nil {
		dst = appendJSONTime(append(dst, `,"whenCreated":`...), *a.WhenCreated)
	}
	dst = appendJSONField(dst, `,"origin":`, a.Origin)
	return append(dst, '}')
}

func (b *Brief) appendJSON(dst []byte) []byte {
	dst = appendJSONField(dst, `{"outcome":`, string(b.Outcome))
	dst = appendJSONOmit(dst, `,"kerberosError":`, b.KerberosError)
	dst = appendJSONInt(dst, `,"event":`, b.EventID)
	dst = appendJSONOmit(dst, `,"level":`, b.Level)
	dst = appendJSONField(dst, `,"mode":`, b.Mode)
	dst = appendJSONField(dst, `,"path":`, string(b.Path))
	dst = appendJSONOmit(dst, `,"mapping":`, b.Mapping)
	dst = appendJSONOmit(dst, `,"mappingType":`, b.MappingType)
	dst = appendJSONOmit(dst, `,"mappingValue":`, b.MappingValue)
	dst = appendJSONField(dst, `,"strength":`, b.Strength)
	dst = appendJSONField(dst, `,"reason":`, b.Reason)
	dst = appendJSONArray(dst, `,"labels":`, b.Labels, true, appendJSONStr)
	return append(dst, '}')
}

func (d *DCResult) appendJSON(dst []byte) []byte {
	dst = appendJSONField(dst, `{"dc":`, d.DC)
	dst = d.Today.appendJSON(append(dst, `,"today":`...))
	dst = d.Compatibility.appendJSON(append(dst, `,"compatibility":`...))
	dst = appendJSONArray(dst, `,"changes":`, d.Changes, true, (*Change).appendJSON)
	return append(dst, '}')
}

func (c *Change) appendJSON(dst []byte) []byte {
	dst = appendJSONField(dst, `{"date":`, c.Date)
	dst = appendJSONField(dst, `,"outcome":`, string(c.Outcome))
	dst = appendJSONField(dst, `,"path":`, string(c.Path))
	dst = appendJSONInt(dst, `,"event":`, c.EventID)
	if c.Future {
		dst = append(dst, `,"future":true`...)
	}
	return append(dst, '}')
}

func (v *StoredValue) appendJSON(dst []byte) []byte {
	dst = appendJSONField(dst, `{"value":`, v.Value)
	dst = appendJSONField(dst, `,"class":`, v.Class)
	dst = appendJSONOmit(dst, `,"type":`, v.Type)
	return append(dst, '}')
}

// appendJSON writes what Fix.MarshalJSON writes.
func (x *Fix) appendJSON(dst []byte) []byte {
	dst = appendJSONField(dst, `{"dn":`, x.DN)
	dst = appendJSONOmit(dst, `,"sid":`, x.SID)
	dst = appendJSONField(dst, `,"class":`, x.Class.String())
	dst = appendJSONField(dst, `,"value":`, x.Value)
	dst = appendJSONField(dst, `,"certificate":`, x.Certificate)
	dst = appendJSONField(dst, `,"reason":`, x.Reason)
	return append(dst, '}')
}

// appendJSONField appends key (punctuation, quoted name and colon) and s.
func appendJSONField(dst []byte, key, s string) []byte {
	return appendJSONString(append(dst, key...), s)
}

// appendJSONOmit is appendJSONField for an omitempty field.
func appendJSONOmit(dst []byte, key, s string) []byte {
	if s == "" {
		return dst
	}
	return appendJSONString(append(dst, key...), s)
}

// appendJSONArray appends key and xs, each element written by elem; an
// empty xs is left out when omitEmpty is set, else written null when nil.
func appendJSONArray[T any](dst []byte, key string, xs []T, omitEmpty bool, elem func(*T, []byte) []byte) []byte {
	if omitEmpty && len(xs) == 0 {
		return dst
	}
	dst = append(dst, key...)
	if xs == nil {
		return append(dst, "null"...)
	}
	for i := range xs {
		dst = elem(&xs[i], append(dst, "[,"[min(i, 1)]))
	}
	if len(xs) == 0 {
		dst = append(dst, '[')
	}
	return append(dst, ']')
}

func appendJSONStr[S ~string](s *S, dst []byte) []byte { return appendJSONString(dst, string(*s)) }

// appendJSONInt appends key and n unless n is 0 (omitempty).
func appendJSONInt(dst []byte, key string, n int) []byte {
	if n == 0 {
		return dst
	}
	return strconv.AppendInt(append(dst, key...), int64(n), 10)
}

// appendJSONTime appends t as time.Time.MarshalJSON writes it: RFC 3339
// with nanoseconds, trailing zeros dropped, in quotes.
func appendJSONTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

// jsonSafe holds true for the ASCII bytes that encoding/json writes as they
// are with HTML escaping on: all printable ASCII and DEL but for " \ < > &.
var jsonSafe = func() (t [256]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

const (
	jsonHex  = "0123456789abcdef"
	jsonOnes = 0x0101010101010101
)

// appendJSONString appends s quoted and escaped as encoding/json does
// (appendString in encoding/json/encode.go with escapeHTML set): \" \\ \b
// \f \n \r \t, \u00XX for the other control bytes and for < > &, \u2028
// and \u2029, and \ufffd for each byte of invalid UTF-8.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Fast path: a run of safe ASCII is copied at once, found eight bytes
		// at a time. With no top bit set in w, byte-wise x-1 sets the top bit
		// of a zero byte of x, and x-0x20 that of a byte < 0x20; w|4 makes "
		// &, and w|2 makes < >.
		for ; i+8 <= len(s); i += 8 {
			t := s[i : i+8]
			w := uint64(t[0]) | uint64(t[1])<<8 | uint64(t[2])<<16 | uint64(t[3])<<24 |
				uint64(t[4])<<32 | uint64(t[5])<<40 | uint64(t[6])<<48 | uint64(t[7])<<56
			const n = jsonOnes
			if (w|(w-0x20*n)|(w^'\\'*n-n)|((w|4*n)^'&'*n-n)|((w|2*n)^'>'*n-n))&(0x80*n) != 0 {
				break
			}
		}
		for i < len(s) && jsonSafe[s[i]] {
			i++
		}
		if i == len(s) {
			break
		}
		b := s[i]
		if b < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b', '\t', '\n', '\f', '\r': // 8, 9, 10, 12, 13
				dst = append(dst, '\\', "btn?fr"[b-'\b'])
			default:
				dst = append(dst, '\\', 'u', '0', '0', jsonHex[b>>4], jsonHex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', jsonHex[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
