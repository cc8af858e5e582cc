package instance

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// The parsers below check one kind of value and return it in canonical form. Their errors
// say what is wrong and show a valid example; the caller adds where.

// ParseVMID checks that s is a UUID and returns it in lower case, the form of Azure's
// vmId.
func ParseVMID(s string) (string, error) { return parseUUID(s) }

func parseUUID(s string) (string, error) {
	if len(s) != 36 {
		return "", errNotUUID
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", errNotUUID
			}
		default:
			if !isHex(c) {
				return "", errNotUUID
			}
		}
	}
	return strings.ToLower(s), nil
}

var errNotUUID = errors.New(`must be a UUID such as "3f1c8a52-6d0e-4b7a-9c2f-1e5d7a9b0c11"`)

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// formatUUID writes 16 bytes as a UUID with the version-4 and RFC 4122 variant bits set.
func formatUUID(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// derivedUUID returns a UUID fixed by kind and value, for IDs an inventory may leave out
// but that must not change from one start to the next.
func derivedUUID(kind, value string) string {
	sum := sha256.Sum256([]byte("tegata/" + kind + "\x00" + value))
	return formatUUID([16]byte(sum[:16]))
}

// parseBool accepts true and false in any case and returns them in lower case.
func parseBool(s string) (string, error) {
	switch strings.ToLower(s) {
	case "true":
		return "true", nil
	case "false":
		return "false", nil
	}
	return "", errors.New(`must be "true" or "false"`)
}

// parseUint accepts decimal digits only: IMDS numbers are non-negative integers.
func parseUint(s string) (string, error) {
	if len(s) > 20 || strings.TrimLeft(s, "0123456789") != "" {
		return "", errors.New(`must be a non-negative integer (for example "0")`)
	}
	return s, nil
}

// parseMAC accepts 12 hex digits, bare or in pairs separated by ':' or '-', and returns
// them bare and in upper case as IMDS writes them.
func parseMAC(s string) (string, error) {
	bare := s
	if len(s) == 17 {
		sep := s[2]
		if sep != ':' && sep != '-' {
			return "", errBadMAC
		}
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			if i%3 == 2 {
				if s[i] != sep {
					return "", errBadMAC
				}
				continue
			}
			b.WriteByte(s[i])
		}
		bare = b.String()
	}
	if len(bare) != 12 {
		return "", errBadMAC
	}
	for i := 0; i < len(bare); i++ {
		if !isHex(bare[i]) {
			return "", errBadMAC
		}
	}
	return strings.ToUpper(bare), nil
}

var errBadMAC = errors.New(`must be a MAC address of 12 hex digits, such as "000D3A1B2C3D" or "00:0d:3a:1b:2c:3d"`)

// parseIPv4, parseIPv6 and parseIP return the address in canonical text (lower-case,
// shortest IPv6 form). Zones are refused: IMDS addresses have none.
func parseIPv4(s string) (string, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return "", errors.New(`must be an IPv4 address such as "10.0.0.4"`)
	}
	return a.String(), nil
}

func parseIPv6(s string) (string, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" {
		return "", errors.New(`must be an IPv6 address such as "fd00::4"`)
	}
	return a.String(), nil
}

// parseIP accepts either family; an IPv4-mapped IPv6 address is returned as IPv4,
// the form a caller's address takes after Lookup unmaps it.
func parseIP(s string) (string, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return "", errors.New(`must be an IPv4 or IPv6 address such as "10.0.0.4" or "fd00::4"`)
	}
	return a.Unmap().String(), nil
}

func prefixParser(bits int) func(string) (string, error) {
	return func(s string) (string, error) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > bits || strconv.Itoa(n) != s {
			return "", fmt.Errorf("must be a prefix length from 0 to %d (for example \"24\")", bits)
		}
		return s, nil
	}
}

var (
	parsePrefix4 = prefixParser(32)
	parsePrefix6 = prefixParser(128)
)

// parseBase64 checks userData: Azure stores it as base64 text and serves it unchanged.
func parseBase64(s string) (string, error) {
	if _, err := base64.StdEncoding.DecodeString(s); err != nil {
		return "", errors.New(`must be base64 text (standard alphabet, padded), such as the output of "base64 -w0 file"`)
	}
	return s, nil
}

// parseVMName checks a VM name, which becomes part of the VM's ARM ID and its default
// computer name.
func parseVMName(s string) (string, error) {
	ok := len(s) >= 1 && len(s) <= 64 && isAlnum(s[0])
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = isAlnum(c) || c == '.' || c == '-' || c == '_'
	}
	if !ok {
		return "", errors.New(`must be 1 to 64 letters, digits, '.', '-' or '_', starting with a letter or digit (for example "vm-web-01")`)
	}
	return s, nil
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// parseSegment checks a name that becomes one segment of an ARM ID.
func parseSegment(s string) (string, error) {
	if strings.ContainsFunc(s, func(r rune) bool { return r == '/' || r < 0x20 || r == 0x7f }) {
		return "", errors.New(`must not contain '/' or control characters, as it becomes part of an ARM ID`)
	}
	return s, nil
}

// Azure's limits for tags (Azure Resource Manager documentation, "Tag resources").
const (
	maxTags         = 50
	maxTagNameLen   = 512
	maxTagValueLen  = 256
	forbiddenInTags = `<>%&\?/`
)

func parseTagName(s string) (string, error) {
	if s == "" || len(s) > maxTagNameLen || strings.ContainsAny(s, forbiddenInTags) || hasControl(s) {
		return "", fmt.Errorf("tag names must be 1 to %d characters without control characters or any of %s", maxTagNameLen, forbiddenInTags)
	}
	return s, nil
}

func parseTagValue(s string) (string, error) {
	if len(s) > maxTagValueLen || hasControl(s) {
		return "", fmt.Errorf("tag values must be at most %d characters without control characters", maxTagValueLen)
	}
	return s, nil
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

func parseProtocol(s string) (string, error) {
	switch p := strings.ToLower(s); p {
	case "tcp", "udp", "all":
		return p, nil
	}
	return "", errors.New(`must be "tcp", "udp" or "all"`)
}

// parseIdentityID checks the ARM ID of a user-assigned identity, the value of msi_res_id.
func parseIdentityID(s string) (string, error) {
	l := strings.ToLower(s)
	if !strings.HasPrefix(l, "/subscriptions/") || !strings.Contains(l, "/providers/microsoft.managedidentity/userassignedidentities/") ||
		strings.HasSuffix(l, "/") || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", errors.New(`must be the ARM ID of a user-assigned identity, like "/subscriptions/<subscription>/resourceGroups/<group>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>"`)
	}
	return s, nil
}

// armID returns the ARM ID of a Microsoft.Compute resource, or "" without a
// subscription, group or name to build it from.
func armID(subscription, group, kind, name string) string {
	if subscription == "" || group == "" || name == "" {
		return ""
	}
	return "/subscriptions/" + subscription + "/resourceGroups/" + group + "/providers/Microsoft.Compute/" + kind + "/" + name
}
