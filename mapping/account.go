package mapping

import (
	"fmt"
	"time"
)

// AccountClass is the kind of directory account a certificate maps to,
// derived from userAccountControl.
type AccountClass int

const (
	// ClassUser: neither WORKSTATION_TRUST (0x1000), SERVER_TRUST (0x2000)
	// nor INTERDOMAIN_TRUST (0x800) is set. Implicit mapping uses the UPN.
	ClassUser AccountClass = iota
	// ClassComputer: WORKSTATION_TRUST_ACCOUNT (0x1000). Implicit mapping
	// uses dNSHostName.
	ClassComputer
	// ClassDomainController: SERVER_TRUST_ACCOUNT (0x2000). As computers.
	ClassDomainController
	// ClassTrust: INTERDOMAIN_TRUST_ACCOUNT (0x800); out of scope for the
	// predictor, which finds no implicit mapping for it.
	ClassTrust
)

// userAccountControl bits (MS-ADTS 2.2.16).
const (
	UACInterdomainTrust = 0x0800
	UACWorkstationTrust = 0x1000
	UACServerTrust      = 0x2000
)

var classNames = [...]string{"user", "computer", "domain controller", "trust"}

// String returns the class in words.
func (c AccountClass) String() string {
	if c < 0 || int(c) >= len(classNames) {
		return fmt.Sprintf("AccountClass(%d)", int(c))
	}
	return classNames[c]
}

// ClassFromUserAccountControl derives the account class from the
// userAccountControl attribute.
func ClassFromUserAccountControl(uac uint32) AccountClass {
	switch {
	case uac&UACServerTrust != 0:
		return ClassDomainController
	case uac&UACWorkstationTrust != 0:
		return ClassComputer
	case uac&UACInterdomainTrust != 0:
		return ClassTrust
	}
	return ClassUser
}

// Account is the directory data of one AD account that the KDC consults
// when it maps a certificate (reference 5.1).
type Account struct {
	// ObjectSID is the account's objectSid. sIDHistory is not consulted (Q11).
	ObjectSID SID
	// AltSecurityIdentities holds the attribute's values as stored.
	AltSecurityIdentities []string
	// UserPrincipalName, SAMAccountName and DNSHostName are the attributes
	// of the same names; empty when absent.
	UserPrincipalName, SAMAccountName, DNSHostName string
	// WhenCreated is the account's creation time (UTC). The zero time means
	// unknown; verdicts that depend on it are labelled.
	WhenCreated time.Time
	// Class is the account kind, see ClassFromUserAccountControl.
	Class AccountClass
	// KeyCredentialLink reports that msDS-KeyCredentialLink is present
	// (key trust). Its contents are not evaluated in this version (Q15).
	KeyCredentialLink bool
}

// parseCalendarDigits reads YYYYMMDDHHMMSS in UTC, refusing what
// time.Parse refuses (month 13, 31 April, hour 24, second 60).
func parseCalendarDigits(s string) (time.Time, bool) {
	var f [7]int
	for i := range f {
		n, ok := digits2([]byte{s[2*i], s[2*i+1]})
		if !ok {
			return time.Time{}, false
		}
		f[i] = n
	}
	year, month, day, hour, minute, sec := f[0]*100+f[1], f[2], f[3], f[4], f[5], f[6]
	if month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
	return t, t.Day() == day
}

// ParseGeneralizedTime parses an LDAP GeneralizedTime such as whenCreated
// ("20240115093012.0Z"): YYYYMMDDHHMMSS, an optional fraction of any length
// after "." or ",", then "Z" or a ±hhmm offset. The result is in UTC.
func ParseGeneralizedTime(s string) (time.Time, error) {
	bad := func() (time.Time, error) {
		return time.Time{}, fmt.Errorf("mapping: %q is not a GeneralizedTime (want YYYYMMDDHHMMSS[.f]Z or ±hhmm)", s)
	}
	if len(s) < 15 || len(s) > 64 {
		return bad()
	}
	base, rest := s[:14], s[14:]
	t, ok := parseCalendarDigits(base)
	if !ok {
		return bad()
	}
	if rest[0] == '.' || rest[0] == ',' {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 1 {
			return bad()
		}
		frac := rest[1:i]
		if len(frac) > 9 {
			frac = frac[:9]
		}
		var ns int64
		for k := range 9 {
			ns *= 10
			if k < len(frac) {
				ns += int64(frac[k] - '0')
			}
		}
		t = t.Add(time.Duration(ns))
		rest = rest[i:]
	}
	switch {
	case rest == "Z":
		return t.UTC(), nil
	case len(rest) == 5 && (rest[0] == '+' || rest[0] == '-'):
		hh, err1 := parseDecimal(rest[1:3], 8)
		mm, err2 := parseDecimal(rest[3:5], 8)
		if err1 != nil || err2 != nil || hh > 23 || mm > 59 {
			return bad()
		}
		off := time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute
		if rest[0] == '+' {
			off = -off
		}
		return t.Add(off).UTC(), nil
	}
	return bad()
}
