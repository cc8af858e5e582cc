package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/go-ldap/ldap/v3"
)

// A Samba is a throw-away Samba Active Directory domain controller
// (reference strong-mapping 9.4) for the realm CORP.TEST, serving LDAP on
// 127.0.0.1:389 (StartTLS) and LDAPS on 127.0.0.1:636 with a certificate
// for 127.0.0.1 and localhost from a CA made for it. Only its LDAP service
// runs. Samba listens on fixed ports, so one instance runs at a time on the
// machine: StartSamba holds an exclusive lock on SambaLockFile from start
// to stop, across test processes. The DC stops when its test (or, for
// SharedSamba, the test process) ends, however the process ends.
type Samba struct {
	// URL is the LDAPS URL, ldaps://127.0.0.1:636; StartTLSURL is
	// ldap://127.0.0.1:389, which needs StartTLS.
	URL, StartTLSURL string
	// CAFile is the PEM of the CA that issued the LDAPS certificate; CAPEM
	// is its content.
	CAFile string
	CAPEM  []byte
	// Realm is CORP.TEST, Domain the NetBIOS name CORP, DNSDomain
	// corp.test and BaseDN DC=corp,DC=test.
	Realm, Domain, DNSDomain, BaseDN string
	// AdminDN and AdminUPN name the Administrator account; AdminPassword is
	// its password.
	AdminDN, AdminUPN, AdminPassword string
	// DCHostName is the DC's dNSHostName, dc1.corp.test.
	DCHostName string
	// Dir holds the provisioned domain, the TLS files and samba.log.
	Dir string

	cmd      *exec.Cmd
	exited   chan struct{}
	lock     *os.File
	watchdog *exec.Cmd
	watchEnd *os.File
	stopOnce sync.Once
}

const (
	// SambaLockFile serialises Samba instances across test processes.
	SambaLockFile = "/tmp/tegata-samba.lock"

	sambaFix           = "run `make deps` as root, or apt-get install samba-ad-dc samba-ad-provision krb5-user ldap-utils"
	sambaProvisionTime = 3 * time.Minute
	sambaStartTimeout  = 90 * time.Second
	sambaStopTimeout   = 20 * time.Second
	sambaLockWait      = 10 * time.Minute
	sambaAdminPassword = "Tegata-Adm1n-Pass!x"
)

// StartSamba provisions and starts a domain controller for t alone and
// stops it when t ends. It skips t with -short, and when Samba is not
// installed or the test does not run as root (Samba binds ports below
// 1024), failing it instead under TEGATA_REQUIRE_INTEGRATION=1.
// Provisioning takes about five seconds: tests that can share a DC should
// use SharedSamba.
func StartSamba(t testing.TB) *Samba {
	t.Helper()
	sambaPrerequisites(t)
	s, err := startSamba()
	if err != nil {
		t.Fatalf("starting Samba: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("samba.log (tail):\n%s", s.logTail(4000))
		}
		if err := s.Stop(); err != nil {
			t.Errorf("stopping Samba: %v", err)
		}
	})
	return s
}

var sharedSamba struct {
	once sync.Once
	srv  *Samba
	err  error
}

// SharedSamba returns the test binary's one shared domain controller,
// starting it on first use. It skips or fails t like StartSamba. The DC
// runs, and holds SambaLockFile, until StopSharedSamba, which a TestMain
// should call after m.Run; if that never happens, it stops when the test
// process exits. Tests sharing it must create accounts with names of their
// own.
func SharedSamba(t testing.TB) *Samba {
	t.Helper()
	sambaPrerequisites(t)
	sharedSamba.once.Do(func() { sharedSamba.srv, sharedSamba.err = startSamba() })
	if sharedSamba.err != nil {
		t.Fatalf("starting the shared Samba: %v", sharedSamba.err)
	}
	return sharedSamba.srv
}

// StopSharedSamba stops the shared DC if SharedSamba started it.
func StopSharedSamba() error {
	if sharedSamba.srv == nil {
		return nil
	}
	return sharedSamba.srv.Stop()
}

