package ldapdir

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/tegata-project/tegata/internal/testenv"
	"github.com/tegata-project/tegata/mapping"
)

func TestFormatGUID(t *testing.T) {
	// objectGUID:: gAFP5Ngy90+g+pbL5OZMgg== as ldapsearch shows it.
	raw, _ := base64.StdEncoding.DecodeString("gAFP5Ngy90+g+pbL5OZMgg==")
	got, err := FormatGUID(raw)
	if want := "e44f0180-32d8-4ff7-a0fa-96cbe4e64c82"; err != nil || got != want {
		t.Errorf("FormatGUID = %q, %v; want %q", got, err, want)
	}
	if _, err := FormatGUID(raw[:15]); err == nil {
		t.Error("FormatGUID accepted 15 bytes")
	}
}

func TestConfigChecks(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want error
	}{
		{Config{URL: "ldap://dc1:389", BindDN: "a@b", Password: "x"}, ErrInsecureTransport},
		{Config{URL: "ldap://dc1:389", BindDN: "a", Password: "x", NTLMDomain: "CORP"}, ErrInsecureTransport},
		{Config{URL: "ldaps://dc1", PageSize: 1001}, ErrConfig},
		{Config{URL: "ldaps://dc1", StartTLS: true}, ErrConfig},
		{Config{URL: "http://dc1"}, ErrConfig},
		{Config{URL: "ldaps://dc1/DC=x"}, ErrConfig},
		{Config{URL: "ldaps://dc1", BindDN: "a@b"}, ErrConfig},
		{Config{URL: "ldaps://dc1", NTLMDomain: "CORP"}, ErrConfig},
		{Config{URL: "ldaps://dc1", CAFile: "/nonexistent/ca.pem"}, ErrConfig},
	} {
		_, err := Read(context.Background(), c.cfg, nil)
		if !errors.Is(err, c.want) {
			t.Errorf("Read(%+v): %v, want %v", c.cfg, err, c.want)
		}
	}
}

func TestParseRange(t *testing.T) {
	for in, want := range map[string][3]int{"0-1499": {0, 1499, 1}, "1500-*": {1500, -1, 1}, "5-4": {0, 0, 0}, "x-1": {0, 0, 0}, "7": {0, 0, 0}} {
		low, high, ok := parseRange(in)
		if okInt := map[bool]int{true: 1}[ok]; [3]int{low, high, okInt} != want {
			t.Errorf("parseRange(%q) = %d %d %v, want %v", in, low, high, ok, want)
		}
	}
}

// TestBadEntriesBecomeProblems converts entries as a directory could send
// them: the bad ones name their DN, the good parts are kept.
func TestBadEntriesBecomeProblems(t *testing.T) {
	s := &session{ctx: context.Background(), cfg: Config{URL: "ldaps://dc1.corp.test"}}
	sid := mapping.SID{Revision: 1, Authority: 5, SubAuthorities: []uint32{21, 1, 2, 3, 1013}}
	entry := func(dn string, attrs map[string][]string) *ldap.Entry { return ldap.NewEntry(dn, attrs) }

	acct, problems, err := s.account(entry("CN=short,DC=corp", map[string][]string{"objectSid": {string(sid.Bytes()[:27])}}))
	if err != nil || acct != nil || len(problems) != 1 || problems[0].Origin != "CN=short,DC=corp" || !strings.Contains(problems[0].Error(), "objectSid") {
		t.Errorf("wrong-length objectSid: %v %v %v; want no account and one problem naming the DN", acct, problems, err)
	}
	acct, problems, err = s.account(entry("CN=odd,DC=corp", map[string][]string{
		"objectSid": {string(sid.Bytes())}, "objectGUID": {"short"}, "whenCreated": {"yesterday"},
		"userAccountControl": {"514"}, "altSecurityIdentities;range=0-*": {"X509:<SKI>01"},
	}))
	if err != nil || acct == nil {
		t.Fatalf("entry with bad GUID and whenCreated: %v %v", acct, err)
	}
	if len(problems) != 2 || !acct.WhenCreated.IsZero() || acct.GUID != "" || !acct.Disabled || acct.Class != mapping.ClassUser ||
		len(acct.AltSecurityIdentities) != 1 || !acct.ObjectSID.Equal(sid) {
		t.Errorf("got %+v with problems %v; want the SID, disabled user, one value, unknown time and GUID, two problems", acct, problems)
	}
	acct, _, _ = s.account(entry("CN=dc,DC=corp", map[string][]string{
		"objectSid": {string(sid.Bytes())}, "whenCreated": {"20240115093012.0Z"}, "userAccountControl": {"532480"},
		"msDS-KeyCredentialLink": {"B:828:0002..."},
	}))
	if acct == nil || acct.Class != mapping.ClassDomainController || !acct.KeyCredentialLink || acct.WhenCreated != time.Date(2024, 1, 15, 9, 30, 12, 0, time.UTC) {
		t.Errorf("DC entry: %+v", acct)
	}
}

// TestRangedAttributeIsCompleted asks Samba for the first two values only,
// as AD returns the first 1500, and checks that values fetches the rest.
func TestRangedAttributeIsCompleted(t *testing.T) {
	sb := testenv.SharedSamba(t)
	u := sb.CreateUser(t, "ranged-erin")
	var want []string
	for i := range 5 {
		want = append(want, "X509:<SKI>0000000000000000000000000000000000000"+string(rune('0'+i)))
	}
	sb.AddAltSecurityIdentities(t, u.DN, want...)
	s, err := open(context.Background(), Config{URL: sb.URL, BindDN: sb.AdminUPN, Password: sb.AdminPassword, CAFile: sb.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	e, err := s.baseSearch(u.DN, []string{"altSecurityIdentities;range=0-1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Attributes) != 1 || !strings.HasPrefix(e.Attributes[0].Name, "altSecurityIdentities;range=0-1") {
		t.Fatalf("Samba answered %v, not a ranged attribute", e.Attributes[0].Name)
	}
	got, err := s.values(e, "altSecurityIdentities")
	if err != nil {
		t.Fatal(err)
	}
	var gotS []string
	for _, v := range got {
		gotS = append(gotS, string(v))
	}
	if strings.Join(gotS, ",") != strings.Join(want, ",") {
		t.Errorf("values = %q, want %q", gotS, want)
	}
}
