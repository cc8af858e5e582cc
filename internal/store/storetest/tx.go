package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/tegata-project/tegata/internal/store"
)

func testUpdateRollsBackOnError(t *testing.T, s store.Store) {
	ctx := context.Background()
	k := key("v1", store.KindSecret, "rolled-back")
	existing := key("v1", store.KindSecret, "existing")
	putObject(t, s, existing, "before")
	sentinel := errors.New("fn failed")
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutObject(ctx, store.Object{ObjectKey: k, Meta: []byte("m"), Updated: base}); err != nil {
			return err
		}
		if _, err := tx.PutVersion(ctx, store.Version{ObjectKey: k, ID: hexID(1), Created: base}); err != nil {
			return err
		}
		if err := tx.PutObject(ctx, store.Object{ObjectKey: existing, Meta: []byte("after"), Updated: base}); err != nil {
			return err
		}
		return sentinel
	})
	if !errors.Is(err, sentinel) {
		t.Fatalf("Update returned %v, want fn's error", err)
	}
	_, err = getObject(t, s, k)
	wantNotFound(t, "Object written by a failed Update", err)
	_, err = version(t, s, k, hexID(1))
	wantNotFound(t, "Version written by a failed Update", err)
	wantBytes(t, "Meta replaced by a failed Update", mustObject(t, s, existing).Meta, "before")
}

func testUpdateRollsBackOnPanic(t *testing.T, s store.Store) {
	ctx := context.Background()
	k := key("v1", store.KindSecret, "panicked")
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the panic of fn (boom)", r)
			}
		}()
		_ = s.Update(ctx, func(tx store.Tx) error {
			if err := tx.PutObject(ctx, store.Object{ObjectKey: k, Meta: []byte("m"), Updated: base}); err != nil {
				return err
			}
			panic("boom")
		})
		t.Error("Update returned after fn panicked")
	}()
	_, err := getObject(t, s, k)
	wantNotFound(t, "Object written before a panic", err)
	// The store is still usable: the write path was released.
	putObject(t, s, k, "after")
	wantBytes(t, "Meta written after the panic", mustObject(t, s, k).Meta, "after")

	// The same for View, more times than a store is likely to have read
	// connections.
	for range 20 {
		func() {
			defer func() {
				if r := recover(); r != "view boom" {
					t.Errorf("recovered %v, want the panic of View's fn", r)
				}
			}()
			_ = s.View(ctx, func(tx store.Tx) error {
				if _, err := tx.Object(ctx, k); err != nil {
					return err
				}
				panic("view boom")
			})
		}()
	}
	wantBytes(t, "Meta read after panics in View", mustObject(t, s, k).Meta, "after")
}

func testUpdateSeesItsOwnWrites(t *testing.T, s store.Store) {
	ctx := context.Background()
	k := key("v1", store.KindSecret, "own")
	update(t, s, func(tx store.Tx) error {
		if err := tx.PutObject(ctx, store.Object{ObjectKey: k, Meta: []byte("m"), Updated: base}); err != nil {
			return err
		}
		if _, err := tx.PutVersion(ctx, store.Version{ObjectKey: k, ID: hexID(1), Created: base}); err != nil {
			return err
		}
		o, err := tx.Object(ctx, key("v1", store.KindSecret, "OWN"))
		if err != nil {
			return fmt.Errorf("Object inside the writing Update: %w", err)
		}
		if o.Name != "own" {
			t.Errorf("Object inside Update has Name %q", o.Name)
		}
		v, err := tx.LatestVersion(ctx, k)
		if err != nil {
			return fmt.Errorf("LatestVersion inside the writing Update: %w", err)
		}
		if v.ID != hexID(1) {
			t.Errorf("LatestVersion inside Update = %s, want %s", v.ID, hexID(1))
		}
		return nil
	})
}

func testConcurrentUpdates(t *testing.T, s store.Store) {
	ConcurrentUpdates(t, s)
}

