package ldapdir

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/tegata-project/tegata/internal/mapaudit"
	"github.com/tegata-project/tegata/mapping"
)

// maxCertificateSize bounds one userCertificate or cACertificate value.
const maxCertificateSize = mapping.MaxCertificateSize

// uacAccountDisable is ACCOUNTDISABLE in userAccountControl.
const uacAccountDisable = 0x2

// account converts a user or computer entry. An entry without a usable
// objectSid is left out (acct nil) with a Problem; other bad attributes are
// Problems and the account is kept with the attribute unknown. err is a
// connection failure while completing a ranged attribute.
func (s *session) account(e *ldap.Entry) (acct *mapaudit.DirectoryAccount, problems []mapaudit.Problem, err error) {
	problem := func(err error) { problems = append(problems, mapaudit.Problem{Origin: e.DN, Err: err}) }
	sidRaw := e.GetEqualFoldRawAttributeValues("objectSid")
	if len(sidRaw) != 1 {
		problem(fmt.Errorf("objectSid has %d values, expected 1 (is it readable by the bind account?); the account was left out", len(sidRaw)))
		return nil, problems, nil
	}
	sid, err := mapping.ParseBinarySID(sidRaw[0])
	if err != nil {
		problem(fmt.Errorf("objectSid %x: %w; the account was left out", sidRaw[0], err))
		return nil, problems, nil
	}
	a := &mapaudit.DirectoryAccount{
		DN:     e.DN,
		Origin: s.cfg.URL,
		Account: mapping.Account{
			ObjectSID:         sid,
			UserPrincipalName: e.GetEqualFoldAttributeValue("userPrincipalName"),
			SAMAccountName:    e.GetEqualFoldAttributeValue("sAMAccountName"),
			DNSHostName:       e.GetEqualFoldAttributeValue("dNSHostName"),
		},
	}
	if raw := e.GetEqualFoldRawAttributeValue("objectGUID"); raw != nil {
		if a.GUID, err = FormatGUID(raw); err != nil {
			problem(fmt.Errorf("objectGUID: %w", err))
		}
	}
	if v := e.GetEqualFoldAttributeValue("whenCreated"); v != "" {
		if a.WhenCreated, err = mapping.ParseGeneralizedTime(v); err != nil {
			problem(fmt.Errorf("whenCreated %q: %w; creation time taken as unknown", v, err))
		}
	} else {
		problem(errors.New("whenCreated is missing; creation time taken as unknown"))
	}
	if v := e.GetEqualFoldAttributeValue("userAccountControl"); v != "" {
		uac, err := parseUAC(v)
		if err != nil {
			problem(fmt.Errorf("userAccountControl %q: %w; class derived from the object category", v, err))
		} else {
			a.Class = mapping.ClassFromUserAccountControl(uac)
			a.Disabled = uac&uacAccountDisable != 0
		}
	} else {
		problem(errors.New("userAccountControl is missing; class taken as user"))
	}
	alt, err := s.values(e, "altSecurityIdentities")
	if err != nil {
		if isConnectionError(err) || s.ctx.Err() != nil {
			return nil, nil, s.failed(fmt.Errorf("ldapdir: reading %s: %w", e.DN, err))
		}
		problem(fmt.Errorf("%w; the account was left out, since its mappings are unknown", err))
		return nil, problems, nil
	}
	for _, v := range alt {
		if len(v) > mapping.MaxAltSecIDLength {
			problem(fmt.Errorf("an altSecurityIdentities value of %d bytes is longer than %d; the account was left out", len(v), mapping.MaxAltSecIDLength))
			return nil, problems, nil
		}
		a.AltSecurityIdentities = append(a.AltSecurityIdentities, string(v))
	}
	certs, err := s.values(e, "userCertificate")
	if err != nil {
		if isConnectionError(err) || s.ctx.Err() != nil {
			return nil, nil, s.failed(fmt.Errorf("ldapdir: reading %s: %w", e.DN, err))
		}
		problem(fmt.Errorf("%w; its userCertificate values were not read", err))
	}
	for _, c := range certs {
		if len(c) > maxCertificateSize {
			problem(fmt.Errorf("a userCertificate value of %d bytes is larger than %d; left out", len(c), maxCertificateSize))
			continue
		}
		a.Certificates = append(a.Certificates, c)
	}
	// Presence only (reference Q15); the value is often unreadable anyway.
	for _, at := range e.Attributes {
		if name, _, _ := strings.Cut(at.Name, ";"); strings.EqualFold(name, "msDS-KeyCredentialLink") && len(at.ByteValues) > 0 {
			a.KeyCredentialLink = true
		}
	}
	return a, problems, nil
}

// parseUAC reads userAccountControl, which AD returns as a decimal 32-bit
// integer, signed on some servers (a value with bit 31 set is negative).
func parseUAC(v string) (uint32, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < -1<<31 || n > 1<<32-1 {
		return 0, errors.New("not a 32-bit integer")
	}
	return uint32(n), nil
}

// FormatGUID renders a 16-byte objectGUID in its string form: the first
// three fields are little-endian on the wire, the last two big-endian
// (MS-DTYP 2.3.4), so 0x8001 4fe4 ... reads e44f0180-....
func FormatGUID(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("%d bytes, expected 16", len(b))
	}
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x",
		binary.LittleEndian.Uint32(b[0:4]), binary.LittleEndian.Uint16(b[4:6]), binary.LittleEndian.Uint16(b[6:8]),
		b[8:10], b[10:16]), nil
}
