package mapaudit

import (
	"crypto/sha1"
	"sort"
	"strings"

	"github.com/tegata-project/tegata/mapping"
)

// via records how a certificate led to an account (reference 5.4).
type via uint8

const (
	viaAltSecID via = 1 << iota
	viaSID
	viaUPN
	viaSAMAccountName
	viaDNSName
	viaUserCertificate
)

var viaNames = []string{"altSecurityIdentities", "SID", "UPN", "UPN prefix = sAMAccountName", "DNS name", "userCertificate"}

func (v via) names() []string {
	var out []string
	for i, n := range viaNames {
		if v&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// index finds accounts by every key the KDC could map a certificate with:
// lower-cased altSecurityIdentities value, UPN, sAMAccountName and
// dNSHostName, SID string and published certificate (SHA-1 thumbprint).
type index struct {
	accounts []DirectoryAccount
	// sids holds each account's SID string, rendered once.
	sids     []string
	altSecID map[string][]int32
	upn      map[string][]int32
	sam      map[string][]int32
	dns      map[string][]int32
	sid      map[string][]int32
	cert     map[[20]byte][]int32
}

// Duplicate is an altSecurityIdentities value held by more than one
// account: NT-X500-PRINCIPAL name resolution becomes ambiguous (3.7).
type Duplicate struct {
	Value    string   `json:"value"`
	Accounts []string `json:"accounts"`
}

func newIndex(accts []DirectoryAccount) *index {
	x := &index{
		accounts: accts,
		altSecID: make(map[string][]int32, len(accts)),
		upn:      make(map[string][]int32, len(accts)),
		sam:      make(map[string][]int32, len(accts)),
		dns:      map[string][]int32{},
		sid:      make(map[string][]int32, len(accts)),
		cert:     map[[20]byte][]int32{},
	}
	add := func(m map[string][]int32, k string, i int32) {
		if k == "" {
			return
		}
		k = string(foldKey(nil, k))
		if l := m[k]; len(l) == 0 || l[len(l)-1] != i {
			m[k] = append(l, i)
		}
	}
	for n := range accts {
		i := int32(n)
		a := &accts[n]
		for _, v := range a.AltSecurityIdentities {
			add(x.altSecID, v, i)
		}
		add(x.upn, a.UserPrincipalName, i)
		add(x.sam, a.SAMAccountName, i)
		add(x.dns, a.DNSHostName, i)
		x.sids = append(x.sids, a.ObjectSID.String())
		add(x.sid, x.sids[n], i)
		for _, der := range a.Certificates {
			t := sha1.Sum(der)
			if l := x.cert[t]; len(l) == 0 || l[len(l)-1] != i {
				x.cert[t] = append(l, i)
			}
		}
	}
	return x
}

// duplicates lists the altSecurityIdentities values held by two or more
// accounts, sorted by value. Kerberos: values are included: they resolve
// names too.
func (x *index) duplicates() []Duplicate {
	var out []Duplicate
	for v, l := range x.altSecID {
		if len(l) < 2 {
			continue
		}
		var d Duplicate
		for _, i := range l {
			a := &x.accounts[i]
			for _, s := range a.AltSecurityIdentities {
				if d.Value == "" && strings.EqualFold(s, v) {
					d.Value = s // as the first account stores it
				}
			}
			d.Accounts = append(d.Accounts, a.DN)
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Value < out[j].Value })
	return out
}

// match is one account a certificate leads to.
type match struct {
	acct int32
	via  via
}

// find returns the accounts the KDC could map c to (reference 5.4, 3.7):
// an altSecurityIdentities value equal to a candidate, the certificate's
// SID (extension, or SAN URL), a SAN UPN equal to a user's UPN or whose
// prefix is its sAMAccountName, a SAN DNS name equal to a computer's
// dNSHostName, and the accounts that publish the certificate.
func (x *index) find(c *mapping.Certificate, cands []mapping.Candidate, buf []match) []match {
	out := buf[:0]
	add := func(l []int32, v via, ok func(*DirectoryAccount) bool) {
		for _, i := range l {
			if ok != nil && !ok(&x.accounts[i]) {
				continue
			}
			found := false
			for k := range out {
				if out[k].acct == i {
					out[k].via |= v
					found = true
				}
			}
			if !found {
				out = append(out, match{i, v})
			}
		}
	}
	var key []byte
	for _, cd := range cands {
		key = foldKey(key[:0], cd.Value)
		// string(key) in a map index does not allocate.
		if l, ok := x.altSecID[string(key)]; ok {
			add(l, viaAltSecID, nil)
		}
	}
	for _, src := range []mapping.SIDSource{c.SIDExtension, c.SANURL} {
		if src.State != mapping.SIDValid {
			continue
		}
		if s, err := mapping.ParseSID(src.Text); err == nil {
			add(x.sid[string(foldKey(nil, s.String()))], viaSID, nil)
		}
	}
	isUser := func(a *DirectoryAccount) bool { return a.Class == mapping.ClassUser }
	isComputer := func(a *DirectoryAccount) bool {
		return a.Class == mapping.ClassComputer || a.Class == mapping.ClassDomainController
	}
	for _, u := range c.UPNs {
		if l := x.upn[string(foldKey(key[:0], u))]; len(l) > 0 {
			add(l, viaUPN, isUser)
			continue
		}
		// The KDC falls back to the UPN prefix only when no account has
		// the UPN.
		if prefix, _, ok := strings.Cut(u, "@"); ok {
			add(x.sam[string(foldKey(key[:0], prefix))], viaSAMAccountName, isUser)
		}
	}
	for _, d := range c.DNSNames {
		add(x.dns[string(foldKey(key[:0], d))], viaDNSName, isComputer)
	}
	add(x.cert[c.KeyHashes.Thumbprint], viaUserCertificate, nil)
	return out
}

// foldKey appends the case-folded key of s to dst: ASCII lower case
// without allocating, strings.ToLower for anything else. Index and lookup
// both use it, so that they agree.
func foldKey(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return append(dst, strings.ToLower(s)...)
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}