func sambaPrerequisites(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("provisions a Samba AD DC; skipped with -short")
	}
	Program(t, "samba", "samba-ad-dc")
	Program(t, "samba-tool", "samba-ad-provision")
	Root(t, "Samba AD binds the fixed ports 389 and 636")
}

func startSamba() (_ *Samba, err error) {
	dir, err := os.MkdirTemp("", "tegata-samba-")
	if err != nil {
		return nil, err
	}
	s := &Samba{
		URL: "ldaps://127.0.0.1:636", StartTLSURL: "ldap://127.0.0.1:389",
		Realm: "CORP.TEST", Domain: "CORP", DNSDomain: "corp.test", BaseDN: "DC=corp,DC=test",
		AdminDN: "CN=Administrator,CN=Users,DC=corp,DC=test", AdminUPN: "Administrator@corp.test",
		AdminPassword: sambaAdminPassword, DCHostName: "dc1.corp.test", Dir: dir,
		CAFile: filepath.Join(dir, "tls", "ca.pem"),
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Stop())
		}
	}()
	if err := s.provision(); err != nil {
		return s, err
	}
	if err := s.writeTLS(); err != nil {
		return s, fmt.Errorf("making the LDAPS certificate: %w", err)
	}
	if err := s.configure(); err != nil {
		return s, err
	}
	// Provisioning needs no port; hold the lock only while Samba runs.
	if s.lock, err = lockExclusive(SambaLockFile, sambaLockWait); err != nil {
		return s, err
	}
	if conn, err := net.DialTimeout("tcp", "127.0.0.1:636", time.Second); err == nil {
		conn.Close()
		return s, errors.New("127.0.0.1:636 is in use although no other tegata test holds " + SambaLockFile +
			"; a system Samba or slapd, or a Samba left over from a killed run? See `ss -ltnp 'sport = :636'`")
	}
	if err := s.start(); err != nil {
		return s, err
	}
	return s, s.waitReady()
}

// provision runs samba-tool domain provision into s.Dir (reference 9.4).
func (s *Samba) provision() error {
	ctx, cancel := context.WithTimeout(context.Background(), sambaProvisionTime)
	defer cancel()
	cmd := exec.CommandContext(ctx, "samba-tool", "domain", "provision",
		"--realm="+s.Realm, "--domain="+s.Domain, "--server-role=dc", "--dns-backend=NONE",
		"--adminpass="+s.AdminPassword, "--targetdir="+filepath.Join(s.Dir, "dc"),
		"--host-name=dc1", "--host-ip=127.0.0.1",
		"--option=interfaces=lo", "--option=bind interfaces only=yes")
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("samba-tool domain provision: %w\n%s", err, tail(out, 3000))
	}
	return nil
}

func (s *Samba) confPath() string { return filepath.Join(s.Dir, "dc", "etc", "smb.conf") }
func (s *Samba) logPath() string  { return filepath.Join(s.Dir, "samba.log") }

// configure rewrites [global] of the generated smb.conf: TLS with our
// certificate (Samba's own has no SAN, which Go rejects), only the LDAP
// service, SASL binds allowed inside TLS, and logs and the PID file inside
// s.Dir.
func (s *Samba) configure() error {
	b, err := os.ReadFile(s.confPath())
	if err != nil {
		return err
	}
	tlsDir := filepath.Join(s.Dir, "tls")
	set := []string{
		"tls enabled = yes",
		"tls keyfile = " + filepath.Join(tlsDir, "key.pem"),
		"tls certfile = " + filepath.Join(tlsDir, "cert.pem"),
		"tls cafile = " + s.CAFile,
		"server services = ldap",
		// Samba before 4.20 refuses a SASL bind inside TLS without SASL
		// signing unless told so; AD and later Samba accept it (with TLS
		// channel binding). Sites running such a Samba set this.
		"ldap server require strong auth = allow_sasl_over_tls",
		"log file = " + s.logPath(),
		"pid directory = " + filepath.Join(s.Dir, "run"),
	}
	replaced := map[string]bool{}
	for _, kv := range set {
		k, _, _ := strings.Cut(kv, " = ")
		replaced[k] = true
	}
	var out []string
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "[") {
			section = trimmed
			out = append(out, line)
			if section == "[global]" {
				for _, kv := range set {
					out = append(out, "\t"+kv)
				}
			}
			continue
		}
		if k, _, ok := strings.Cut(trimmed, "="); ok && section == "[global]" && replaced[strings.TrimSpace(k)] {
			continue
		}
		out = append(out, line)
	}
	if err := os.MkdirAll(filepath.Join(s.Dir, "run"), 0o700); err != nil {
		return err
	}
	return os.WriteFile(s.confPath(), []byte(strings.Join(out, "\n")), 0o644)
}

