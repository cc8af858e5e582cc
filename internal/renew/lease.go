package renew

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tegata-project/tegata/internal/store"
)

// Leases make several replicas on one store (PostgreSQL) act on each certificate
// once: a replica takes a certificate's lease before it reads, decides, renews or
// writes its record, and drops it afterwards. While it works, it extends the lease
// every leaseHeartbeat; a lease of a replica that died expires leaseTTL after its
// last extension, and another replica picks the work up. A process that restarts
// with the same owner id (Options.Owner: the same instance on the same host and
// data directory) takes its own leases back at once. Taking, extending and
// dropping run in store transactions, which the store serialises across replicas.

// leaseTTL bounds how long a dead replica holds a certificate after its last
// heartbeat.
const leaseTTL = 2 * time.Minute

// leaseHeartbeat is how often a held lease is extended: several heartbeats fit in
// leaseTTL, so a slow store write does not let a live lease lapse. A variable for
// tests.
var leaseHeartbeat = leaseTTL / 4

type lease struct {
	Owner string    `json:"owner"`
	Until time.Time `json:"until"`
}

func leaseKey(name string) store.ObjectKey {
	return store.ObjectKey{Vault: "renew", Kind: "lease", Name: strings.ToLower(name)}
}

func newOwnerID(instance string) string {
	var b [8]byte
	rand.Read(b[:])
	return instance + "/" + hex.EncodeToString(b[:])
}

// errLeased says another replica holds the certificate's lease.
var errLeased = errors.New("another replica is working on this certificate")

// acquire takes name's lease for this service, unless another live owner holds it.
func (s *Service) acquire(ctx context.Context, name string) error {
	now := s.o.Clock()
	return s.o.Store.Update(ctx, func(tx store.Tx) error {
		o, err := tx.Object(ctx, leaseKey(name))
		if err == nil {
			var l lease
			if json.Unmarshal(o.Meta, &l) == nil && l.Owner != s.owner && now.Before(l.Until) {
				return errLeased
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		meta, _ := json.Marshal(lease{Owner: s.owner, Until: now.Add(leaseTTL)})
		return tx.PutObject(ctx, store.Object{ObjectKey: leaseKey(name), Meta: meta, Updated: now})
	})
}

// release drops name's lease if this service still holds it.
func (s *Service) release(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.o.Store.Update(ctx, func(tx store.Tx) error {
		o, err := tx.Object(ctx, leaseKey(name))
		if err != nil {
			return err
		}
		var l lease
		if json.Unmarshal(o.Meta, &l) != nil || l.Owner != s.owner {
			return nil
		}
		return tx.PurgeObject(ctx, leaseKey(name))
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.o.Log.Warn("renew: dropping a lease failed; it expires by itself", "certificate", name, "err", err)
	}
}

// withLease runs fn on name's record, freshly read, while holding its lease. It
// reports false (and does nothing) when another replica holds the lease.
// Within this process, holders of one record take turns (lockRecord): the
// lease is the same for all of them, so it cannot tell them apart, and a
// decision pass writing the record it read would otherwise undo an edit made
// in between.
func (s *Service) withLease(ctx context.Context, name string, fn func(*record) error) (bool, error) {
	unlock, err := s.lockRecord(ctx, name)
	if err != nil {
		return false, err
	}
	defer unlock()
	if err := s.acquire(ctx, name); errors.Is(err, errLeased) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("renew: taking the lease of %s: %w", name, err)
	}
	defer s.release(name)
	stop := make(chan struct{})
	defer close(stop)
	go s.heartbeat(name, leaseHeartbeat, stop)
	r, err := s.load(ctx, name)
	if err != nil {
		return true, err
	}
	return true, fn(r)
}

// heartbeat extends name's lease every interval until stop is closed.
func (s *Service) heartbeat(name string, interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if err := s.extend(name); err != nil {
				s.o.Log.Warn("renew: extending a lease failed; retrying at the next heartbeat", "certificate", name, "err", err)
			}
		}
	}
}

// extend moves name's lease forward if this service still holds it.
func (s *Service) extend(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), leaseHeartbeat)
	defer cancel()
	now := s.o.Clock()
	return s.o.Store.Update(ctx, func(tx store.Tx) error {
		o, err := tx.Object(ctx, leaseKey(name))
		if err != nil {
			return err
		}
		var l lease
		if json.Unmarshal(o.Meta, &l) != nil || l.Owner != s.owner {
			return nil
		}
		meta, _ := json.Marshal(lease{Owner: s.owner, Until: now.Add(leaseTTL)})
		return tx.PutObject(ctx, store.Object{ObjectKey: leaseKey(name), Meta: meta, Updated: now})
	})
}

// recordLock is one record's turn within this process; ch holds a token
// while it is taken.
type recordLock struct {
	ch   chan struct{}
	refs int
}

// lockRecord waits for name's record (or ctx) and returns its release.
func (s *Service) lockRecord(ctx context.Context, name string) (unlock func(), err error) {
	key := strings.ToLower(name)
	s.mu.Lock()
	if s.locks == nil {
		s.locks = map[string]*recordLock{}
	}
	l := s.locks[key]
	if l == nil {
		l = &recordLock{ch: make(chan struct{}, 1)}
		s.locks[key] = l
	}
	l.refs++
	s.mu.Unlock()
	drop := func() {
		s.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(s.locks, key)
		}
		s.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
	case <-ctx.Done():
		drop()
		return nil, ctx.Err()
	}
	return func() {
		<-l.ch
		drop()
	}, nil
}