// ConcurrentUpdates runs 8 goroutines of 25 Updates each, spread over
// stores (several Stores on one database stand for several replicas), each
// doing read-then-write on one object: it reads the latest version and a
// counter kept in the object's Meta, then writes a version and the counter
// plus one. Update must serialise them: every Seq is distinct and above the
// one read, and no increment is lost.
func ConcurrentUpdates(t *testing.T, stores ...store.Store) {
	const workers, each = 8, 25
	ctx := context.Background()
	k := key("v1", store.KindSecret, "contended")
	putObject(t, stores[0], k, "0")

	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		s := stores[w%len(stores)]
		wg.Go(func() {
			for i := range each {
				err := s.Update(ctx, func(tx store.Tx) error {
					var prev int64
					switch l, err := tx.LatestVersion(ctx, k); {
					case err == nil:
						prev = l.Seq
					case !errors.Is(err, store.ErrNotFound):
						return err
					}
					o, err := tx.Object(ctx, k)
					if err != nil {
						return err
					}
					n, err := strconv.Atoi(string(o.Meta))
					if err != nil {
						return fmt.Errorf("counter %q: %w", o.Meta, err)
					}
					v, err := tx.PutVersion(ctx, store.Version{ObjectKey: k, ID: hexID(w*1000 + i), Created: base})
					if err != nil {
						return err
					}
					if v.Seq <= prev {
						return fmt.Errorf("PutVersion gave Seq %d after reading the latest Seq %d", v.Seq, prev)
					}
					o.Meta = []byte(strconv.Itoa(n + 1))
					return tx.PutObject(ctx, o)
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Update: %v", err)
	}

	s := stores[0]
	wantBytes(t, "counter incremented by every Update", mustObject(t, s, k).Meta, strconv.Itoa(workers*each))
	var all []store.Version
	after := ""
	for {
		vs := listVersions(t, s, k, store.ListOptions{After: after, Limit: 1000})
		all = append(all, vs...)
		if len(vs) < 1000 {
			break
		}
		after = vs[len(vs)-1].ID
	}
	seqs := map[int64]string{}
	for _, v := range all {
		if other, dup := seqs[v.Seq]; dup {
			t.Errorf("versions %s and %s share Seq %d", other, v.ID, v.Seq)
		}
		seqs[v.Seq] = v.ID
	}
	if len(all) != workers*each || len(seqs) != workers*each {
		t.Errorf("%d versions with %d distinct Seq, want %d of each", len(all), len(seqs), workers*each)
	}
	var maxSeq int64
	var maxID string
	for seq, id := range seqs {
		if seq > maxSeq {
			maxSeq, maxID = seq, id
		}
	}
	if l, err := latest(t, s, k); err != nil || l.ID != maxID {
		t.Errorf("LatestVersion = %s, %v; want %s, the version with the largest Seq", l.ID, err, maxID)
	}
}

func testViewRejectsWrites(t *testing.T, s store.Store) {
	ctx := context.Background()
	k := key("v1", store.KindSecret, "existing")
	putObject(t, s, k, "m")
	writes := map[string]func(tx store.Tx) error{
		"PutObject": func(tx store.Tx) error {
			return tx.PutObject(ctx, store.Object{ObjectKey: key("v1", store.KindSecret, "new"), Updated: base})
		},
		"PutVersion": func(tx store.Tx) error {
			_, err := tx.PutVersion(ctx, store.Version{ObjectKey: k, ID: hexID(1), Created: base})
			return err
		},
		"PurgeObject": func(tx store.Tx) error { return tx.PurgeObject(ctx, k) },
	}
	for name, write := range writes {
		var writeErr error
		err := s.View(ctx, func(tx store.Tx) error {
			writeErr = write(tx)
			return nil
		})
		if writeErr == nil {
			t.Errorf("%s inside View succeeded, want an error", name)
		}
		if err != nil {
			t.Errorf("View around a refused %s: %v", name, err)
		}
	}
	_, err := getObject(t, s, key("v1", store.KindSecret, "new"))
	wantNotFound(t, "Object written in a View", err)
	if _, err := getObject(t, s, k); err != nil {
		t.Errorf("Object purged in a View: %v", err)
	}
	_, err = version(t, s, k, hexID(1))
	wantNotFound(t, "Version written in a View", err)
}

func testVaultsAreSeparate(t *testing.T, s store.Store) {
	a, b := key("vault-a", store.KindSecret, "Shared-Name"), key("vault-b", store.KindSecret, "shared-name")
	putObject(t, s, a, "meta-a")
	putObject(t, s, b, "meta-b")
	putVersion(t, s, a, hexID(1), "va")
	putVersion(t, s, b, hexID(2), "vb")

	wantBytes(t, "vault-a object Meta", mustObject(t, s, a).Meta, "meta-a")
	if o := mustObject(t, s, b); o.Name != "shared-name" || string(o.Meta) != "meta-b" {
		t.Errorf("vault-b object = %q %q, want its own name and meta", o.Name, o.Meta)
	}
	if v, err := latest(t, s, a); err != nil || v.ID != hexID(1) {
		t.Errorf("vault-a LatestVersion = %s, %v; want %s", v.ID, err, hexID(1))
	}
	_, err := version(t, s, b, hexID(1))
	wantNotFound(t, "vault-a's version read through vault-b", err)
	for _, vault := range []string{"vault-a", "vault-b"} {
		if objs := listObjects(t, s, vault, store.KindSecret, false, store.ListOptions{Limit: 10}); len(objs) != 1 || objs[0].Vault != vault {
			t.Errorf("Objects of %s = %+v, want its one object", vault, objs)
		}
	}
	if objs := listObjects(t, s, "vault-c", store.KindSecret, false, store.ListOptions{Limit: 10}); len(objs) != 0 {
		t.Errorf("Objects of an empty vault = %q, want none", names(objs))
	}
	update(t, s, func(tx store.Tx) error { return tx.PurgeObject(context.Background(), a) })
	if _, err := getObject(t, s, b); err != nil {
		t.Errorf("purging vault-a's object removed vault-b's: %v", err)
	}
}
