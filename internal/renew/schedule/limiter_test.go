package schedule

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// pending starts Acquire in a goroutine and reports its outcome on a channel.
type pending struct {
	done    chan struct{}
	release func()
	err     error
}

func acquireAsync(ctx context.Context, l *Limiter, s Slot) *pending {
	p := &pending{done: make(chan struct{})}
	go func() {
		p.release, p.err = l.Acquire(ctx, s)
		close(p.done)
	}()
	return p
}

func (p *pending) finished() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// must acquires s, which must not block (synctest reports a deadlock if it does).
func must(t *testing.T, l *Limiter, s Slot) func() {
	t.Helper()
	release, err := l.Acquire(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return release
}

func TestLimiterBounds(t *testing.T) {
	tests := []struct {
		name  string
		limit int
		slot  func(i int) Slot
	}{
		{"account", 4, func(i int) Slot { return Slot{Account: "acct", Provider: fmt.Sprint("p", i)} }},
		{"provider", 2, func(i int) Slot { return Slot{Account: fmt.Sprint("a", i), Provider: "dns"} }},
		{"sequential provider", 1, func(i int) Slot { return Slot{Account: fmt.Sprint("a", i), Provider: "dns", Sequential: true} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := NewLimiter(Limits{})
				var held []func()
				for i := 0; i < tt.limit; i++ {
					held = append(held, must(t, l, tt.slot(i)))
				}
				extra := acquireAsync(context.Background(), l, tt.slot(tt.limit))
				synctest.Wait()
				if extra.finished() || l.Waiting() != 1 {
					t.Fatalf("attempt %d was not held back (Waiting=%d)", tt.limit+1, l.Waiting())
				}
				held[0]()
				synctest.Wait()
				if !extra.finished() || extra.err != nil {
					t.Fatalf("attempt %d not admitted after a release: err=%v", tt.limit+1, extra.err)
				}
				extra.release()
				for _, r := range held[1:] {
					r()
				}
			})
		})
	}
}

func TestLimiterFairness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLimiter(Limits{})
		ctx := context.Background()
		h1 := must(t, l, Slot{Account: "a1", Provider: "X"})
		h2 := must(t, l, Slot{Account: "a1", Provider: "X"})

		w1 := acquireAsync(ctx, l, Slot{Account: "a2", Provider: "X"}) // X is full
		synctest.Wait()
		w2 := acquireAsync(ctx, l, Slot{Account: "a2", Provider: "Y"}) // free, but behind w1 on a2
		synctest.Wait()
		n1 := acquireAsync(ctx, l, Slot{Account: "a1", Provider: "X"}) // behind w1 on X
		synctest.Wait()
		free := must(t, l, Slot{Account: "a3", Provider: "Z"}) // competes with nobody
		if w1.finished() || w2.finished() || n1.finished() || l.Waiting() != 3 {
			t.Fatalf("queue: w1=%v w2=%v n1=%v waiting=%d", w1.finished(), w2.finished(), n1.finished(), l.Waiting())
		}

		h1()
		synctest.Wait()
		if !w1.finished() || !w2.finished() {
			t.Fatalf("after a release of X: w1=%v w2=%v, want both admitted in order", w1.finished(), w2.finished())
		}
		if n1.finished() {
			t.Fatal("the later a1 waiter overtook w1 on provider X")
		}
		h2()
		synctest.Wait()
		if !n1.finished() {
			t.Fatal("n1 not admitted after the second release")
		}
		for _, r := range []func(){w1.release, w2.release, n1.release, free} {
			r()
		}
		if l.Waiting() != 0 || len(l.accounts) != 0 || len(l.providers) != 0 {
			t.Errorf("leftovers: waiting=%d accounts=%v providers=%v", l.Waiting(), l.accounts, l.providers)
		}
	})
}

func TestLimiterCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLimiter(Limits{PerProvider: 1})
		h := must(t, l, Slot{Account: "a1", Provider: "X"})

		ctx, cancel := context.WithCancel(context.Background())
		w1 := acquireAsync(ctx, l, Slot{Account: "a2", Provider: "X"})
		synctest.Wait()
		w2 := acquireAsync(context.Background(), l, Slot{Account: "a2", Provider: "Y"}) // behind w1
		synctest.Wait()
		if w2.finished() {
			t.Fatal("w2 overtook w1")
		}
		cancel()
		synctest.Wait()
		if !w1.finished() || !errors.Is(w1.err, context.Canceled) || w1.release != nil {
			t.Fatalf("cancelled waiter: finished=%v err=%v", w1.finished(), w1.err)
		}
		if !w2.finished() || w2.err != nil {
			t.Fatalf("w2 still blocked after the waiter ahead of it gave up: err=%v", w2.err)
		}
		if _, err := l.Acquire(ctx, Slot{Account: "z"}); !errors.Is(err, context.Canceled) {
			t.Errorf("Acquire on a cancelled context: %v", err)
		}
		h()
		w2.release()
		if l.Waiting() != 0 || len(l.accounts) != 0 || len(l.providers) != 0 {
			t.Errorf("leftovers: waiting=%d accounts=%v providers=%v", l.Waiting(), l.accounts, l.providers)
		}
	})
}

func TestLimiterReleaseIdempotentAndUnlimitedDimensions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLimiter(Limits{})
		r1 := must(t, l, Slot{Provider: "X"})
		r2 := must(t, l, Slot{Provider: "X"})
		r1()
		r1() // must not free a second slot
		r3 := must(t, l, Slot{Provider: "X"})
		extra := acquireAsync(context.Background(), l, Slot{Provider: "X"})
		synctest.Wait()
		if extra.finished() {
			t.Fatal("a double release freed two slots")
		}
		r2()
		synctest.Wait()
		extra.release()
		r3()
		for i := 0; i < 100; i++ {
			must(t, l, Slot{}) // neither account nor provider: never limited
		}
		if got := l.Limits(); got != (Limits{4, 2, 1}) {
			t.Errorf("default limits = %+v", got)
		}
	})
}

// TestLimiterConcurrency runs many attempts on real goroutines and checks
// that no account or provider ever exceeds its bound and that all finish.
func TestLimiterConcurrency(t *testing.T) {
	l := NewLimiter(Limits{})
	const tasks = 400
	accounts := []string{"a0", "a1", "a2"}
	providers := []struct {
		name string
		seq  bool
	}{{"p0", false}, {"p1", false}, {"p2", false}, {"s0", true}, {"s1", true}}

	var mu sync.Mutex
	inAcct, inProv := map[string]int{}, map[string]int{}
	peakAcct, peakProv := map[string]int{}, map[string]int{}
	var done atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < tasks; i++ {
		a, p := accounts[i%len(accounts)], providers[i%len(providers)]
		wg.Go(func() {
			release, err := l.Acquire(context.Background(), Slot{Account: a, Provider: p.name, Sequential: p.seq})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			inAcct[a]++
			inProv[p.name]++
			peakAcct[a] = max(peakAcct[a], inAcct[a])
			peakProv[p.name] = max(peakProv[p.name], inProv[p.name])
			mu.Unlock()
			for range 3 {
				runtime.Gosched()
			}
			mu.Lock()
			inAcct[a]--
			inProv[p.name]--
			mu.Unlock()
			release()
			done.Add(1)
		})
	}
	wg.Wait()
	if done.Load() != tasks {
		t.Fatalf("%d of %d attempts finished", done.Load(), tasks)
	}
	for a, n := range peakAcct {
		if n > DefaultPerAccount {
			t.Errorf("account %s peaked at %d, limit %d", a, n, DefaultPerAccount)
		}
	}
	for _, p := range providers {
		limit := DefaultPerProvider
		if p.seq {
			limit = DefaultPerSequentialProvider
		}
		if peakProv[p.name] > limit {
			t.Errorf("provider %s peaked at %d, limit %d", p.name, peakProv[p.name], limit)
		}
	}
	if l.Waiting() != 0 || len(l.accounts) != 0 || len(l.providers) != 0 {
		t.Errorf("leftovers: waiting=%d accounts=%v providers=%v", l.Waiting(), l.accounts, l.providers)
	}
}
