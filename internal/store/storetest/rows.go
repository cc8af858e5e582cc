package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/store"
)

func testAssignments(t *testing.T, s store.Store) {
	ctx := context.Background()
	put := []store.Assignment{
		{ID: "a3", Vault: "v1", Principal: "p1", RoleID: "r1", Scope: "/", Created: base.Add(2 * time.Minute)},
		{ID: "a2", Vault: "v1", Principal: "p2", RoleID: "r2", Scope: "/secrets/Db", Created: base},
		{ID: "a1", Vault: "v1", Principal: "p3", RoleID: "r3", Scope: "/certificates/web", Created: base},
		{ID: "b1", Vault: "v2", Principal: "p1", RoleID: "r1", Scope: "/", Created: base.Add(time.Minute)},
	}
	for _, a := range put {
		if err := s.PutAssignment(ctx, a); err != nil {
			t.Fatalf("PutAssignment(%s): %v", a.ID, err)
		}
	}
	list := func(vault string) []string {
		t.Helper()
		as, err := s.Assignments(ctx, vault)
		if err != nil {
			t.Fatalf("Assignments(%q): %v", vault, err)
		}
		out := make([]string, len(as))
		for i, a := range as {
			out[i] = a.ID
		}
		return out
	}
	// Oldest first; equal Created sorts by ID.
	if got, want := list("v1"), []string{"a1", "a2", "a3"}; !equalStrings(got, want) {
		t.Errorf("Assignments(v1) = %q, want %q", got, want)
	}
	if got, want := list(""), []string{"a1", "a2", "b1", "a3"}; !equalStrings(got, want) {
		t.Errorf(`Assignments("") = %q, want %q`, got, want)
	}
	as, err := s.Assignments(ctx, "v2")
	if err != nil || len(as) != 1 {
		t.Fatalf("Assignments(v2) = %v, %v; want one", as, err)
	}
	if a := as[0]; a.ID != "b1" || a.Vault != "v2" || a.Principal != "p1" || a.RoleID != "r1" || a.Scope != "/" {
		t.Errorf("Assignments(v2)[0] = %+v, want %+v", a, put[3])
	}
	wantTime(t, "Assignment.Created", as[0].Created, micro(put[3].Created))

	dup := store.Assignment{ID: "a2", Vault: "v9", Principal: "px", RoleID: "rx", Scope: "/", Created: base}
	if err := s.PutAssignment(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("PutAssignment with an existing ID: %v, want store.ErrConflict", err)
	}
	if got := list("v9"); len(got) != 0 {
		t.Errorf("a conflicting PutAssignment wrote %q", got)
	}

	if err := s.DeleteAssignment(ctx, "a2"); err != nil {
		t.Fatalf("DeleteAssignment: %v", err)
	}
	if got, want := list("v1"), []string{"a1", "a3"}; !equalStrings(got, want) {
		t.Errorf("after delete, Assignments(v1) = %q, want %q", got, want)
	}
	wantNotFound(t, "DeleteAssignment twice", s.DeleteAssignment(ctx, "a2"))
	if got := list("empty-vault"); len(got) != 0 {
		t.Errorf("Assignments of a vault without any = %q", got)
	}
}

