package acme

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"

	"github.com/tegata-project/tegata/internal/renew/dnsprov"
	"github.com/tegata-project/tegata/internal/testenv"
)

// forwardTXT writes to the challtestsrv (set-txt or clear-txt).
func forwardTXT(p *testenv.Pebble, path, host, value string) error {
	body, _ := json.Marshal(map[string]string{"host": dns.Fqdn(host), "value": value})
	resp, err := http.Post(p.ChallTestSrvURL+path, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("challtestsrv %s: %s", path, resp.Status)
	}
	return nil
}

// lego's httpreq provider, against an endpoint that keeps lego's httpreq
// contract and publishes through the challtestsrv.
func TestObtainWithHTTPReqProvider(t *testing.T) {
	t.Parallel()
	p := testenv.StartPebble(t, testenv.PebbleOptions{})
	c := newClient(t, p, nil)
	var presents, cleanups atomic.Int32
	ep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, pw, ok := r.BasicAuth(); !ok || u != "acme" || pw != "s3cret" {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		var m struct{ FQDN, Value string }
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil || m.FQDN == "" || m.Value == "" {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		var err error
		switch r.URL.Path {
		case "/present":
			presents.Add(1)
			err = forwardTXT(p, "/set-txt", m.FQDN, m.Value)
		case "/cleanup":
			cleanups.Add(1)
			err = forwardTXT(p, "/clear-txt", m.FQDN, "")
		default:
			http.NotFound(w, r)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
		}
	}))
	defer ep.Close()

	prov, err := dnsprov.New("httpreq", map[string]string{"endpoint": ep.URL, "username": "acme", "password": "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := c.Obtain(testCtx(t), Order{Names: []string{"httpreq.tegata.test"}, Profile: "default", Solver: dns01For(p, prov)})
	if err != nil {
		t.Fatalf("Obtain: %v", err)
	}
	verifyChain(t, p, cert, "httpreq.tegata.test")
	if presents.Load() != 1 || cleanups.Load() != 1 {
		t.Errorf("endpoint saw %d presents and %d cleanups, want 1 and 1", presents.Load(), cleanups.Load())
	}
}

// lego's rfc2136 provider sends TSIG-signed dynamic updates to a server
// (made here with miekg/dns) that checks the signature and applies the
// update to the challtestsrv. rfc2136 solves authorizations one at a time
// (each insert replaces the RRset), which apex plus wildcard exercises.
func TestObtainWithRFC2136Provider(t *testing.T) {
	t.Parallel()
	p := testenv.StartPebble(t, testenv.PebbleOptions{})
	c := newClient(t, p, nil)
	secret := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	var mu sync.Mutex
	var signed, unsigned int
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		mu.Lock()
		ok := r.IsTsig() != nil && w.TsigStatus() == nil
		if ok {
			signed++
		} else {
			unsigned++
		}
		mu.Unlock()
		if !ok || r.Opcode != dns.OpcodeUpdate {
			m.SetRcode(r, dns.RcodeNotAuth)
			_ = w.WriteMsg(m)
			return
		}
		for _, rr := range r.Ns {
			h := rr.Header()
			var err error
			switch {
			case h.Rrtype != dns.TypeTXT:
			case h.Class == dns.ClassANY || h.Class == dns.ClassNONE: // delete the RRset, or a value
				err = forwardTXT(p, "/clear-txt", h.Name, "")
			case h.Class == dns.ClassINET:
				for _, v := range rr.(*dns.TXT).Txt {
					err = forwardTXT(p, "/set-txt", h.Name, v)
				}
			}
			if err != nil {
				m.SetRcode(r, dns.RcodeServerFailure)
			}
		}
		m.SetTsig(r.IsTsig().Hdr.Name, r.IsTsig().Algorithm, 300, int64(r.IsTsig().TimeSigned))
		_ = w.WriteMsg(m)
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: handler, TsigSecret: map[string]string{"tegata-key.": secret},
		MsgAcceptFunc: func(dns.Header) dns.MsgAcceptAction { return dns.MsgAccept }} // the default refuses UPDATE
	go srv.ActivateAndServe() //nolint:errcheck // ends with Shutdown
	defer srv.Shutdown()      //nolint:errcheck

	prov, err := dnsprov.New("rfc2136", map[string]string{
		"nameserver": pc.LocalAddr().String(), "zones": "tegata.test",
		"tsigKey": "tegata-key", "tsigSecret": secret, "sequenceInterval": "100ms",
	})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"rfc2136.tegata.test", "*.rfc2136.tegata.test"}
	cert, err := c.Obtain(testCtx(t), Order{Names: names, Profile: "default", Solver: dns01For(p, prov)})
	if err != nil {
		t.Fatalf("Obtain: %v", err)
	}
	verifyChain(t, p, cert, names...)
	mu.Lock()
	defer mu.Unlock()
	if signed != 4 || unsigned != 0 {
		t.Errorf("server saw %d signed and %d unsigned updates, want 4 signed (2 inserts, 2 removals)", signed, unsigned)
	}
}
