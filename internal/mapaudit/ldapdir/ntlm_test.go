package ldapdir

import (
	"bytes"
	"crypto/md5"
	"crypto/x509"
	"encoding/binary"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
)

// challengeMessage builds an NTLM CHALLENGE message with the given target
// information.
func challengeMessage(info []byte) []byte {
	m := make([]byte, 48)
	copy(m, "NTLMSSP\x00")
	binary.LittleEndian.PutUint32(m[8:], 2)
	binary.LittleEndian.PutUint32(m[20:], 0xA2898205)
	copy(m[24:], "CHALLNGE")
	binary.LittleEndian.PutUint16(m[40:], uint16(len(info)))
	binary.LittleEndian.PutUint16(m[42:], uint16(len(info)))
	binary.LittleEndian.PutUint32(m[44:], 48)
	return append(m, info...)
}

func avPair(id uint16, v []byte) []byte {
	b := binary.LittleEndian.AppendUint16(nil, id)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

func TestWithChannelBinding(t *testing.T) {
	timestamp := avPair(0x0007, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	stale := avPair(avChannelBindings, bytes.Repeat([]byte{0xEE}, 16))
	var cbt [16]byte
	copy(cbt[:], "0123456789abcdef")
	for name, info := range map[string][]byte{
		"no target information":  nil,
		"timestamp":              append(append([]byte{}, timestamp...), avPair(avEOL, nil)...),
		"stale binding replaced": append(append(append([]byte{}, stale...), timestamp...), avPair(avEOL, nil)...),
	} {
		in := challengeMessage(info)
		out, err := withChannelBinding(in, cbt)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(out[:40], in[:40]) {
			t.Errorf("%s: the header before the target information changed", name)
		}
		n, off := int(binary.LittleEndian.Uint16(out[40:])), int(binary.LittleEndian.Uint32(out[44:]))
		got := out[off : off+n]
		want := avPair(avChannelBindings, cbt[:])
		if len(info) > 0 {
			want = append(append([]byte{}, timestamp...), want...)
		}
		want = append(want, avPair(avEOL, nil)...)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: target information % X, want % X", name, got, want)
		}
	}
	for name, bad := range map[string][]byte{
		"short":           []byte("NTLMSSP\x00"),
		"not a challenge": append([]byte("NTLMSSP\x00\x01\x00\x00\x00"), make([]byte, 40)...),
		"info outside":    func() []byte { m := challengeMessage(nil); binary.LittleEndian.PutUint16(m[40:], 200); return m }(),
		"truncated pair":  challengeMessage([]byte{7, 0, 8, 0, 1}),
	} {
		if _, err := withChannelBinding(bad, cbt); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestChannelBindingHash(t *testing.T) {
	app := []byte("tls-server-end-point:abc")
	want := md5.Sum(append(append(make([]byte, 16), byte(len(app)), 0, 0, 0), app...))
	if got := channelBindingHash(app); got != want {
		t.Errorf("hash %X, want %X", got, want)
	}
	for alg, size := range map[x509.SignatureAlgorithm]int{x509.SHA256WithRSA: 32, x509.SHA1WithRSA: 32, x509.ECDSAWithSHA384: 48, x509.SHA512WithRSA: 64} {
		if got := tlsServerEndPoint(&x509.Certificate{Raw: []byte{1}, SignatureAlgorithm: alg}); len(got) != len("tls-server-end-point:")+size {
			t.Errorf("%s: binding of %d bytes", alg, len(got))
		}
	}
}

func TestSPNEGOTokens(t *testing.T) {
	init, err := spnegoInit([]byte("NTLMSSP\x00negotiate"))
	if err != nil || init[0] != 0x60 || !bytes.Contains(init, []byte("negotiate")) {
		t.Fatalf("init token % X, %v", init, err)
	}
	resp, err := spnegoResp([]byte("NTLMSSP\x00authenticate"))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := parseSPNEGOResp(resp)
	if err != nil || string(parsed.ResponseToken) != "NTLMSSP\x00authenticate" || parsed.NegState != -1 {
		t.Errorf("round trip: %+v, %v", parsed, err)
	}
	if _, err := parseSPNEGOResp(init); err == nil {
		t.Error("an init token parsed as a response")
	}
}

// FuzzServerNTLMTokens feeds the parsers of what the server sends during
// the NTLM bind.
func FuzzServerNTLMTokens(f *testing.F) {
	resp, _ := spnegoResp(challengeMessage(nil))
	f.Add(resp)
	f.Add(challengeMessage(avPair(avEOL, nil)))
	bindResp := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 1, nil, "Bind Response")
	bindResp.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, 14, "resultCode"))
	bindResp.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "matchedDN"))
	bindResp.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "diagnostic"))
	bindResp.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 7, string(resp), "serverSaslCreds"))
	f.Add(bindResp.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := parseSPNEGOResp(b); err == nil {
			_, _ = withChannelBinding(r.ResponseToken, [16]byte{})
		}
		if out, err := withChannelBinding(b, [16]byte{}); err == nil && len(out) > maxChallenge {
			t.Fatalf("rewritten challenge of %d bytes", len(out))
		}
		if p, err := ber.ReadPacket(bytes.NewReader(b)); err == nil {
			_, _ = parseResult(p, 1)
		}
	})
}
