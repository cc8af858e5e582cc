package dnsprov

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tegata-project/tegata/internal/testenv"
)

func served(t *testing.T, server, name string) []string {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeTXT)
	r, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(m, server)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, rr := range r.Answer {
		out = append(out, strings.Join(rr.(*dns.TXT).Txt, ""))
	}
	slices.Sort(out)
	return out
}

// Two values at one name (apex and wildcard) coexist, and cleaning one up
// never removes the other while it is in flight (B.6.3).
func TestChallTestSrvSharedRRset(t *testing.T) {
	pb := testenv.StartPebble(t, testenv.PebbleOptions{})
	p, err := New("challtestsrv", map[string]string{"url": pb.ChallTestSrvURL})
	if err != nil {
		t.Fatal(err)
	}
	rp := p.(RecordProvider)
	ctx := context.Background()
	const name = "_acme-challenge.shared.tegata.test."
	for _, v := range []string{"one", "two"} {
		if err := rp.PresentRecord(ctx, name, v); err != nil {
			t.Fatal(err)
		}
	}
	if got := served(t, pb.DNSAddr, name); !slices.Equal(got, []string{"one", "two"}) {
		t.Fatalf("served %q, want both values", got)
	}
	if err := rp.CleanUpRecord(ctx, name, "one"); err != nil {
		t.Fatal(err)
	}
	if got := served(t, pb.DNSAddr, name); !slices.Contains(got, "two") {
		t.Errorf("cleaning up one value removed the other: served %q", got)
	}
	if err := rp.CleanUpRecord(ctx, name, "two"); err != nil {
		t.Fatal(err)
	}
	if got := served(t, pb.DNSAddr, name); len(got) != 0 {
		t.Errorf("served %q after the last cleanup, want nothing", got)
	}

	// Present through lego's interface writes the dns-01 value.
	t.Setenv("LEGO_DISABLE_CNAME_SUPPORT", "true")
	if err := p.Present("plain.tegata.test", "tok", "tok.thumb"); err != nil {
		t.Fatal(err)
	}
	// base64url(SHA-256("tok.thumb"))
	if got := served(t, pb.DNSAddr, "_acme-challenge.plain.tegata.test"); len(got) != 1 || len(got[0]) != 43 {
		t.Errorf("served %q, want one 43-character value", got)
	}
	if err := p.CleanUp("plain.tegata.test", "tok", "tok.thumb"); err != nil {
		t.Fatal(err)
	}

	// An unreachable API is an error that names it.
	pb.Stop()
	err = rp.PresentRecord(ctx, name, "three")
	if err == nil || !strings.Contains(err.Error(), "challtestsrv") {
		t.Errorf("with challtestsrv stopped: got %v", err)
	}
}
