package mapaudit

import (
	"bytes"
	"crypto/sha1"
	"slices"
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

// names returns the names of v's bits. The lists are shared by every
// finding: len == cap, so an append copies.
func (v via) names() []string { return viaNameLists[v&(1<<len(viaNames)-1)] }

var viaNameLists = func() (lists [1 << 6][]string) {
	for v := range lists {
		var out []string
		for i, n := range viaNames {
			if v&(1<<i) != 0 {
				out = append(out, n)
			}
		}
		lists[v] = slices.Clip(out)
	}
	return lists
}()

// index finds accounts by every key the KDC could map a certificate with:
// lower-cased altSecurityIdentities value, UPN, sAMAccountName and
// dNSHostName, SID string and published certificate (SHA-1 thumbprint).
type index struct {
	accounts []DirectoryAccount
	// sids holds each account's SID string, rendered once.
	sids     []string
	altSecID postings[string]
	upn      postings[string]
	sam      postings[string] // see samIndex
	dns      postings[string] // see dnsIndex
	sid      postings[string]
	cert     postings[[20]byte]
	scratch  []byte
	cands    mapping.CandidateBuffer
	// families records the candidate families of the stored values: a
	// candidate of a family no value has cannot equal any value, so find
	// skips it.
	families uint8
}

// Candidate families: a stored value equal to a candidate, ignoring case,
// has the candidate's family. The X509:<I> forms are told apart by what
// follows the last "<": a serial is hex and a SID text holds no quote,
// while a "<" inside a rendered subject is always within quotes, so an
// Issuer+Subject value never looks like the other two.
const (
	familyIssuerSerial uint8 = 1 << iota
	familyIssuerSID
	familyIssuerSubject
	familySKI
	familySHA1
	familySubject
	familyX509N
	familyRFC822
)

// family returns the candidate family of a folded value, or 0 for a value
// no candidate can equal.
func family(folded []byte) uint8 {
	switch {
	case bytes.HasPrefix(folded, []byte("x509:<i>")):
		tail := folded[bytes.LastIndexByte(folded, '<')+1:]
		switch {
		case bytes.HasPrefix(tail, []byte("sr>")) && isHex(tail[3:]):
			return familyIssuerSerial
		case bytes.HasPrefix(tail, []byte("sid>")) && bytes.IndexByte(tail, '"') < 0:
			return familyIssuerSID
		}
		return familyIssuerSubject
	case bytes.HasPrefix(folded, []byte("x509:<ski>")):
		return familySKI
	case bytes.HasPrefix(folded, []byte("x509:<sha1-pukey>")):
		return familySHA1
	case bytes.HasPrefix(folded, []byte("x509:<s>")):
		return familySubject
	case bytes.HasPrefix(folded, []byte("x509n:<s>")):
		return familyX509N
	case bytes.HasPrefix(folded, []byte("x509:<rfc822>")):
		return familyRFC822
	}
	return 0
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// hasFamily reports whether some stored value is of t's family.
func (x *index) hasFamily(t mapping.MappingType) bool { return x.families&familyOf(t) != 0 }

// familyOf returns the family of the candidates of type t.
func familyOf(t mapping.MappingType) uint8 {
	switch t {
	case mapping.X509IssuerSerialNumber:
		return familyIssuerSerial
	case mapping.X509IssuerSID:
		return familyIssuerSID
	case mapping.X509IssuerSubject:
		return familyIssuerSubject
	case mapping.X509SKI:
		return familySKI
	case mapping.X509SHA1PublicKey:
		return familySHA1
	case mapping.X509SubjectOnly:
		return familySubject
	case mapping.X509NSubjectOnly:
		return familyX509N
	case mapping.X509RFC822:
		return familyRFC822
	}
	return 0xFF // an unknown type is never skipped
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
		altSecID: newPostings[string](len(accts) / 4),
		upn:      newPostings[string](len(accts)),
		sid:      newPostings[string](len(accts)),
		cert:     newPostings[[20]byte](0),
	}
	x.sids = make([]string, len(accts))
	for n := range accts {
		i := int32(n)
		a := &accts[n]
		for _, v := range a.AltSecurityIdentities {
			x.insert(&x.altSecID, v, i)
			x.families |= family(foldKey(x.scratch[:0], v))
		}
		x.insert(&x.upn, a.UserPrincipalName, i)
		// SIDs are keyed by their canonical text, which has one case.
		x.sids[n] = a.ObjectSID.String()
		x.sid.add(x.sids[n], i)
		for _, der := range a.Certificates {
			x.cert.add(sha1.Sum(der), i)
		}
	}
	return x
}

// insert adds account i under the folded key k.
func (x *index) insert(p *postings[string], k string, i int32) {
	if k == "" {
		return
	}
	// A key that folding leaves unchanged is used as it stands.
	x.scratch = foldKey(x.scratch[:0], k)
	if string(x.scratch) != k {
		k = string(x.scratch)
	}
	p.add(k, i)
}

// samIndex and dnsIndex are built on first use: the sAMAccountName index
// serves only UPNs that match no account, the DNS index only certificates
// with DNS names.
func (x *index) samIndex() *postings[string] {
	if x.sam.m == nil {
		x.sam = newPostings[string](len(x.accounts))
		for n := range x.accounts {
			x.insert(&x.sam, x.accounts[n].SAMAccountName, int32(n))
		}
	}
	return &x.sam
}

func (x *index) dnsIndex() *postings[string] {
	if x.dns.m == nil {
		x.dns = newPostings[string](0)
		for n := range x.accounts {
			x.insert(&x.dns, x.accounts[n].DNSHostName, int32(n))
		}
	}
	return &x.dns
}

// duplicates lists the altSecurityIdentities values held by two or more
// accounts, sorted by value. Kerberos: values are included: they resolve
// names too.
func (x *index) duplicates() []Duplicate {
	var out []Duplicate
	x.altSecID.shared(func(v string, l []int32) {
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
	})
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
func (x *index) find(c *mapping.Certificate, buf []match) []match {
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
	var one [1]int32
	var keyBuf [256]byte
	key := keyBuf[:0]
	if x.families != 0 {
		c.EachCandidate(&x.cands, x.hasFamily, func(_ mapping.MappingType, value []byte) {
			key = foldKeyBytes(key[:0], value)
			// string(key) in a map index does not allocate.
			if l := x.altSecID.get(string(key), &one); l != nil {
				add(l, viaAltSecID, nil)
			}
		})
	}
	for _, src := range []mapping.SIDSource{c.SIDExtension, c.SANURL} {
		if src.State != mapping.SIDValid {
			continue
		}
		// The canonical text usually is the index key as it stands.
		if src.Canonical {
			if l := x.sid.get(src.Text, &one); l != nil {
				add(l, viaSID, nil)
				continue
			}
		}
		if s, err := mapping.ParseSID(src.Text); err == nil {
			add(x.sid.get(s.String(), &one), viaSID, nil)
		}
	}
	isUser := func(a *DirectoryAccount) bool { return a.Class == mapping.ClassUser }
	isComputer := func(a *DirectoryAccount) bool {
		return a.Class == mapping.ClassComputer || a.Class == mapping.ClassDomainController
	}
	for _, u := range c.UPNs {
		if l := x.upn.get(string(foldKey(key[:0], u)), &one); len(l) > 0 {
			add(l, viaUPN, isUser)
			continue
		}
		// The KDC falls back to the UPN prefix only when no account has
		// the UPN.
		if prefix, _, ok := strings.Cut(u, "@"); ok {
			add(x.samIndex().get(string(foldKey(key[:0], prefix)), &one), viaSAMAccountName, isUser)
		}
	}
	for _, d := range c.DNSNames {
		add(x.dnsIndex().get(string(foldKey(key[:0], d)), &one), viaDNSName, isComputer)
	}
	add(x.cert.get(c.KeyHashes.Thumbprint, &one), viaUserCertificate, nil)
	return out
}

// foldKeyBytes is foldKey for bytes.
func foldKeyBytes(dst, b []byte) []byte {
	for _, c := range b {
		if c >= 0x80 {
			return foldKey(dst, string(b))
		}
	}
	for _, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
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
