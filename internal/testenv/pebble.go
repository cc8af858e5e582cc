package testenv

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// PebbleOptions configures a Pebble test CA started by StartPebble. The zero
// value gives a CA without external account binding, with the profiles
// "default" (90 days) and "shortlived" (6 days), and with HTTP-01 left to
// the test (nothing listens on Pebble.HTTPPort).
type PebbleOptions struct {
	// EABKeys, when not empty, makes Pebble require external account
	// binding (externalAccountBindingRequired) and accept these key IDs,
	// each mapped to its base64url-encoded HMAC key.
	EABKeys map[string]string

	// Profiles replaces the default profiles. Pebble picks a random profile
	// for an order that names none, so tests that care name one.
	Profiles map[string]PebbleProfile

	// AlternateRoots sets PEBBLE_ALTERNATE_ROOTS: the number of extra
	// chains (each to its own root) offered for every certificate.
	AlternateRoots int

	// NonceRejectPercent sets PEBBLE_WFE_NONCEREJECT, the share of good
	// nonces Pebble rejects as badNonce; 0 (the default) for determinism.
	NonceRejectPercent int
}

// A PebbleProfile is a certificate profile Pebble offers in its directory.
type PebbleProfile struct {
	Description string
	Validity    time.Duration
}

// DefaultPebbleProfiles are the profiles of a Pebble started without
// PebbleOptions.Profiles.
var DefaultPebbleProfiles = map[string]PebbleProfile{
	"default":    {Description: "90 days", Validity: 90 * 24 * time.Hour},
	"shortlived": {Description: "6 days", Validity: 6 * 24 * time.Hour},
}

// A Pebble is a running Pebble ACME CA (github.com/letsencrypt/pebble/v2,
// the version in go.mod) with its pebble-challtestsrv, both on 127.0.0.1
// only. Pebble validates challenges against the challtestsrv's DNS server,
// which answers every A query with 127.0.0.1 unless told otherwise, so any
// name resolves to the loopback. Both processes stop when the test ends,
// or when the test process dies.
type Pebble struct {
	// DirectoryURL is the ACME directory, https://127.0.0.1:<port>/dir.
	DirectoryURL string
	// ManagementURL is Pebble's management interface (roots, ARI overrides).
	ManagementURL string
	// HTTPPort is the port Pebble's VA dials on 127.0.0.1 for HTTP-01.
	HTTPPort int
	// DNSAddr is the challtestsrv DNS server (UDP and TCP), host:port.
	DNSAddr string
	// ChallTestSrvURL is the challtestsrv management API, http://host:port.
	ChallTestSrvURL string
	// RootsPEM holds the roots Pebble issues under, fetched after start-up
	// (Pebble makes new ones at each start): /roots/0 first, then the
	// alternate roots.
	RootsPEM []byte
	// Roots holds the same roots as RootsPEM.
	Roots *x509.CertPool
	// TLSRootPEM is the CA certificate that Pebble's own HTTPS certificate
	// (directory and management) chains to, made for this test process.
	TLSRootPEM []byte

	tlsRoots *x509.CertPool
	dir      string
	procs    []*pebbleProc
	pgid     int // the process group of both programs
	watchdog *exec.Cmd
	watchEnd *os.File
	stopOnce sync.Once
}

type pebbleProc struct {
	name   string
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
	once   sync.Once
}

const (
	pebbleStartTimeout = 30 * time.Second
	pebbleFix          = "the Go tools are in go.mod: run `go mod download`"
)

