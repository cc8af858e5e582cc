package renew

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/store"
	"github.com/tegata-project/tegata/internal/testenv"
)

func readLease(t *testing.T, st store.Store, name string) lease {
	t.Helper()
	var l lease
	err := st.View(context.Background(), func(tx store.Tx) error {
		o, err := tx.Object(context.Background(), leaseKey(name))
		if err != nil {
			return err
		}
		return json.Unmarshal(o.Meta, &l)
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestLeaseRestartAndHeartbeat: a lease left by a process killed mid-attempt holds
// off other owners, but the same service restarted (same owner id) takes it back at
// once; a held lease is extended while the work runs, so a long attempt keeps it.
func TestLeaseRestartAndHeartbeat(t *testing.T) {
	peb := testenv.StartPebble(t, testenv.PebbleOptions{})
	tv := startTestVault(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	first := newTestService(t, peb, tv, time.Now)
	first.owner = "tegata/host-a"
	if _, err := first.Add(ctx, Definition{Name: "kept", DNSNames: []string{"kept.example.test"}, DNSProvider: "test-dns"}); err != nil {
		t.Fatal(err)
	}
	// The process dies holding the lease.
	if err := first.acquire(ctx, "kept"); err != nil {
		t.Fatal(err)
	}

	other := newTestService(t, peb, tv, time.Now)
	other.owner = "tegata/host-b"
	if _, err := other.Renew(ctx, "kept"); err == nil {
		t.Error("another replica renewed under a live lease")
	}
	restarted := newTestService(t, peb, tv, time.Now)
	restarted.owner = "tegata/host-a"
	if st, err := restarted.Renew(ctx, "kept"); err != nil || st.Issued != 2 {
		t.Fatalf("the restarted service could not take its own lease back: %+v %v", st, err)
	}

	saved := leaseHeartbeat
	leaseHeartbeat = 50 * time.Millisecond
	defer func() { leaseHeartbeat = saved }()
	var before, after lease
	_, err := restarted.withLease(ctx, "kept", func(*record) error {
		before = readLease(t, tv.st, "kept")
		time.Sleep(600 * time.Millisecond) // a dozen heartbeats, on a loaded machine at least one
		after = readLease(t, tv.st, "kept")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if after.Owner != "tegata/host-a" || !after.Until.After(before.Until) {
		t.Errorf("lease during a long attempt: %+v, then %+v; want it extended", before, after)
	}
}