func testAudit(t *testing.T, s store.Store) {
	ctx := context.Background()
	entry := func(i int, vault string, at time.Time) store.AuditEntry {
		return store.AuditEntry{
			Time: at, Vault: vault, Principal: fmt.Sprint("oid-", i), App: "app", Action: "getSecret",
			Target: fmt.Sprintf("/secrets/s%d", i), Status: 200 + i, RequestID: fmt.Sprint("req-", i), Client: "127.0.0.1:1",
		}
	}
	// Two batches, the first written out of time order.
	batch1 := []store.AuditEntry{
		entry(2, "v1", base.Add(2*time.Second)),
		entry(0, "v1", base),
		entry(1, "v2", base.Add(time.Second)),
	}
	batch2 := []store.AuditEntry{
		entry(3, "v2", base.Add(3*time.Second)),
		entry(4, "v1", base.Add(4*time.Second)),
		entry(5, "v1", base.Add(5*time.Second)),
	}
	for _, b := range [][]store.AuditEntry{batch1, batch2} {
		if err := s.AppendAudit(ctx, b); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}
	if err := s.AppendAudit(ctx, nil); err != nil {
		t.Errorf("AppendAudit of no entries: %v", err)
	}
	query := func(q store.AuditQuery) []string {
		t.Helper()
		es, err := s.Audit(ctx, q)
		if err != nil {
			t.Fatalf("Audit(%+v): %v", q, err)
		}
		out := make([]string, len(es))
		for i, e := range es {
			out[i] = e.RequestID
		}
		return out
	}
	cases := []struct {
		q    store.AuditQuery
		want []string
	}{
		{store.AuditQuery{Limit: 100}, []string{"req-0", "req-1", "req-2", "req-3", "req-4", "req-5"}},
		{store.AuditQuery{Vault: "v1", Limit: 100}, []string{"req-0", "req-2", "req-4", "req-5"}},
		{store.AuditQuery{Vault: "v2", Limit: 100}, []string{"req-1", "req-3"}},
		{store.AuditQuery{Since: base.Add(2 * time.Second), Limit: 100}, []string{"req-2", "req-3", "req-4", "req-5"}},
		{store.AuditQuery{Vault: "v1", Since: base.Add(time.Second), Limit: 2}, []string{"req-2", "req-4"}},
		{store.AuditQuery{Limit: 1}, []string{"req-0"}},
		{store.AuditQuery{Since: base.Add(time.Hour), Limit: 10}, nil},
		{store.AuditQuery{Vault: "none", Limit: 10}, nil},
	}
	for _, c := range cases {
		if got := query(c.q); !equalStrings(got, c.want) {
			t.Errorf("Audit(vault %q, since +%v, limit %d) = %q, want %q",
				c.q.Vault, c.q.Since.Sub(base), c.q.Limit, got, c.want)
		}
	}
	es, err := s.Audit(ctx, store.AuditQuery{Vault: "v2", Since: base.Add(3 * time.Second), Limit: 1})
	if err != nil || len(es) != 1 {
		t.Fatalf("Audit of one entry = %v, %v", es, err)
	}
	want := batch2[0]
	want.Time = micro(want.Time)
	got := es[0]
	wantTime(t, "AuditEntry.Time", got.Time, want.Time)
	got.Time = want.Time
	if got != want {
		t.Errorf("AuditEntry read back = %+v, want %+v", got, want)
	}
}

func testBlobs(t *testing.T, s store.Store) {
	ctx := context.Background()
	blobs := map[string]string{
		"pki/root.pem": "root", "pki/sub/1.pem": "sub1", "pki/sub/0.pem": "sub0",
		"pki/sub~": "tilde", "pki0": "digit", "identity/keys.json": "keys",
	}
	for k, v := range blobs {
		if err := s.PutBlob(ctx, k, []byte(v)); err != nil {
			t.Fatalf("PutBlob(%s): %v", k, err)
		}
	}
	if err := s.PutBlob(ctx, "pki/root.pem", []byte("root-2")); err != nil {
		t.Fatalf("PutBlob replacing: %v", err)
	}
	data, err := s.Blob(ctx, "pki/root.pem")
	if err != nil {
		t.Fatalf("Blob: %v", err)
	}
	wantBytes(t, "replaced blob", data, "root-2")
	data, err = s.Blob(ctx, "pki/sub/0.pem")
	if err != nil {
		t.Fatalf("Blob: %v", err)
	}
	wantBytes(t, "blob", data, "sub0")
	binary := []byte{0, 0xff, 0xfe, 0, 1}
	if err := s.PutBlob(ctx, "bin", binary); err != nil {
		t.Fatalf("PutBlob(bin): %v", err)
	}
	if data, err := s.Blob(ctx, "bin"); err != nil || string(data) != string(binary) {
		t.Errorf("binary blob = %x, %v; want %x", data, err, binary)
	}

	list := func(prefix string) []string {
		t.Helper()
		keys, err := s.Blobs(ctx, prefix)
		if err != nil {
			t.Fatalf("Blobs(%q): %v", prefix, err)
		}
		return keys
	}
	cases := []struct {
		prefix string
		want   []string
	}{
		{"pki/", []string{"pki/root.pem", "pki/sub/0.pem", "pki/sub/1.pem", "pki/sub~"}},
		{"pki/sub/", []string{"pki/sub/0.pem", "pki/sub/1.pem"}},
		{"pki", []string{"pki/root.pem", "pki/sub/0.pem", "pki/sub/1.pem", "pki/sub~", "pki0"}},
		{"", []string{"bin", "identity/keys.json", "pki/root.pem", "pki/sub/0.pem", "pki/sub/1.pem", "pki/sub~", "pki0"}},
		{"nothing/", nil},
	}
	for _, c := range cases {
		if got := list(c.prefix); !equalStrings(got, c.want) {
			t.Errorf("Blobs(%q) = %q, want %q", c.prefix, got, c.want)
		}
	}

	if err := s.DeleteBlob(ctx, "pki/sub/0.pem"); err != nil {
		t.Fatalf("DeleteBlob: %v", err)
	}
	_, err = s.Blob(ctx, "pki/sub/0.pem")
	wantNotFound(t, "Blob after DeleteBlob", err)
	wantNotFound(t, "DeleteBlob twice", s.DeleteBlob(ctx, "pki/sub/0.pem"))
	if got, want := list("pki/sub/"), []string{"pki/sub/1.pem"}; !equalStrings(got, want) {
		t.Errorf("after delete, Blobs = %q, want %q", got, want)
	}
}