// StartPebble starts Pebble and pebble-challtestsrv for t and stops them
// when t ends. It skips t with -short, and when the tools cannot be built
// (failing it instead under TEGATA_REQUIRE_INTEGRATION=1).
func StartPebble(t testing.TB, opts PebbleOptions) *Pebble {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Pebble; skipped with -short")
	}
	bins, err := pebbleTools()
	if err != nil {
		Missing(t, "Pebble (go tool pebble)", pebbleFix+": "+err.Error())
	}
	tlsCert, err := pebbleTLS()
	if err != nil {
		t.Fatalf("making Pebble's TLS certificate: %v", err)
	}
	var p *Pebble
	for attempt := 1; ; attempt++ {
		p, err = startPebble(bins, tlsCert, opts)
		if err == nil {
			break
		}
		if attempt < 5 && errors.Is(err, errPortTaken) {
			continue
		}
		t.Fatalf("starting Pebble: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, pr := range p.procs {
				b, _ := os.ReadFile(pr.log)
				t.Logf("%s log (tail):\n%s", pr.name, tail(b, 3000))
			}
		}
		p.Stop()
	})
	return p
}

// pebbleTools returns the paths of the pebble and pebble-challtestsrv
// binaries, the tools go.mod declares, asking `go tool -n` once per test
// process (it builds them into the Go build cache the first time).
var pebbleTools = sync.OnceValues(func() (paths [2]string, _ error) {
	for i, tool := range []string{"pebble", "pebble-challtestsrv"} {
		var stderr bytes.Buffer
		cmd := exec.Command("go", "tool", "-n", tool)
		cmd.Dir, cmd.Stderr = moduleRoot(), &stderr
		out, err := cmd.Output()
		if err != nil {
			return paths, fmt.Errorf("go tool -n %s: %w: %s", tool, err, bytes.TrimSpace(stderr.Bytes()))
		}
		paths[i] = strings.TrimSpace(string(out))
	}
	return paths, nil
})

var errPortTaken = errors.New("a port was taken")

func startPebble(bins [2]string, tlsCert *pebbleTLSFiles, opts PebbleOptions) (_ *Pebble, err error) {
	dir, err := os.MkdirTemp("", "tegata-pebble-")
	if err != nil {
		return nil, err
	}
	p := &Pebble{dir: dir, TLSRootPEM: tlsCert.caPEM, tlsRoots: x509.NewCertPool()}
	p.tlsRoots.AppendCertsFromPEM(tlsCert.caPEM)
	defer func() {
		if err != nil {
			p.Stop()
		}
	}()
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	dnsPort, ctMgmt, httpPort, acmePort, mgmtPort := ports[0], ports[1], ports[2], ports[3], ports[4]
	p.DNSAddr = fmt.Sprintf("127.0.0.1:%d", dnsPort)
	p.ChallTestSrvURL = fmt.Sprintf("http://127.0.0.1:%d", ctMgmt)
	p.HTTPPort = httpPort
	p.DirectoryURL = fmt.Sprintf("https://127.0.0.1:%d/dir", acmePort)
	p.ManagementURL = fmt.Sprintf("https://127.0.0.1:%d", mgmtPort)

	ct, err := p.spawn("pebble-challtestsrv", bins[1], nil,
		"-dnsserver", p.DNSAddr, "-management", fmt.Sprintf("127.0.0.1:%d", ctMgmt),
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "",
		"-defaultIPv4", "127.0.0.1", "-defaultIPv6", "")
	if err != nil {
		return nil, err
	}
	if err := p.waitChallTestSrv(ct); err != nil {
		return nil, err
	}

	files := *tlsCert
	files.certFile, files.keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(files.certFile, files.certPEM, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(files.keyFile, files.keyPEM, 0o600); err != nil {
		return nil, err
	}
	config := filepath.Join(dir, "pebble-config.json")
	if err := writePebbleConfig(config, &files, acmePort, mgmtPort, httpPort, opts); err != nil {
		return nil, err
	}
	env := []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_AUTHZREUSE=0",
		"PEBBLE_WFE_NONCEREJECT=" + strconv.Itoa(opts.NonceRejectPercent),
		"PEBBLE_ALTERNATE_ROOTS=" + strconv.Itoa(opts.AlternateRoots)}
	pb, err := p.spawn("pebble", bins[0], env, "-config", config, "-dnsserver", p.DNSAddr)
	if err != nil {
		return nil, err
	}
	if err := p.waitPebble(pb, opts.AlternateRoots); err != nil {
		return nil, err
	}
	return p, nil
}

