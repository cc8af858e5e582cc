package ldapdir

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/tegata-project/tegata/internal/mapaudit"
)

// Filters of reference 9.1.
const (
	filterUsers     = "(&(objectCategory=person)(objectClass=user))"
	filterComputers = "(objectCategory=computer)"
	// LDAP_MATCHING_RULE_BIT_AND on SERVER_TRUST_ACCOUNT (0x2000).
	filterDCs = "(&(objectCategory=computer)(userAccountControl:1.2.840.113556.1.4.803:=8192))"
)

// accountAttributes are read for users and computers.
var accountAttributes = []string{
	"objectGUID", "objectSid", "sAMAccountName", "userPrincipalName", "dNSHostName",
	"altSecurityIdentities", "whenCreated", "userAccountControl", "userCertificate",
	"msDS-KeyCredentialLink",
}

// maxEmptyPages bounds consecutive pages without entries that still carry
// a cookie, so a misbehaving server cannot keep the loop going forever.
const maxEmptyPages = 1000

// maxRangeRequests bounds the follow-up searches of one ranged attribute.
const maxRangeRequests = 1000

// pagedSearch runs a subtree search under base one page at a time, calling
// each for every entry of a page and then afterPage. A failure is a
// ReadError saying which page failed and how many accounts (done()) had
// been read.
func (s *session) pagedSearch(what, base, filter string, attrs []string, done func() int,
	each func(*ldap.Entry) error, afterPage func()) error {
	if !s.paging {
		return fmt.Errorf("%w: the RootDSE of %s does not list %s in supportedControl, so a large directory cannot be read reliably; point --ldap at a domain controller",
			ErrPagingUnsupported, s.cfg.URL, OIDPagedResults)
	}
	paging := ldap.NewControlPaging(uint32(s.cfg.PageSize))
	req := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		filter, attrs, []ldap.Control{paging})
	for page, empty := 1, 0; ; page++ {
		res, err := s.conn.Search(req)
		if err != nil {
			return s.failed(&ReadError{URL: s.cfg.URL, Search: what, Page: page, PageSize: s.cfg.PageSize, Accounts: done(), Err: err})
		}
		for _, e := range res.Entries {
			if err := each(e); err != nil {
				return err
			}
		}
		if afterPage != nil {
			afterPage()
		}
		if len(res.Entries) == 0 {
			if empty++; empty > maxEmptyPages {
				return fmt.Errorf("ldapdir: %s returned %d empty pages in a row while reading %s; the server's paging is broken", s.cfg.URL, empty, what)
			}
		} else {
			empty = 0
		}
		ctrl, ok := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if !ok || len(ctrl.Cookie) == 0 {
			return nil
		}
		paging.SetCookie(ctrl.Cookie)
	}
}

// baseSearch reads one entry.
func (s *session) baseSearch(dn string, attrs []string) (*ldap.Entry, error) {
	req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", attrs, nil)
	res, err := s.conn.Search(req)
	if err != nil {
		return nil, s.failed(err)
	}
	if len(res.Entries) != 1 {
		return nil, fmt.Errorf("ldapdir: %s returned %d entries for the base search of %q", s.cfg.URL, len(res.Entries), dn)
	}
	return res.Entries[0], nil
}

// values returns every value of attr in e, completing a ranged attribute
// ("attr;range=0-1499", which AD returns for more than MaxValRange values)
// with further base searches, which go-ldap does not do. Values beyond
// MaxValues are an error: a truncated altSecurityIdentities list would
// predict wrong verdicts.
func (s *session) values(e *ldap.Entry, attr string) ([][]byte, error) {
	var out [][]byte
	var rng string
	for _, a := range e.Attributes {
		name, opts, _ := strings.Cut(a.Name, ";")
		if !strings.EqualFold(name, attr) {
			continue
		}
		if opts == "" {
			out = append(out, a.ByteValues...)
		} else if r, ok := rangeOption(opts); ok {
			out = append(out, a.ByteValues...)
			rng = r
		}
	}
	if len(out) > MaxValues {
		return nil, fmt.Errorf("%s has more than %d values; tegata does not read this many", attr, MaxValues)
	}
	for i := 0; rng != ""; i++ {
		_, high, ok := parseRange(rng)
		if !ok {
			return nil, fmt.Errorf("%s: the server sent the range %q, which is not low-high or low-*", attr, rng)
		}
		if high < 0 {
			break // low-*: the last chunk
		}
		if i >= maxRangeRequests {
			return nil, fmt.Errorf("%s: more than %d ranged reads", attr, maxRangeRequests)
		}
		next := high + 1
		more, err := s.baseSearch(e.DN, []string{fmt.Sprintf("%s;range=%d-*", attr, next)})
		if err != nil {
			return nil, fmt.Errorf("reading %s;range=%d-*: %w", attr, next, err)
		}
		rng = ""
		for _, a := range more.Attributes {
			name, opts, _ := strings.Cut(a.Name, ";")
			if r, ok := rangeOption(opts); ok && strings.EqualFold(name, attr) {
				if low, _, ok := parseRange(r); !ok || low != next {
					return nil, fmt.Errorf("%s: asked for the range from %d, the server sent %q", attr, next, r)
				}
				out = append(out, a.ByteValues...)
				rng = r
			}
		}
		if len(out) > MaxValues {
			return nil, fmt.Errorf("%s has more than %d values; tegata does not read this many", attr, MaxValues)
		}
	}
	return out, nil
}

