package mapaudit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tegata-project/tegata/mapping"
)

// KDCRegistry holds the KDC registry values of one DC (reference 4.1) as
// read from a reg export. An absent value is not set, which differs from 0.
type KDCRegistry struct {
	StrongCertificateBindingEnforcement mapping.RegDWORD
	CertificateBackdatingCompensation   mapping.RegDWORD
	AllowNtAuthPolicyBypass             mapping.RegDWORD
	// UseSubjectAltName is read for the report only: its effect (Q9) is not
	// modelled by the decision procedure.
	UseSubjectAltName mapping.RegDWORD
	// Origin is the file the values came from.
	Origin string
}

// Apply sets the values that are set in k on s.
func (k KDCRegistry) Apply(s *mapping.DCState) {
	for _, f := range []struct {
		src mapping.RegDWORD
		dst *mapping.RegDWORD
	}{
		{k.StrongCertificateBindingEnforcement, &s.StrongCertificateBindingEnforcement},
		{k.CertificateBackdatingCompensation, &s.CertificateBackdatingCompensation},
		{k.AllowNtAuthPolicyBypass, &s.AllowNtAuthPolicyBypass},
	} {
		if f.src.Set {
			*f.dst = f.src
		}
	}
}

// The keys the KDC reads its values from; the policy key wins (observed,
// reference 4.1).
const (
	regServiceKey = `\services\kdc`
	regPolicyKey  = `\software\microsoft\windows\currentversion\policies\system\kdc\parameters`
)

