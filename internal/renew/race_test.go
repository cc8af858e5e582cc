package renew

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/testenv"
)

// TestEditDuringPassIsKept edits a certificate while a decision pass holds
// the record it read (an ARI poll is due): the edit must be applied after the
// pass writes, not overwritten by it. Before records took turns within a
// process, the pass's write undid the edit.
func TestEditDuringPassIsKept(t *testing.T) {
	peb := testenv.StartPebble(t, testenv.PebbleOptions{})
	s := newTestService(t, peb, startTestVault(t), time.Now)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if _, err := s.Add(ctx, Definition{Name: "raced", DNSNames: []string{"raced.example.test"}, DNSProvider: "test-dns"}); err != nil {
		t.Fatal(err)
	}
	// An ARI poll is due: the pass reads, polls and writes the record, far
	// from renewal.
	r, err := s.load(ctx, "raced")
	if err != nil {
		t.Fatal(err)
	}
	r.State.ARI.Advertised, r.State.ARI.NextPoll = true, time.Now().Add(-time.Minute)
	if err := s.save(ctx, r); err != nil {
		t.Fatal(err)
	}

	ratio := 0.55
	editDone := make(chan error, 1)
	var hooked sync.Once
	ran := false
	s.beforePassSave = func(name string) {
		hooked.Do(func() {
			ran = true
			go func() {
				_, err := s.Edit(ctx, name, Edit{Ratio: &ratio})
				editDone <- err
			}()
			// Give the edit time to finish if nothing holds it back: it
			// then lands before the pass's write.
			select {
			case err := <-editDone:
				editDone <- err
			case <-time.After(300 * time.Millisecond):
			}
		})
	}
	if n, err := s.Pass(ctx); err != nil || n != 0 || !ran {
		t.Fatalf("pass: %d renewals, %v, reached its write: %v; want an ARI poll only", n, err, ran)
	}
	select {
	case err := <-editDone:
		if err != nil {
			t.Fatalf("edit: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the edit never finished")
	}
	d, err := s.Get(ctx, "raced")
	if err != nil {
		t.Fatal(err)
	}
	if d.Renewal.Ratio != ratio {
		t.Errorf("after the pass, ratio %v: the edit to %v was lost", d.Renewal.Ratio, ratio)
	}
}