func writePebbleConfig(path string, tlsCert *pebbleTLSFiles, acmePort, mgmtPort, httpPort int, opts PebbleOptions) error {
	type profile struct {
		Description    string `json:"description"`
		ValidityPeriod uint64 `json:"validityPeriod"`
	}
	profiles := map[string]profile{}
	src := opts.Profiles
	if len(src) == 0 {
		src = DefaultPebbleProfiles
	}
	for name, pr := range src {
		profiles[name] = profile{pr.Description, uint64(pr.Validity / time.Second)}
	}
	var c struct {
		Pebble map[string]any `json:"pebble"`
	}
	c.Pebble = map[string]any{
		"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", acmePort),
		"managementListenAddress":        fmt.Sprintf("127.0.0.1:%d", mgmtPort),
		"certificate":                    tlsCert.certFile,
		"privateKey":                     tlsCert.keyFile,
		"httpPort":                       httpPort,
		"tlsPort":                        0,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": len(opts.EABKeys) > 0,
		"externalAccountMACKeys":         opts.EABKeys,
		"retryAfter":                     map[string]int{"authz": 1, "order": 1},
		"keyAlgorithm":                   "ecdsa",
		"profiles":                       profiles,
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// spawn starts one program with its output in a log file.
func (p *Pebble) spawn(name, bin string, env []string, args ...string) (*pebbleProc, error) {
	pr := &pebbleProc{name: name, log: filepath.Join(p.dir, name+".log"), exited: make(chan struct{})}
	logFile, err := os.Create(pr.log)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	pr.cmd = exec.Command(bin, args...)
	pr.cmd.Dir = p.dir
	pr.cmd.Env = append(os.Environ(), env...)
	pr.cmd.Stdout, pr.cmd.Stderr = logFile, logFile
	// Their own process group (the first one's), which the watchdog kills.
	pr.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: p.pgid}
	if err := pr.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() { _ = pr.cmd.Wait(); close(pr.exited) }()
	p.procs = append(p.procs, pr)
	if p.pgid == 0 {
		p.pgid = pr.cmd.Process.Pid
		if err := p.startWatchdog(); err != nil {
			return pr, fmt.Errorf("starting the watchdog: %w", err)
		}
	}
	return pr, nil
}

func (pr *pebbleProc) stop() {
	pr.once.Do(func() {
		_ = pr.cmd.Process.Kill()
		select {
		case <-pr.exited:
		case <-time.After(10 * time.Second):
		}
	})
}

// failure describes why pr did not come up, with the tail of its log.
func (pr *pebbleProc) failure(what string) error {
	b, _ := os.ReadFile(pr.log)
	err := fmt.Errorf("%s %s; log:\n%s", pr.name, what, tail(b, 2000))
	if bytes.Contains(b, []byte("address already in use")) {
		err = fmt.Errorf("%w: %w", errPortTaken, err)
	}
	return err
}

// waitFor polls ready until it holds, pr exits, or the start-up time is over.
func (pr *pebbleProc) waitFor(what string, ready func() bool) error {
	for deadline := time.Now().Add(pebbleStartTimeout); !ready(); time.Sleep(50 * time.Millisecond) {
		select {
		case <-pr.exited:
			return pr.failure("exited")
		default:
		}
		if time.Now().After(deadline) {
			return pr.failure("did not " + what + " in time")
		}
	}
	return nil
}