// ParseRegExport reads a reg export of the KDC keys: UTF-16LE with a byte
// order mark as reg export writes it, or UTF-8; the header "Windows
// Registry Editor Version 5.00" (or REGEDIT4); lines such as
// "StrongCertificateBindingEnforcement"=dword:00000001 under
// [HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\Kdc] or the policy
// key ...\Policies\System\Kdc\Parameters, whose values win. Values of other
// keys are ignored. "Name"=- deletes a value.
//
// A malformed line is a Problem naming origin:line; a file without the
// header or without a KDC key is an error.
func ParseRegExport(data []byte, origin string) (KDCRegistry, []Problem, error) {
	k := KDCRegistry{Origin: origin}
	data = toUTF8(data)
	if len(data) > MaxFileSize {
		return k, nil, fmt.Errorf("%w: %s is over the %d-byte limit", ErrTooLarge, origin, MaxFileSize)
	}
	var service, policy KDCRegistry
	var probs []Problem
	var cur *KDCRegistry
	sawHeader, sawKey := false, false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineLength)
	for n := 0; sc.Scan(); {
		n++
		first := n
		line := strings.TrimRight(sc.Text(), "\r")
		// A value may continue over lines ending with a backslash.
		for strings.HasSuffix(line, `\`) && sc.Scan() {
			n++
			line = line[:len(line)-1] + strings.TrimSpace(strings.TrimRight(sc.Text(), "\r"))
		}
		where := fmt.Sprintf("%s:%d", origin, first)
		t := strings.TrimSpace(line)
		switch {
		case t == "" || strings.HasPrefix(t, ";"):
			continue
		case !sawHeader:
			if t != "Windows Registry Editor Version 5.00" && t != "REGEDIT4" {
				return k, nil, fmt.Errorf("%w: %s:%d: expected the header \"Windows Registry Editor Version 5.00\": export with reg export HKLM\\SYSTEM\\CurrentControlSet\\Services\\Kdc kdc.reg", ErrRegExport, origin, first)
			}
			sawHeader = true
		case strings.HasPrefix(t, "["):
			if !strings.HasSuffix(t, "]") {
				probs = append(probs, Problem{Origin: where, Err: fmt.Errorf("%w: key line without a closing ]", ErrRegExport)})
				cur = nil
				continue
			}
			key := strings.ToLower(t[1 : len(t)-1])
			switch {
			case strings.HasPrefix(key, "-"):
				cur = nil
			case strings.HasSuffix(key, regPolicyKey) && isHKLM(key):
				cur, sawKey = &policy, true
			case strings.HasSuffix(key, regServiceKey) && isHKLM(key) && strings.Contains(key, `\system\`):
				cur, sawKey = &service, true
			default:
				cur = nil
			}
		case cur == nil:
			continue
		default:
			name, value, err := parseRegValue(t)
			if err != nil {
				probs = append(probs, Problem{Origin: where, Err: err})
				continue
			}
			var dst *mapping.RegDWORD
			switch strings.ToLower(name) {
			case "strongcertificatebindingenforcement":
				dst = &cur.StrongCertificateBindingEnforcement
			case "certificatebackdatingcompensation":
				dst = &cur.CertificateBackdatingCompensation
			case "allowntauthpolicybypass":
				dst = &cur.AllowNtAuthPolicyBypass
			case "usesubjectaltname":
				dst = &cur.UseSubjectAltName
			default:
				continue
			}
			if value == "-" {
				*dst = mapping.RegDWORD{}
				continue
			}
			hexDigits, ok := strings.CutPrefix(strings.ToLower(value), "dword:")
			if !ok {
				probs = append(probs, Problem{Origin: where, Err: fmt.Errorf("%w: %s must be a REG_DWORD (dword:00000001), got %q", ErrRegExport, name, truncate(value, 40))})
				continue
			}
			v, err := strconv.ParseUint(hexDigits, 16, 32)
			if err != nil || len(hexDigits) > 8 {
				probs = append(probs, Problem{Origin: where, Err: fmt.Errorf("%w: %s=dword:%s is not 1 to 8 hex digits", ErrRegExport, name, truncate(hexDigits, 20))})
				continue
			}
			*dst = mapping.DWORD(uint32(v))
		}
	}
	if err := sc.Err(); err != nil {
		return k, probs, fmt.Errorf("%w: %s: %v", ErrRegExport, origin, err)
	}
	if !sawHeader {
		return k, probs, fmt.Errorf("%w: %s is empty: export with reg export HKLM\\SYSTEM\\CurrentControlSet\\Services\\Kdc kdc.reg", ErrRegExport, origin)
	}
	if !sawKey {
		return k, probs, fmt.Errorf("%w: %s has no [HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Kdc] key: export that key", ErrRegExport, origin)
	}
	service.Origin = origin
	k = service
	overlay(&k, policy)
	return k, probs, nil
}

// overlay sets the values set in p on k: the policy key wins.
func overlay(k *KDCRegistry, p KDCRegistry) {
	for _, f := range []struct {
		src mapping.RegDWORD
		dst *mapping.RegDWORD
	}{
		{p.StrongCertificateBindingEnforcement, &k.StrongCertificateBindingEnforcement},
		{p.CertificateBackdatingCompensation, &k.CertificateBackdatingCompensation},
		{p.AllowNtAuthPolicyBypass, &k.AllowNtAuthPolicyBypass},
		{p.UseSubjectAltName, &k.UseSubjectAltName},
	} {
		if f.src.Set {
			*f.dst = f.src
		}
	}
}

func isHKLM(key string) bool {
	return strings.HasPrefix(key, `hkey_local_machine\`) || strings.HasPrefix(key, `hklm\`)
}

// parseRegValue splits `"Name"=value`, undoing the \\ and \" escapes of the
// name.
func parseRegValue(t string) (name, value string, err error) {
	if t[0] == '@' {
		rest, ok := strings.CutPrefix(t[1:], "=")
		if !ok {
			return "", "", fmt.Errorf("%w: default value without =", ErrRegExport)
		}
		return "", rest, nil
	}
	if t[0] != '"' {
		return "", "", fmt.Errorf("%w: value line %q does not start with a quoted name", ErrRegExport, truncate(t, 40))
	}
	var b strings.Builder
	for i := 1; i < len(t); i++ {
		switch c := t[i]; {
		case c == '\\' && i+1 < len(t):
			i++
			b.WriteByte(t[i])
		case c == '"':
			rest, ok := strings.CutPrefix(t[i+1:], "=")
			if !ok {
				return "", "", fmt.Errorf("%w: value %q: expected = after the name", ErrRegExport, b.String())
			}
			return b.String(), strings.TrimSpace(rest), nil
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errors.Join(ErrRegExport, fmt.Errorf("value name %q has no closing quote", truncate(t, 40)))
}