// rangeOption finds "range=..." among an attribute description's options.
func rangeOption(opts string) (string, bool) {
	for _, o := range strings.Split(opts, ";") {
		if len(o) > 6 && strings.EqualFold(o[:6], "range=") {
			return o[6:], true
		}
	}
	return "", false
}

// parseRange reads "low-high" or "low-*" (high -1).
func parseRange(r string) (low, high int, ok bool) {
	l, h, found := strings.Cut(r, "-")
	if !found {
		return 0, 0, false
	}
	low, err := strconv.Atoi(l)
	if err != nil || low < 0 {
		return 0, 0, false
	}
	if h == "*" {
		return low, -1, true
	}
	high, err = strconv.Atoi(h)
	if err != nil || high < low {
		return 0, 0, false
	}
	return low, high, true
}

// readDirectory reads users, computers, DCs and the NTAuth store.
func (s *session) readDirectory(progress func(int)) (*mapaudit.Directory, error) {
	dir := &mapaudit.Directory{}
	done := func() int { return len(dir.Accounts) }
	afterPage := func() {
		if progress != nil {
			progress(len(dir.Accounts))
		}
	}
	seen := 0
	addAccount := func(e *ldap.Entry) error {
		if seen++; seen > s.cfg.MaxEntries {
			return fmt.Errorf("%w: %s holds more than %d accounts under %s; read one OU at a time with --base-dn",
				ErrTooManyEntries, s.cfg.URL, s.cfg.MaxEntries, s.baseDN)
		}
		acct, problems, err := s.account(e)
		if err != nil {
			return err
		}
		dir.Problems = append(dir.Problems, problems...)
		if acct != nil {
			dir.Accounts = append(dir.Accounts, *acct)
		}
		return nil
	}
	for _, q := range []struct{ what, filter string }{{"users", filterUsers}, {"computers", filterComputers}} {
		if err := s.pagedSearch(q.what, s.baseDN, q.filter, accountAttributes, done, addAccount, afterPage); err != nil {
			return nil, err
		}
	}
	dcs := 0
	err := s.pagedSearch("domain controllers", s.baseDN, filterDCs, []string{"dNSHostName", "operatingSystem", "operatingSystemVersion"}, done,
		func(e *ldap.Entry) error {
			if dcs++; dcs > s.cfg.MaxEntries {
				return fmt.Errorf("%w: more than %d domain controllers under %s", ErrTooManyEntries, s.cfg.MaxEntries, s.baseDN)
			}
			dc := mapaudit.DomainController{
				Name:                   e.GetEqualFoldAttributeValue("dNSHostName"),
				OperatingSystem:        e.GetEqualFoldAttributeValue("operatingSystem"),
				OperatingSystemVersion: e.GetEqualFoldAttributeValue("operatingSystemVersion"),
			}
			if dc.Name == "" {
				dir.Problems = append(dir.Problems, mapaudit.Problem{Origin: e.DN,
					Err: errors.New("domain controller without dNSHostName (not readable by the bind account?); left out of the DC list")})
				return nil
			}
			dir.DomainControllers = append(dir.DomainControllers, dc)
			return nil
		}, nil)
	if err != nil {
		return nil, err
	}
	if err := s.readNTAuth(dir); err != nil {
		return nil, err
	}
	return dir, nil
}

// readNTAuth reads cACertificate of the NTAuth store. A store that does not
// exist is empty (no CA is trusted for NTAuth); one that cannot be read is a
// Problem and leaves Directory.NTAuth nil.
func (s *session) readNTAuth(dir *mapaudit.Directory) error {
	if s.configNC == "" {
		dir.Problems = append(dir.Problems, mapaudit.Problem{Origin: s.cfg.URL,
			Err: errors.New("the RootDSE has no configurationNamingContext, so the NTAuth store was not read")})
		return nil
	}
	dn := "CN=NTAuthCertificates,CN=Public Key Services,CN=Services," + s.configNC
	e, err := s.baseSearch(dn, []string{"cACertificate"})
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		dir.NTAuth = [][]byte{}
		return nil
	case isConnectionError(err) || s.ctx.Err() != nil:
		return s.failed(&ReadError{URL: s.cfg.URL, Search: "NTAuth store", Page: 1, PageSize: 1, Accounts: len(dir.Accounts), Err: err})
	case err != nil:
		dir.Problems = append(dir.Problems, mapaudit.Problem{Origin: dn, Err: fmt.Errorf("reading the NTAuth store: %w", err)})
		return nil
	}
	certs, err := s.values(e, "cACertificate")
	if err != nil {
		if isConnectionError(err) || s.ctx.Err() != nil {
			return s.failed(err)
		}
		dir.Problems = append(dir.Problems, mapaudit.Problem{Origin: dn, Err: err})
		return nil
	}
	dir.NTAuth = [][]byte{}
	for _, c := range certs {
		if len(c) > maxCertificateSize {
			dir.Problems = append(dir.Problems, mapaudit.Problem{Origin: dn,
				Err: fmt.Errorf("a cACertificate value of %d bytes is larger than %d; left out", len(c), maxCertificateSize)})
			continue
		}
		dir.NTAuth = append(dir.NTAuth, c)
	}
	return nil
}

// isConnectionError reports a failure of the connection rather than of the
// operation: go-ldap reports most with its ErrorNetwork code, but a
// connection its reader saw close is reported by a plain error that only
// its text identifies.
func isConnectionError(err error) bool {
	return err != nil && (ldap.IsErrorWithCode(err, ldap.ErrorNetwork) || errors.Is(err, io.EOF) ||
		errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "unable to read LDAP response packet"))
}