func testLimits(t *testing.T, s store.Store) {
	ctx := context.Background()
	k := key("v1", store.KindSecret, "s")
	putObject(t, s, k, "m")
	for _, limit := range []int{0, -1, 1001} {
		err := s.View(ctx, func(tx store.Tx) error {
			_, err := tx.Objects(ctx, "v1", store.KindSecret, false, store.ListOptions{Limit: limit})
			return err
		})
		if err == nil {
			t.Errorf("Objects with Limit %d succeeded, want an error", limit)
		}
		err = s.View(ctx, func(tx store.Tx) error {
			_, err := tx.Versions(ctx, k, store.ListOptions{Limit: limit})
			return err
		})
		if err == nil {
			t.Errorf("Versions with Limit %d succeeded, want an error", limit)
		}
	}
	for _, limit := range []int{0, -1, 10001} {
		if _, err := s.Audit(ctx, store.AuditQuery{Limit: limit}); err == nil {
			t.Errorf("Audit with Limit %d succeeded, want an error", limit)
		}
	}
	// The bounds themselves are valid.
	view(t, s, func(tx store.Tx) error {
		if objs, err := tx.Objects(ctx, "v1", store.KindSecret, false, store.ListOptions{Limit: 1000}); err != nil || len(objs) != 1 {
			return fmt.Errorf("Objects with Limit 1000 = %d objects, %w", len(objs), err)
		}
		if _, err := tx.Objects(ctx, "v1", store.KindSecret, false, store.ListOptions{Limit: 1}); err != nil {
			return fmt.Errorf("Objects with Limit 1: %w", err)
		}
		_, err := tx.Versions(ctx, k, store.ListOptions{Limit: 1000})
		return err
	})
	if _, err := s.Audit(ctx, store.AuditQuery{Limit: 10000}); err != nil {
		t.Errorf("Audit with Limit 10000: %v", err)
	}
}

func testTimesRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	k := key("v1", store.KindCertificate, "timed")
	deleted, purge, updated, created := base.Add(1001*time.Nanosecond), base.Add(999*time.Nanosecond), base.Add(-time.Hour), base.Add(24*time.Hour+1)
	update(t, s, func(tx store.Tx) error {
		return tx.PutObject(ctx, store.Object{ObjectKey: k, Deleted: deleted, PurgeAt: purge, Updated: updated})
	})
	o := mustObject(t, s, k)
	wantTime(t, "Object.Deleted", o.Deleted, micro(deleted))
	wantTime(t, "Object.PurgeAt", o.PurgeAt, micro(purge))
	wantTime(t, "Object.Updated", o.Updated, micro(updated))
	if o.Deleted.Nanosecond()%1000 != 0 {
		t.Errorf("Object.Deleted keeps nanoseconds: %v", o.Deleted)
	}

	var put store.Version
	update(t, s, func(tx store.Tx) error {
		var err error
		put, err = tx.PutVersion(ctx, store.Version{ObjectKey: k, ID: hexID(1), Created: created})
		return err
	})
	wantTime(t, "Created returned by PutVersion", put.Created, micro(created))
	v, err := version(t, s, k, hexID(1))
	if err != nil {
		t.Fatal(err)
	}
	wantTime(t, "Version.Created", v.Created, micro(created))

	// A time before 1970 and one far ahead.
	for i, at := range []time.Time{time.Date(1969, 7, 20, 20, 17, 40, 500, time.UTC), time.Date(2999, 12, 31, 23, 59, 59, 999999999, time.UTC)} {
		a := store.Assignment{ID: fmt.Sprint("t", i), Vault: "v1", Principal: "p", RoleID: "r", Scope: "/", Created: at}
		if err := s.PutAssignment(ctx, a); err != nil {
			t.Fatalf("PutAssignment: %v", err)
		}
	}
	as, err := s.Assignments(ctx, "v1")
	if err != nil || len(as) != 2 {
		t.Fatalf("Assignments = %v, %v", as, err)
	}
	wantTime(t, "Assignment.Created in 1969", as[0].Created, time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC))
	wantTime(t, "Assignment.Created in 2999", as[1].Created, time.Date(2999, 12, 31, 23, 59, 59, 999999000, time.UTC))
}

func testCancelledContext(t *testing.T, s store.Store) {
	k := key("v1", store.KindSecret, "s")
	putObject(t, s, k, "m")
	putVersion(t, s, k, hexID(1), "v")
	if err := s.PutBlob(context.Background(), "b", []byte("x")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	noop := func(store.Tx) error { return nil }
	calls := map[string]error{
		"Update":           s.Update(ctx, noop),
		"View":             s.View(ctx, noop),
		"PutAssignment":    s.PutAssignment(ctx, store.Assignment{ID: "x", Vault: "v1", Scope: "/", Created: base}),
		"DeleteAssignment": s.DeleteAssignment(ctx, "x"),
		"AppendAudit":      s.AppendAudit(ctx, []store.AuditEntry{{Time: base, Vault: "v1"}}),
		"PutBlob":          s.PutBlob(ctx, "b", []byte("y")),
		"DeleteBlob":       s.DeleteBlob(ctx, "b"),
	}
	_, calls["Assignments"] = s.Assignments(ctx, "v1")
	_, calls["Audit"] = s.Audit(ctx, store.AuditQuery{Limit: 10})
	_, calls["Blob"] = s.Blob(ctx, "b")
	_, calls["Blobs"] = s.Blobs(ctx, "")
	for name, err := range calls {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled", name, err)
		}
	}

	// A context cancelled inside a transaction fails the calls that follow.
	inner, cancelInner := context.WithCancel(context.Background())
	defer cancelInner()
	var afterCancel []error
	err := s.View(context.Background(), func(tx store.Tx) error {
		if _, err := tx.Object(inner, k); err != nil {
			return fmt.Errorf("Object before cancel: %w", err)
		}
		cancelInner()
		_, err := tx.Object(inner, k)
		afterCancel = append(afterCancel, err)
		_, err = tx.LatestVersion(inner, k)
		afterCancel = append(afterCancel, err)
		_, err = tx.Version(inner, k, hexID(1))
		afterCancel = append(afterCancel, err)
		_, err = tx.Objects(inner, "v1", store.KindSecret, false, store.ListOptions{Limit: 10})
		afterCancel = append(afterCancel, err)
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	for i, err := range afterCancel {
		if err == nil {
			t.Errorf("read %d after the context was cancelled succeeded", i)
		}
	}
	// Nothing was written by the cancelled calls.
	if data, err := s.Blob(context.Background(), "b"); err != nil || string(data) != "x" {
		t.Errorf("blob after cancelled writes = %q, %v; want %q", data, err, "x")
	}
}