// writeTLS makes a CA and an LDAPS certificate for 127.0.0.1, localhost
// and the DC's name. Samba insists on a key file readable by its owner only.
func (s *Samba) writeTLS() error {
	dir := filepath.Join(s.Dir, "tls")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tegata testenv Samba CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(7 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2),
		Subject:  pkix.Name{CommonName: s.DCHostName},
		DNSNames: []string{"localhost", s.DCHostName}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(7 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
		ca, key.Public(), caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	s.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{"ca.pem", s.CAPEM, 0o644},
		{"cert.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}), 0o644},
		{"key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// start runs samba in the foreground in a process group of its own, which
// Stop and the watchdog kill, so no worker outlives it.
func (s *Samba) start() error {
	logFile, err := os.Create(filepath.Join(s.Dir, "samba.stdout"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	s.cmd = exec.Command("samba", "--foreground", "--no-process-group", "-s", s.confPath())
	s.cmd.Dir = s.Dir
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("starting samba: %w", err)
	}
	s.exited = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	if err := s.startWatchdog(); err != nil {
		return fmt.Errorf("starting the watchdog: %w", err)
	}
	return nil
}

// waitReady waits until an LDAPS bind as Administrator succeeds.
func (s *Samba) waitReady() error {
	deadline := time.Now().Add(sambaStartTimeout)
	var lastErr error
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("samba exited during start-up (%v); samba.log:\n%s", s.cmd.ProcessState, s.logTail(3000))
		default:
		}
		conn, err := s.dialAdmin()
		if err == nil {
			conn.Close()
			return nil
		}
		lastErr = err
		if time.Now().After(deadline) {
			return fmt.Errorf("samba did not accept an LDAPS bind within %s (last error: %v); samba.log:\n%s", sambaStartTimeout, lastErr, s.logTail(3000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *Samba) logTail(n int) []byte {
	a, _ := os.ReadFile(filepath.Join(s.Dir, "samba.stdout"))
	b, _ := os.ReadFile(s.logPath())
	return tail(append(a, b...), n)
}

// TLSConfig returns a client configuration that trusts the DC's CA.
func (s *Samba) TLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CAPEM)
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// Stop stops samba (SIGTERM to its PID, then SIGKILL to its process group
// for workers that linger), removes its directory and releases the lock.
// Calling it again does nothing.
func (s *Samba) Stop() error {
	var err error
	s.stopOnce.Do(func() {
		if s.cmd != nil && s.cmd.Process != nil {
			pgid := s.cmd.Process.Pid
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.exited:
			case <-time.After(sambaStopTimeout):
				err = fmt.Errorf("samba (pid %d) did not stop within %s of SIGTERM; killed", pgid, sambaStopTimeout)
			}
			// The group is samba's own (Setpgid): its workers and nothing else.
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			select {
			case <-s.exited:
			case <-time.After(sambaStopTimeout):
				err = errors.Join(err, fmt.Errorf("samba (pid %d) survived SIGKILL", pgid))
			}
		}
		if s.watchdog != nil {
			_ = s.watchdog.Process.Kill()
			_ = s.watchdog.Wait()
			s.watchEnd.Close()
		}
		err = errors.Join(err, os.RemoveAll(s.Dir))
		if s.lock != nil {
			s.lock.Close() // releases the flock
		}
	})
	return err
}

// startWatchdog starts a shell, in its own process group, that kills
// samba's process group and removes its directory when the pipe whose
// write end only we hold closes: when the test process exits, however it
// exits. Stop kills the watchdog first.
func (s *Samba) startWatchdog() (err error) {
	s.watchdog, s.watchEnd, err = startWatchdog(`read -r _; kill -TERM "-$1" 2>/dev/null; sleep 2; kill -9 "-$1" 2>/dev/null; rm -rf -- "$2"`,
		nil, strconv.Itoa(s.cmd.Process.Pid), s.Dir)
	return err
}

// lockExclusive takes an exclusive flock on path, waiting at most wait. The
// lock lasts until the returned file is closed or the process exits.
func lockExclusive(path string, wait time.Duration) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, fmt.Errorf("opening the Samba lock %s: %w", path, err)
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			_ = f.Truncate(0)
			_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			holder, _ := os.ReadFile(path)
			f.Close()
			return nil, fmt.Errorf("another test process (pid %s) has held %s, and so Samba's fixed ports, for more than %s; run the Samba tests alone",
				strings.TrimSpace(string(holder)), path, wait)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// A SambaAccount is an account made by CreateUser or CreateComputer, with
// the attributes the server assigned, read back.
type SambaAccount struct {
	DN, SAMAccountName, UserPrincipalName, DNSHostName string
	// Password is a user's password (empty for computers).
	Password string
	// SID is the objectSid in string form, SIDBytes its binary form.
	SID      string
	SIDBytes []byte
	// WhenCreated is whenCreated (UTC, one-second precision).
	WhenCreated time.Time
	// AltSecurityIdentities are the values as stored.
	AltSecurityIdentities []string
}

// dialAdmin opens an LDAPS connection bound as Administrator.
func (s *Samba) dialAdmin() (*ldap.Conn, error) {
	return s.Dial(s.AdminUPN, s.AdminPassword)
}

// Dial opens an LDAPS connection that trusts the DC's CA, bound as user
// (a DN or UPN), with a 30-second timeout per operation.
func (s *Samba) Dial(user, password string) (*ldap.Conn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := ldap.DialURL(s.URL, ldap.DialWithDialer(d), ldap.DialWithTLSConfig(s.TLSConfig()))
	if err != nil {
		return nil, err
	}
	conn.SetTimeout(30 * time.Second)
	if err := conn.Bind(user, password); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// admin opens an Administrator connection closed when t ends.
func (s *Samba) admin(t testing.TB) *ldap.Conn {
	t.Helper()
	conn, err := s.dialAdmin()
	if err != nil {
		t.Fatalf("binding to Samba as Administrator: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// CreateUser adds an enabled user CN=name,CN=Users with sAMAccountName
// name, userPrincipalName name@corp.test and a password, and returns it
// with its server-assigned SID and whenCreated.
func (s *Samba) CreateUser(t testing.TB, name string) SambaAccount {
	t.Helper()
	conn := s.admin(t)
	dn := "CN=" + ldap.EscapeDN(name) + ",CN=Users," + s.BaseDN
	password := "Tegata-User-9x!Q" // complex, and never contains the account name
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user"})
	req.Attribute("sAMAccountName", []string{name})
	req.Attribute("userPrincipalName", []string{name + "@" + s.DNSDomain})
	req.Attribute("unicodePwd", []string{utf16LE(`"` + password + `"`)})
	req.Attribute("userAccountControl", []string{"512"}) // NORMAL_ACCOUNT, enabled
	if err := conn.Add(req); err != nil {
		t.Fatalf("creating user %s: %v", dn, err)
	}
	a := s.ReadAccount(t, dn)
	a.Password = password
	return a
}

// CreateComputer adds a computer CN=name,CN=Computers with sAMAccountName
// name$ and dNSHostName name.corp.test (lower case), and returns it with
// its server-assigned SID and whenCreated.
func (s *Samba) CreateComputer(t testing.TB, name string) SambaAccount {
	t.Helper()
	conn := s.admin(t)
	dn := "CN=" + ldap.EscapeDN(name) + ",CN=Computers," + s.BaseDN
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user", "computer"})
	req.Attribute("sAMAccountName", []string{name + "$"})
	req.Attribute("dNSHostName", []string{strings.ToLower(name) + "." + s.DNSDomain})
	req.Attribute("userAccountControl", []string{"4096"}) // WORKSTATION_TRUST_ACCOUNT
	if err := conn.Add(req); err != nil {
		t.Fatalf("creating computer %s: %v", dn, err)
	}
	return s.ReadAccount(t, dn)
}

// AddAltSecurityIdentities adds values to the account's
// altSecurityIdentities as Administrator.
func (s *Samba) AddAltSecurityIdentities(t testing.TB, dn string, values ...string) {
	t.Helper()
	req := ldap.NewModifyRequest(dn, nil)
	req.Add("altSecurityIdentities", values)
	if err := s.admin(t).Modify(req); err != nil {
		t.Fatalf("adding altSecurityIdentities to %s: %v", dn, err)
	}
}

// Delete removes an entry as Administrator.
func (s *Samba) Delete(t testing.TB, dn string) {
	t.Helper()
	if err := s.admin(t).Del(ldap.NewDelRequest(dn, nil)); err != nil {
		t.Fatalf("deleting %s: %v", dn, err)
	}
}

// ReadAccount reads an account's names, objectSid, whenCreated and
// altSecurityIdentities back as Administrator.
func (s *Samba) ReadAccount(t testing.TB, dn string) SambaAccount {
	t.Helper()
	req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false, "(objectClass=*)",
		[]string{"sAMAccountName", "userPrincipalName", "dNSHostName", "objectSid", "whenCreated", "altSecurityIdentities"}, nil)
	res, err := s.admin(t).Search(req)
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("reading %s back: %v", dn, err)
	}
	e := res.Entries[0]
	a := SambaAccount{
		DN: e.DN, SAMAccountName: e.GetAttributeValue("sAMAccountName"),
		UserPrincipalName: e.GetAttributeValue("userPrincipalName"), DNSHostName: e.GetAttributeValue("dNSHostName"),
		SIDBytes: e.GetRawAttributeValue("objectSid"), AltSecurityIdentities: e.GetAttributeValues("altSecurityIdentities"),
	}
	var err2 error
	if a.SID, err2 = sidString(a.SIDBytes); err2 != nil {
		t.Fatalf("objectSid of %s: %v", dn, err2)
	}
	// Samba writes whenCreated as YYYYMMDDHHMMSS.0Z (reference 2.5).
	if a.WhenCreated, err = time.Parse("20060102150405.0Z", e.GetAttributeValue("whenCreated")); err != nil {
		t.Fatalf("whenCreated of %s: %v", dn, err)
	}
	return a
}

// utf16LE encodes s as UTF-16LE, the encoding of unicodePwd.
func utf16LE(s string) string {
	var b strings.Builder
	for _, r := range utf16.Encode([]rune(s)) {
		b.WriteByte(byte(r))
		b.WriteByte(byte(r >> 8))
	}
	return b.String()
}

// sidString renders a binary SID (MS-DTYP 2.4.2.2) in its string form; the
// package does not import mapping, whose tests may use testenv.
func sidString(b []byte) (string, error) {
	if len(b) < 8 || b[0] != 1 || len(b) != 8+4*int(b[1]) {
		return "", fmt.Errorf("%x is not a binary SID", b)
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	out := fmt.Sprintf("S-1-%d", auth)
	for i := 8; i < len(b); i += 4 {
		out += fmt.Sprintf("-%d", uint32(b[i])|uint32(b[i+1])<<8|uint32(b[i+2])<<16|uint32(b[i+3])<<24)
	}
	return out, nil
}
