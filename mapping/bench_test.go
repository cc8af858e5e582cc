package mapping

import (
	"crypto/x509/pkix"
	"fmt"
	"testing"
	"time"
)

// BenchmarkDecide measures verdicts over synthetic certificate/account pairs
// that cover the main paths: strong explicit, SID, weak and no mapping. The
// issue's target is at least 50,000 verdicts per second per core.
func BenchmarkDecide(b *testing.B)      { benchDecide(b, Decide) }
func BenchmarkDecideBrief(b *testing.B) { benchDecide(b, DecideBrief) }

func benchDecide(b *testing.B, decide func(*Certificate, *Account, DCState) Verdict) {
	type pair struct {
		c *Certificate
		a *Account
	}
	var pairs []pair
	for i := range 64 {
		upnName := fmt.Sprintf("user%d@contoso.com", i)
		sidStr := fmt.Sprintf("S-1-5-21-3623811015-3361044348-30300820-%d", 1000+i)
		exts := []pkix.Extension{san(b, upn(upnName))}
		if i%4 == 1 {
			exts = append(exts, sidExt(b, sidStr))
		}
		c := parse(b, certSpec{serial: []byte{0x10, byte(i)}, notBefore: afterAcct, exts: exts})
		c.NTAuth = NTAuthYes
		a := &Account{ObjectSID: mustSID(b, sidStr), UserPrincipalName: upnName, WhenCreated: created, Class: ClassUser,
			AltSecurityIdentities: []string{"X509:<I>DC=com,DC=contoso,CN=CONTOSO-DC-CA<SR>FF10", "Kerberos:x@Y"}}
		switch i % 4 {
		case 0:
			a.AltSecurityIdentities = append(a.AltSecurityIdentities, "X509:<I>DC=com,DC=contoso,CN=CONTOSO-DC-CA<SR>"+ReversedSerial(c.RawSerial))
		case 3:
			a.UserPrincipalName = "other@contoso.com"
		}
		pairs = append(pairs, pair{c, a})
	}
	dcs := []DCState{dcMode1, dcMode2, {OS: OS2016, LastUpdate: time.Date(2025, 6, 10, 0, 0, 0, 0, time.UTC)}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p := pairs[i%len(pairs)]
		_ = decide(p.c, p.a, dcs[i%len(dcs)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verdicts/s")
}