// waitChallTestSrv waits until the management API answers and the DNS
// server answers over UDP and TCP.
func (p *Pebble) waitChallTestSrv(pr *pebbleProc) error {
	err := pr.waitFor("answer", func() bool {
		return p.challTest("/set-default-ipv4", map[string]any{"ip": "127.0.0.1"}) == nil &&
			dnsAnswers(p.DNSAddr, "udp") && dnsAnswers(p.DNSAddr, "tcp")
	})
	// challtestsrv logs a failed bind and keeps running.
	if b, _ := os.ReadFile(pr.log); err == nil && bytes.Contains(b, []byte("address already in use")) {
		return pr.failure("could not bind")
	}
	return err
}

func dnsAnswers(addr, network string) bool {
	m := new(dns.Msg)
	m.SetQuestion("ready.testenv.invalid.", dns.TypeA)
	c := &dns.Client{Net: network, Timeout: time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil || len(r.Ns) == 0 {
		return false
	}
	soa, ok := r.Ns[0].(*dns.SOA)
	return ok && soa.Hdr.Name == "challtestsrv.invalid."
}

// waitPebble waits for the directory, then fetches the issuing roots.
func (p *Pebble) waitPebble(pr *pebbleProc, alternateRoots int) error {
	client := p.HTTPClient()
	err := pr.waitFor("serve its directory", func() bool {
		resp, err := client.Get(p.DirectoryURL)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if err != nil {
		return err
	}
	p.Roots = x509.NewCertPool()
	for i := 0; i <= alternateRoots; i++ {
		var root []byte
		if err := pr.waitFor(fmt.Sprintf("serve root %d", i), func() bool { // the management listener starts on its own
			root, err = p.management(http.MethodGet, fmt.Sprintf("/roots/%d", i), nil)
			return err == nil
		}); err != nil {
			return err
		}
		if !p.Roots.AppendCertsFromPEM(root) {
			return fmt.Errorf("pebble root %d is not PEM: %q", i, tail(root, 200))
		}
		p.RootsPEM = append(p.RootsPEM, root...)
	}
	return nil
}

// HTTPClient returns a client that trusts Pebble's HTTPS certificate (and
// nothing else), with a 30-second timeout.
func (p *Pebble) HTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: p.tlsRoots, MinVersion: tls.VersionTLS12}
	tr.Proxy = nil
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// StopCA stops Pebble itself, leaving pebble-challtestsrv running, so a
// test can see what its client does when the CA is down.
func (p *Pebble) StopCA() {
	for _, pr := range p.procs {
		if pr.name == "pebble" {
			pr.stop()
		}
	}
}

// Stop stops both programs and removes their directory. Calling it again
// does nothing.
func (p *Pebble) Stop() {
	p.stopOnce.Do(func() {
		for _, pr := range p.procs {
			pr.stop()
		}
		if p.watchdog != nil {
			_ = p.watchdog.Process.Kill()
			_ = p.watchdog.Wait()
			p.watchEnd.Close()
		}
		_ = os.RemoveAll(p.dir)
	})
}

// startWatchdog starts a shell, in its own process group, that kills the
// programs' process group and removes their directory when the pipe whose
// write end only we hold closes: when the test process exits, however it
// exits. Stop kills the watchdog first.
func (p *Pebble) startWatchdog() (err error) {
	p.watchdog, p.watchEnd, err = startWatchdog(`read -r _; kill -9 "-$1" 2>/dev/null; rm -rf -- "$2"`,
		nil, strconv.Itoa(p.pgid), p.dir)
	return err
}

// challTest posts a JSON body to the challtestsrv management API.
func (p *Pebble) challTest(path string, body any) error {
	b, err := json.Marshal(body)
	if err == nil {
		_, err = call(http.DefaultClient, http.MethodPost, p.ChallTestSrvURL+path, b)
	}
	return err
}

// management calls Pebble's management interface.
func (p *Pebble) management(method, path string, body []byte) ([]byte, error) {
	return call(p.HTTPClient(), method, p.ManagementURL+path, body)
}

// call makes one request with a 10-second deadline and returns the body
// of a 200 answer.
func call(client *http.Client, method, url string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s %s: %s %s", method, url, resp.Status, tail(b, 500))
	}
	return b, err
}

// dnsOp posts {"host": <host as an FQDN>, key: value...} to the
// challtestsrv, failing t if it refuses.
func (p *Pebble) dnsOp(t testing.TB, path, host string, kv ...any) {
	t.Helper()
	body := map[string]any{"host": dns.Fqdn(host)}
	for i := 0; i+1 < len(kv); i += 2 {
		body[kv[i].(string)] = kv[i+1]
	}
	if err := p.challTest(path, body); err != nil {
		t.Fatal(err)
	}
}

// SetTXT adds value to the TXT records of host (the trailing dot is optional
// in every helper's names).
func (p *Pebble) SetTXT(t testing.TB, host, value string) {
	t.Helper()
	p.dnsOp(t, "/set-txt", host, "value", value)
}

// ClearTXT removes every TXT record of host.
func (p *Pebble) ClearTXT(t testing.TB, host string) { t.Helper(); p.dnsOp(t, "/clear-txt", host) }

// SetServfail makes the DNS server answer SERVFAIL to every query for host.
func (p *Pebble) SetServfail(t testing.TB, host string) {
	t.Helper()
	p.dnsOp(t, "/set-servfail", host)
}

// ClearServfail undoes SetServfail.
func (p *Pebble) ClearServfail(t testing.TB, host string) {
	t.Helper()
	p.dnsOp(t, "/clear-servfail", host)
}

// AddA adds IPv4 addresses to the A records of host (without any, every
// name resolves to 127.0.0.1).
func (p *Pebble) AddA(t testing.TB, host string, addrs ...string) {
	t.Helper()
	p.dnsOp(t, "/add-a", host, "addresses", addrs)
}

// SetCNAME makes host an alias of target: the DNS server answers queries for
// host with the CNAME and the records of target (one level deep).
func (p *Pebble) SetCNAME(t testing.TB, host, target string) {
	t.Helper()
	p.dnsOp(t, "/set-cname", host, "target", dns.Fqdn(target))
}

// ClearCNAME undoes SetCNAME.
func (p *Pebble) ClearCNAME(t testing.TB, host string) { t.Helper(); p.dnsOp(t, "/clear-cname", host) }

// SetRenewalInfo makes Pebble answer ARI requests for the certificate in
// certPEM with response, verbatim (malformed JSON included).
func (p *Pebble) SetRenewalInfo(t testing.TB, certPEM []byte, response string) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"certificate": string(certPEM), "ariResponse": response})
	if _, err := p.management(http.MethodPost, "/set-renewal-info/", b); err != nil {
		t.Fatal(err)
	}
}

