package ldapdir_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/mapaudit"
	"github.com/tegata-project/tegata/internal/mapaudit/ldapdir"
	"github.com/tegata-project/tegata/internal/testenv"
	"github.com/tegata-project/tegata/mapping"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := testenv.StopSharedSamba(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping Samba:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// adminConfig binds as Administrator (by UPN) over LDAPS.
func adminConfig(s *testenv.Samba) ldapdir.Config {
	return ldapdir.Config{URL: s.URL, BindDN: s.AdminUPN, Password: s.AdminPassword, CAFile: s.CAFile, Timeout: 20 * time.Second}
}

func byDN(t *testing.T, dir *mapaudit.Directory, dn string) mapaudit.DirectoryAccount {
	t.Helper()
	for _, a := range dir.Accounts {
		if strings.EqualFold(a.DN, dn) {
			return a
		}
	}
	t.Fatalf("Read returned no account %s among %d", dn, len(dir.Accounts))
	return mapaudit.DirectoryAccount{}
}

var guidForm = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestReadUsersComputersAndDCs(t *testing.T) {
	s := testenv.SharedSamba(t)
	alice := s.CreateUser(t, "read-alice")
	bob := s.CreateUser(t, "read-bob")
	ws := s.CreateComputer(t, "READWS1")
	aliceValues := []string{
		"X509:<I>DC=test,DC=corp,CN=CORP-CA<SR>1200000000AC11000000002B",
		"X509:<SKI>B04516B54F1F3EEAB37DE6FC0F377F9B91725041",
	}
	s.AddAltSecurityIdentities(t, alice.DN, aliceValues...)

	var pages []int
	dir, err := ldapdir.Read(context.Background(), adminConfig(s), func(n int) { pages = append(pages, n) })
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range dir.Problems {
		t.Errorf("problem: %v", p)
	}
	if len(pages) == 0 || pages[len(pages)-1] != len(dir.Accounts) {
		t.Errorf("progress calls %v do not end at the %d accounts read", pages, len(dir.Accounts))
	}
	for _, want := range []testenv.SambaAccount{alice, bob, ws} {
		got := byDN(t, dir, want.DN)
		if got.ObjectSID.String() != want.SID {
			t.Errorf("%s: SID %s, want %s", want.DN, got.ObjectSID, want.SID)
		}
		if !got.WhenCreated.Equal(want.WhenCreated) {
			t.Errorf("%s: whenCreated %s, want %s", want.DN, got.WhenCreated, want.WhenCreated)
		}
		if got.UserPrincipalName != want.UserPrincipalName || got.SAMAccountName != want.SAMAccountName || got.DNSHostName != want.DNSHostName {
			t.Errorf("%s: names %q %q %q, want %q %q %q", want.DN, got.UserPrincipalName, got.SAMAccountName, got.DNSHostName,
				want.UserPrincipalName, want.SAMAccountName, want.DNSHostName)
		}
		if !guidForm.MatchString(got.GUID) {
			t.Errorf("%s: GUID %q is not in string form", want.DN, got.GUID)
		}
		if got.Disabled {
			t.Errorf("%s: reported disabled", want.DN)
		}
		if got.Origin != s.URL {
			t.Errorf("%s: origin %q", want.DN, got.Origin)
		}
	}
	if got := byDN(t, dir, alice.DN); strings.Join(got.AltSecurityIdentities, "|") != strings.Join(aliceValues, "|") {
		t.Errorf("alice's altSecurityIdentities = %q, want %q", got.AltSecurityIdentities, aliceValues)
	}
	if got := byDN(t, dir, bob.DN); len(got.AltSecurityIdentities) != 0 {
		t.Errorf("bob's altSecurityIdentities = %q, want none", got.AltSecurityIdentities)
	}
	classes := map[string]mapping.AccountClass{
		alice.DN: mapping.ClassUser, ws.DN: mapping.ClassComputer,
		"CN=DC1,OU=Domain Controllers," + s.BaseDN: mapping.ClassDomainController,
	}
	for dn, want := range classes {
		if got := byDN(t, dir, dn).Class; got != want {
			t.Errorf("%s: class %v, want %v", dn, got, want)
		}
	}
	// krbtgt is disabled in every domain.
	if !byDN(t, dir, "CN=krbtgt,CN=Users,"+s.BaseDN).Disabled {
		t.Error("krbtgt is not reported disabled")
	}
	if len(dir.DomainControllers) != 1 || dir.DomainControllers[0].Name != s.DCHostName || dir.DomainControllers[0].OperatingSystem == "" {
		t.Errorf("domain controllers = %+v, want one, %s, with its operating system", dir.DomainControllers, s.DCHostName)
	}
	if dir.NTAuth == nil {
		t.Error("NTAuth is nil: the store was not read (an absent store is empty, not nil)")
	}
}

func TestReadPagesSmallPages(t *testing.T) {
	s := testenv.SharedSamba(t)
	var created []testenv.SambaAccount
	for i := range 30 {
		created = append(created, s.CreateUser(t, fmt.Sprintf("page-%02d", i)))
	}
	cfg := adminConfig(s)
	cfg.PageSize = 10
	var calls []int
	dir, err := ldapdir.Read(context.Background(), cfg, func(n int) { calls = append(calls, n) })
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range created {
		byDN(t, dir, c.DN)
	}
	// Users alone span at least 4 pages of 10 (30 created, plus built-ins).
	if len(calls) < 4 || calls[0] != 10 || calls[1] != 20 || calls[2] != 30 || calls[3] <= 30 {
		t.Errorf("progress after each page: %v; want 10, 20, 30, then more", calls)
	}
}

func TestApplyAddsOnceAndKeepsOtherValues(t *testing.T) {
	s := testenv.SharedSamba(t)
	u := s.CreateUser(t, "apply-carol")
	existing := "X509:<SKI>00112233445566778899AABBCCDDEEFF00112233"
	s.AddAltSecurityIdentities(t, u.DN, existing)
	value := "X509:<I>DC=test,DC=corp,CN=CORP-CA<SR>0A0B0C0D0E0F1011"
	fix := mapaudit.Fix{DN: u.DN, SID: u.SID, Class: mapping.ClassUser, Value: value}
	ctx := context.Background()

	res, err := ldapdir.Apply(ctx, adminConfig(s), []mapaudit.Fix{fix})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Status != mapaudit.FixAdded || res[0].Err != nil {
		t.Fatalf("first apply: %+v, want added", res)
	}
	// Again, and with the value in another case: the KDC compares values
	// case-insensitively, so both are already there.
	lower := fix
	lower.Value = strings.ToLower(value)
	res, err = ldapdir.Apply(ctx, adminConfig(s), []mapaudit.Fix{fix, lower})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Status != mapaudit.FixPresent || r.Err != nil {
			t.Errorf("second apply of %q: %s %v, want present", r.Fix.Value, r.Status, r.Err)
		}
	}
	got := s.ReadAccount(t, u.DN).AltSecurityIdentities
	if len(got) != 2 || !contains(got, existing) || !contains(got, value) {
		t.Errorf("altSecurityIdentities = %q, want exactly %q and %q", got, existing, value)
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func TestApplyWithoutPermissionFails(t *testing.T) {
	s := testenv.SharedSamba(t)
	target := s.CreateUser(t, "perm-target")
	plain := s.CreateUser(t, "perm-plain")
	cfg := adminConfig(s)
	cfg.BindDN, cfg.Password = plain.UserPrincipalName, plain.Password
	fix := mapaudit.Fix{DN: target.DN, Value: "X509:<SKI>0102030405060708090A0B0C0D0E0F1011121314"}
	res, err := ldapdir.Apply(context.Background(), cfg, []mapaudit.Fix{fix})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Status != mapaudit.FixFailed || !errors.Is(res[0].Err, ldapdir.ErrPermission) {
		t.Fatalf("apply as a plain user: %+v, want failed with ErrPermission", res)
	}
	if msg := res[0].Err.Error(); !strings.Contains(msg, plain.UserPrincipalName) || !strings.Contains(msg, "delegate") {
		t.Errorf("permission error %q does not name the bind account and the delegation to do", msg)
	}
	if got := s.ReadAccount(t, target.DN).AltSecurityIdentities; len(got) != 0 {
		t.Errorf("the refused write left %q", got)
	}
}

func TestWrongCAFailsWithTLSError(t *testing.T) {
	s := testenv.SharedSamba(t)
	other := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(other, otherCAPEM(t), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := adminConfig(s)
	cfg.CAFile = other
	_, err := ldapdir.Read(context.Background(), cfg, nil)
	var tlsErr *ldapdir.TLSError
	if !errors.As(err, &tlsErr) {
		t.Fatalf("Read with the wrong CA: %v, want a *TLSError", err)
	}
	if msg := err.Error(); !strings.Contains(msg, other) || !strings.Contains(msg, "certificate") {
		t.Errorf("TLS error %q does not name the CA file and the certificate problem", msg)
	}
	// StartTLS verifies the same way.
	cfg.URL, cfg.StartTLS = s.StartTLSURL, true
	if _, err := ldapdir.Read(context.Background(), cfg, nil); !errors.As(err, &tlsErr) {
		t.Errorf("StartTLS with the wrong CA: %v, want a *TLSError", err)
	}
}

func TestPlainLDAPRefusedStartTLSWorks(t *testing.T) {
	s := testenv.SharedSamba(t)
	cfg := adminConfig(s)
	cfg.URL = s.StartTLSURL
	_, err := ldapdir.Read(context.Background(), cfg, nil)
	if !errors.Is(err, ldapdir.ErrInsecureTransport) || !strings.Contains(err.Error(), "ldaps://127.0.0.1:636") {
		t.Fatalf("simple bind over plain ldap://: %v, want ErrInsecureTransport suggesting ldaps://", err)
	}
	cfg.StartTLS = true
	acct, err := ldapdir.LookupAccount(context.Background(), cfg, "Administrator")
	if err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	if acct.DN != s.AdminDN {
		t.Errorf("StartTLS lookup found %s", acct.DN)
	}
}

// TestNTLMBindOnSamba binds with NTLM through SASL GSS-SPNEGO, over LDAPS
// and after StartTLS, and reads an account; a wrong password is a
// BindError naming the NTLM bind, as is a wrong simple bind.
func TestNTLMBindOnSamba(t *testing.T) {
	s := testenv.SharedSamba(t)
	for _, startTLS := range []bool{false, true} {
		cfg := adminConfig(s)
		if startTLS {
			cfg.URL, cfg.StartTLS = s.StartTLSURL, true
		}
		cfg.BindDN, cfg.NTLMDomain = "Administrator", s.Domain
		acct, err := ldapdir.LookupAccount(context.Background(), cfg, "Administrator")
		if err != nil {
			t.Fatalf("NTLM bind (StartTLS %v): %v", startTLS, err)
		}
		if acct.DN != s.AdminDN {
			t.Errorf("NTLM-bound lookup found %s, want %s", acct.DN, s.AdminDN)
		}
		cfg.Password = "wrong"
		var bindErr *ldapdir.BindError
		if _, err := ldapdir.LookupAccount(context.Background(), cfg, "Administrator"); !errors.As(err, &bindErr) ||
			!strings.HasPrefix(bindErr.Method, "NTLM") || !strings.Contains(err.Error(), "49") {
			t.Errorf("NTLM bind with a wrong password (StartTLS %v): %v, want a *BindError with LDAP result 49", startTLS, err)
		}
	}
	cfg := adminConfig(s)
	cfg.Password = "wrong"
	var bindErr *ldapdir.BindError
	if _, err := ldapdir.LookupAccount(context.Background(), cfg, s.AdminUPN); !errors.As(err, &bindErr) || bindErr.Method != "simple" ||
		!strings.Contains(err.Error(), "password") {
		t.Errorf("simple bind with a wrong password: %v, want a *BindError", err)
	}
}

func TestLookupAccount(t *testing.T) {
	s := testenv.SharedSamba(t)
	u := s.CreateUser(t, "lookup-dave")
	c := s.CreateComputer(t, "LOOKUPWS")
	ctx, cfg := context.Background(), adminConfig(s)
	for name, want := range map[string]testenv.SambaAccount{
		"lookup-dave": u, "lookup-dave@corp.test": u, u.SID: u,
		"LOOKUPWS": c, "LOOKUPWS$": c, "lookupws.corp.test": c, c.SID: c,
	} {
		got, err := ldapdir.LookupAccount(ctx, cfg, name)
		if err != nil {
			t.Errorf("LookupAccount(%q): %v", name, err)
			continue
		}
		if got.DN != want.DN || got.ObjectSID.String() != want.SID || !got.WhenCreated.Equal(want.WhenCreated) {
			t.Errorf("LookupAccount(%q) = %s %s %s, want %s %s %s", name, got.DN, got.ObjectSID, got.WhenCreated, want.DN, want.SID, want.WhenCreated)
		}
	}
	for _, name := range []string{"nobody-here", "S-1-5-21-1-2-3-99999", "x*)(objectClass=*"} {
		if _, err := ldapdir.LookupAccount(ctx, cfg, name); !errors.Is(err, ldapdir.ErrAccountNotFound) {
			t.Errorf("LookupAccount(%q): %v, want ErrAccountNotFound", name, err)
		}
	}
}

func TestContextCancelledMidRead(t *testing.T) {
	s := testenv.SharedSamba(t)
	cfg := adminConfig(s)
	cfg.PageSize = 2
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := ldapdir.Read(ctx, cfg, func(int) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Read cancelled after the first page: %v, want context.Canceled", err)
	}
}

// TestConnectionDroppedMidPage puts a TCP proxy between the client and
// Samba that, once the first page has been read, forwards a few hundred
// bytes of the next response and then closes both sides.
func TestConnectionDroppedMidPage(t *testing.T) {
	s := testenv.SharedSamba(t)
	p := startCuttingProxy(t, "127.0.0.1:636")
	cfg := adminConfig(s)
	cfg.URL, cfg.PageSize = "ldaps://"+p.addr, 10
	var firstPage int
	_, err := ldapdir.Read(context.Background(), cfg, func(n int) {
		if firstPage == 0 {
			firstPage = n
			p.cutAfter(300)
		}
	})
	var re *ldapdir.ReadError
	if !errors.As(err, &re) {
		t.Fatalf("Read through a proxy that cuts page 2: %v, want a *ReadError", err)
	}
	if re.Search != "users" || re.Page != 2 || re.Accounts != firstPage || firstPage != 10 {
		t.Errorf("ReadError says %s page %d after %d accounts; want users page 2 after %d (= 10)", re.Search, re.Page, re.Accounts, firstPage)
	}
	msg := err.Error()
	for _, want := range []string{"page 2", fmt.Sprintf("after %d accounts", firstPage), "run the read again", "--page-size"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
}

// cuttingProxy relays TCP connections to a backend; after cutAfter(n) it
// relays n more bytes from the backend and then closes everything.
type cuttingProxy struct {
	addr   string
	budget atomic.Int64 // < 0: unlimited
	mu     sync.Mutex
	conns  []net.Conn
}

func startCuttingProxy(t *testing.T, backend string) *cuttingProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttingProxy{addr: l.Addr().String()}
	p.budget.Store(-1)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		p.closeAll()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			b, err := net.DialTimeout("tcp", backend, 5*time.Second)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(b, c); b.Close() })
			wg.Go(func() { p.relayBack(c, b) })
		}
	})
	return p
}

func (p *cuttingProxy) cutAfter(n int64) { p.budget.Store(n) }

func (p *cuttingProxy) relayBack(client, backend net.Conn) {
	defer client.Close()
	buf := make([]byte, 512)
	for {
		n, err := backend.Read(buf)
		if n > 0 {
			if left := p.budget.Load(); left >= 0 {
				if int64(n) > left {
					n = int(left)
				}
				p.budget.Add(-int64(n))
				_, _ = client.Write(buf[:n])
				if p.budget.Load() <= 0 {
					p.closeAll()
					return
				}
				continue
			}
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *cuttingProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}
