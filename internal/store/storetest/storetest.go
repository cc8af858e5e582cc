// Package storetest is the suite every store.Store implementation must pass,
// and benchmarks of the reads that sit behind the vault's hot GET paths.
//
// An implementation's test calls Run with a function that opens a fresh,
// empty store for each case (and registers its Close with t.Cleanup):
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := sqlite.Open(filepath.Join(t.TempDir(), "tegata.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/store"
)

// Run runs every case of the suite as a subtest of t, each on a fresh store
// returned by open.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"ObjectInsertReplace", testObjectInsertReplace},
		{"CaseInsensitiveNames", testCaseInsensitiveNames},
		{"NotFound", testNotFound},
		{"PurgeRemovesVersions", testPurgeRemovesVersions},
		{"LiveAndDeletedListings", testLiveAndDeletedListings},
		{"ObjectsSortedAndPaged", testObjectsSortedAndPaged},
		{"VersionsSortedAndPaged", testVersionsSortedAndPaged},
		{"SeqAndLatestVersion", testSeqAndLatestVersion},
		{"Get", testGet},
		{"PutVersionReplaces", testPutVersionReplaces},
		{"PutVersionWithoutObject", testPutVersionWithoutObject},
		{"EmptyAndNilBytes", testEmptyAndNilBytes},
		{"UpdateRollsBackOnError", testUpdateRollsBackOnError},
		{"UpdateRollsBackOnPanic", testUpdateRollsBackOnPanic},
		{"UpdateSeesItsOwnWrites", testUpdateSeesItsOwnWrites},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"ViewRejectsWrites", testViewRejectsWrites},
		{"VaultsAreSeparate", testVaultsAreSeparate},
		{"Assignments", testAssignments},
		{"Audit", testAudit},
		{"AuditLargeBatch", testAuditLargeBatch},
		{"Blobs", testBlobs},
		{"Limits", testLimits},
		{"TimesRoundTrip", testTimesRoundTrip},
		{"CancelledContext", testCancelledContext},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

// base is a time with nanoseconds in a zone other than UTC, so that tests
// see both the truncation to microseconds and the conversion to UTC.
var base = time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.FixedZone("UTC+9", 9*3600))

// micro returns t as a store returns it: UTC, truncated to the microsecond.
func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// hexID returns a version ID (32 lowercase hex digits) made from n.
func hexID(n int) string { return fmt.Sprintf("%032x", n) }

func key(vault string, kind store.Kind, name string) store.ObjectKey {
	return store.ObjectKey{Vault: vault, Kind: kind, Name: name}
}

func update(t testing.TB, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func view(t testing.TB, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// putObject writes a live object with the given meta.
func putObject(t testing.TB, s store.Store, k store.ObjectKey, meta string) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		return tx.PutObject(context.Background(), store.Object{ObjectKey: k, Meta: []byte(meta), Updated: base})
	})
}

// putVersion writes a version and returns it as stored.
func putVersion(t testing.TB, s store.Store, k store.ObjectKey, id, meta string) store.Version {
	t.Helper()
	var v store.Version
	update(t, s, func(tx store.Tx) error {
		var err error
		v, err = tx.PutVersion(context.Background(), store.Version{ObjectKey: k, ID: id, Created: base, Meta: []byte(meta)})
		return err
	})
	return v
}

func getObject(t testing.TB, s store.Store, k store.ObjectKey) (store.Object, error) {
	t.Helper()
	var o store.Object
	var getErr error
	view(t, s, func(tx store.Tx) error {
		o, getErr = tx.Object(context.Background(), k)
		return nil
	})
	return o, getErr
}

func mustObject(t testing.TB, s store.Store, k store.ObjectKey) store.Object {
	t.Helper()
	o, err := getObject(t, s, k)
	if err != nil {
		t.Fatalf("Object(%v): %v", k, err)
	}
	return o
}

func latest(t testing.TB, s store.Store, k store.ObjectKey) (store.Version, error) {
	t.Helper()
	var v store.Version
	var getErr error
	view(t, s, func(tx store.Tx) error {
		v, getErr = tx.LatestVersion(context.Background(), k)
		return nil
	})
	return v, getErr
}

func version(t testing.TB, s store.Store, k store.ObjectKey, id string) (store.Version, error) {
	t.Helper()
	var v store.Version
	var getErr error
	view(t, s, func(tx store.Tx) error {
		v, getErr = tx.Version(context.Background(), k, id)
		return nil
	})
	return v, getErr
}

func listObjects(t testing.TB, s store.Store, vault string, kind store.Kind, deleted bool, opt store.ListOptions) []store.Object {
	t.Helper()
	var out []store.Object
	view(t, s, func(tx store.Tx) error {
		var err error
		out, err = tx.Objects(context.Background(), vault, kind, deleted, opt)
		return err
	})
	return out
}

func listVersions(t testing.TB, s store.Store, k store.ObjectKey, opt store.ListOptions) []store.Version {
	t.Helper()
	var out []store.Version
	view(t, s, func(tx store.Tx) error {
		var err error
		out, err = tx.Versions(context.Background(), k, opt)
		return err
	})
	return out
}

func names(objs []store.Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.Name
	}
	return out
}

func ids(vs []store.Version) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.ID
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func wantNotFound(t testing.TB, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: got error %v, want store.ErrNotFound", what, err)
	}
}

func wantBytes(t testing.TB, what string, got []byte, want string) {
	t.Helper()
	if !bytes.Equal(got, []byte(want)) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func wantTime(t testing.TB, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
	if !got.IsZero() && got.Location() != time.UTC {
		t.Errorf("%s is in %v, want UTC", what, got.Location())
	}
}