type pebbleTLSFiles struct {
	caPEM, certPEM, keyPEM []byte
	certFile, keyFile      string // in the instance's directory
}

// pebbleTLS makes, once per test process, a CA and a certificate for
// 127.0.0.1 and localhost that Pebble serves HTTPS with (the certificate
// in Pebble's repository expires in 2027). startPebble writes them into
// each instance's directory.
var pebbleTLS = sync.OnceValues(makePebbleTLS)

func makePebbleTLS() (*pebbleTLSFiles, error) {
	now := time.Now()
	issue := func(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(7*24*time.Hour)
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
		if err != nil {
			return nil, nil, err
		}
		cert, err := x509.ParseCertificate(der)
		return cert, key, err
	}
	ca, caKey, err := issue(&x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tegata testenv Pebble TLS CA"},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil, nil)
	if err != nil {
		return nil, err
	}
	leaf, key, err := issue(&x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "pebble"},
		DNSNames: []string{"localhost", "pebble"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &pebbleTLSFiles{
		caPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}),
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// freePorts returns n distinct ports that were free on 127.0.0.1, for TCP
// and UDP, a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	for len(ports) < n {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		u.Close()
		if !slices.Contains(ports, port) {
			ports = append(ports, port)
		}
	}
	return ports, nil
}
