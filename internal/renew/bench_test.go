package renew

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/renew/schedule"
	"github.com/tegata-project/tegata/internal/testenv"
)

// BenchmarkIssueAndRenew500 issues 500 certificates from Pebble (validation
// sleep off) into tegata's vault over HTTPS, then renews all of them, with the
// service's passes doing the work as they do in production: each certificate's
// key is made in the vault, its CSR finalized by DNS-01 through challtestsrv,
// the chain merged back. It reports certificates per second for each phase and
// the peak RSS of this process, which holds the vault, its SQLite store and the
// service (Pebble runs in its own processes). Run it once:
//
//	go test -run '^$' -bench IssueAndRenew500 -benchtime 1x ./internal/renew/
func BenchmarkIssueAndRenew500(b *testing.B) {
	const n = 500
	peb := testenv.StartPebble(b, testenv.PebbleOptions{})
	tv := startTestVault(b)
	var now atomic.Pointer[time.Time]
	t0 := time.Now()
	now.Store(&t0)
	clock := func() time.Time { return *now.Load() }
	s := newTestService(b, peb, tv, clock)
	s.o.Limits = schedule.Limits{PerAccount: 64, PerProvider: 64, PerSequentialProvider: 1}
	s.limiter = schedule.NewLimiter(s.o.Limits)
	ctx := context.Background()

	for b.Loop() {
		for i := range n {
			d := Definition{Name: fmt.Sprintf("bench-%03d", i), DNSNames: []string{fmt.Sprintf("b%03d.bench.example.test", i)}, DNSProvider: "test-dns", KeyType: "EC", Curve: "P-256"}
			if err := s.save(ctx, &record{Definition: d, State: schedule.State{Enabled: true}}); err != nil {
				b.Fatal(err)
			}
		}
		issue := phase(b, s, n, "issue")

		var lastNotAfter time.Time
		list, _ := s.List(ctx)
		for _, st := range list {
			if st.NotAfter.After(lastNotAfter) {
				lastNotAfter = st.NotAfter
			}
		}
		// Past every certificate's renewal point, before any expires.
		later := lastNotAfter.Add(-time.Hour)
		now.Store(&later)
		renew := phase(b, s, n, "renew")

		b.ReportMetric(n/issue.Seconds(), "issued/s")
		b.ReportMetric(n/renew.Seconds(), "renewed/s")
		b.ReportMetric(2*n/(issue+renew).Seconds(), "certs/s")
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		b.ReportMetric(float64(ru.Maxrss)/1024, "peakRSS-MB")
	}
}

// phase runs passes until every certificate has one more issued version than
// before, bounded in passes, and returns how long it took.
func phase(b *testing.B, s *Service, n int, what string) time.Duration {
	b.Helper()
	ctx := context.Background()
	before := map[string]int{}
	list, _ := s.List(ctx)
	for _, st := range list {
		before[st.Name] = st.Issued
	}
	start := time.Now()
	for pass := 0; ; pass++ {
		if pass == 5 {
			b.Fatalf("%s: not every certificate done after 5 passes", what)
		}
		if _, err := s.Pass(ctx); err != nil {
			b.Fatal(err)
		}
		list, _ = s.List(ctx)
		done, failed := 0, ""
		for _, st := range list {
			if st.Issued > before[st.Name] {
				done++
			} else if st.LastError != "" {
				failed = st.Name + ": " + st.LastError
			}
		}
		if done == n {
			return time.Since(start)
		}
		b.Logf("%s: pass %d left %d of %d (%s)", what, pass, n-done, n, failed)
	}
}
