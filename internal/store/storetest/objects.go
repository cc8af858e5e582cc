package storetest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/store"
)

func testObjectInsertReplace(t *testing.T, s store.Store) {
	k := key("v1", store.KindCertificate, "Web-Cert")
	update(t, s, func(tx store.Tx) error {
		return tx.PutObject(context.Background(), store.Object{
			ObjectKey: k, Meta: []byte("m1"), Sealed: []byte("s1"), Updated: base,
		})
	})
	o := mustObject(t, s, k)
	if o.Name != "Web-Cert" || o.Vault != "v1" || o.Kind != store.KindCertificate {
		t.Errorf("Object key = %+v, want v1/certificate/Web-Cert", o.ObjectKey)
	}
	wantBytes(t, "Meta", o.Meta, "m1")
	wantBytes(t, "Sealed", o.Sealed, "s1")
	wantTime(t, "Updated", o.Updated, micro(base))
	if !o.Deleted.IsZero() || !o.PurgeAt.IsZero() {
		t.Errorf("new object has Deleted %v, PurgeAt %v; want zero times", o.Deleted, o.PurgeAt)
	}

	// Replace under another case: every field changes but the name's case.
	deleted, purge := base.Add(time.Hour), base.Add(90*24*time.Hour)
	update(t, s, func(tx store.Tx) error {
		return tx.PutObject(context.Background(), store.Object{
			ObjectKey: key("v1", store.KindCertificate, "WEB-CERT"),
			Deleted:   deleted, PurgeAt: purge, Meta: []byte("m2"), Updated: deleted,
		})
	})
	o = mustObject(t, s, key("v1", store.KindCertificate, "web-cert"))
	if o.Name != "Web-Cert" {
		t.Errorf("after replace, Name = %q, want the first case %q", o.Name, "Web-Cert")
	}
	wantBytes(t, "Meta after replace", o.Meta, "m2")
	if o.Sealed != nil {
		t.Errorf("Sealed after replace with nil = %q, want nil", o.Sealed)
	}
	wantTime(t, "Deleted", o.Deleted, micro(deleted))
	wantTime(t, "PurgeAt", o.PurgeAt, micro(purge))
	wantTime(t, "Updated after replace", o.Updated, micro(deleted))

	// Recovering clears the deletion times.
	update(t, s, func(tx store.Tx) error {
		return tx.PutObject(context.Background(), store.Object{ObjectKey: k, Meta: []byte("m3"), Updated: base})
	})
	o = mustObject(t, s, k)
	if !o.Deleted.IsZero() || !o.PurgeAt.IsZero() {
		t.Errorf("recovered object has Deleted %v, PurgeAt %v; want zero times", o.Deleted, o.PurgeAt)
	}
	if got := len(listObjects(t, s, "v1", store.KindCertificate, false, store.ListOptions{Limit: 10})); got != 1 {
		t.Errorf("after three writes of one name, %d live objects are listed, want 1", got)
	}
}

func testCaseInsensitiveNames(t *testing.T, s store.Store) {
	k := key("v1", store.KindSecret, "MixedCase-Name")
	putObject(t, s, k, "m")
	putVersion(t, s, k, hexID(1), "v")
	for _, name := range []string{"mixedcase-name", "MIXEDCASE-NAME", "mIxEdCaSe-NaMe"} {
		o, err := getObject(t, s, key("v1", store.KindSecret, name))
		if err != nil {
			t.Errorf("Object(%q): %v", name, err)
		} else if o.Name != "MixedCase-Name" {
			t.Errorf("Object(%q).Name = %q, want %q", name, o.Name, "MixedCase-Name")
		}
		if v, err := latest(t, s, key("v1", store.KindSecret, name)); err != nil || v.ID != hexID(1) {
			t.Errorf("LatestVersion(%q) = %q, %v; want %q", name, v.ID, err, hexID(1))
		}
		if _, err := version(t, s, key("v1", store.KindSecret, name), hexID(1)); err != nil {
			t.Errorf("Version(%q): %v", name, err)
		}
	}
	// The kind is part of the key.
	_, err := getObject(t, s, key("v1", store.KindCertificate, "mixedcase-name"))
	wantNotFound(t, "Object under another kind", err)
	// Only ASCII letters fold: "É" and "é" are different names.
	putObject(t, s, key("v1", store.KindSecret, "Été"), "m")
	_, err = getObject(t, s, key("v1", store.KindSecret, "été"))
	wantNotFound(t, `Object("été") after writing "Été"`, err)
	if _, err := getObject(t, s, key("v1", store.KindSecret, "ÉTé")); err != nil {
		t.Errorf(`Object("ÉTé") after writing "Été": %v`, err)
	}
}

func testNotFound(t *testing.T, s store.Store) {
	ctx := context.Background()
	missing := key("v1", store.KindSecret, "missing")
	bare := key("v1", store.KindSecret, "no-versions")
	putObject(t, s, bare, "m")

	_, err := getObject(t, s, missing)
	wantNotFound(t, "Object of a missing object", err)
	_, err = version(t, s, missing, hexID(1))
	wantNotFound(t, "Version of a missing object", err)
	_, err = version(t, s, bare, hexID(1))
	wantNotFound(t, "Version of an object without versions", err)
	_, err = latest(t, s, missing)
	wantNotFound(t, "LatestVersion of a missing object", err)
	_, err = latest(t, s, bare)
	wantNotFound(t, "LatestVersion of an object without versions", err)

	err = s.Update(ctx, func(tx store.Tx) error { return tx.PurgeObject(ctx, missing) })
	wantNotFound(t, "PurgeObject of a missing object", err)
	_, err = s.Blob(ctx, "missing/blob")
	wantNotFound(t, "Blob", err)
	wantNotFound(t, "DeleteBlob", s.DeleteBlob(ctx, "missing/blob"))
	wantNotFound(t, "DeleteAssignment", s.DeleteAssignment(ctx, "missing-assignment"))
}

func testPurgeRemovesVersions(t *testing.T, s store.Store) {
	ctx := context.Background()
	k := key("v1", store.KindSecret, "Doomed")
	other := key("v1", store.KindSecret, "survivor")
	putObject(t, s, k, "m")
	putObject(t, s, other, "m")
	for i := range 3 {
		putVersion(t, s, k, hexID(i), "v")
	}
	putVersion(t, s, other, hexID(0), "kept")

	update(t, s, func(tx store.Tx) error { return tx.PurgeObject(ctx, key("v1", store.KindSecret, "DOOMED")) })

	_, err := getObject(t, s, k)
	wantNotFound(t, "Object after PurgeObject", err)
	_, err = version(t, s, k, hexID(1))
	wantNotFound(t, "Version after PurgeObject", err)
	_, err = latest(t, s, k)
	wantNotFound(t, "LatestVersion after PurgeObject", err)
	if vs := listVersions(t, s, k, store.ListOptions{Limit: 10}); len(vs) != 0 {
		t.Errorf("Versions after PurgeObject = %v, want none", ids(vs))
	}
	// A new object under the name starts without the old versions.
	putObject(t, s, k, "again")
	if vs := listVersions(t, s, k, store.ListOptions{Limit: 10}); len(vs) != 0 {
		t.Errorf("Versions of a re-created object = %v, want none", ids(vs))
	}
	if v, err := version(t, s, other, hexID(0)); err != nil {
		t.Errorf("the other object's version after PurgeObject: %v", err)
	} else {
		wantBytes(t, "the other object's version Meta", v.Meta, "kept")
	}
}

func testLiveAndDeletedListings(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, n := range []string{"live-b", "Live-A", "live-c"} {
		putObject(t, s, key("v1", store.KindSecret, n), "m")
	}
	for _, n := range []string{"gone-2", "Gone-1"} {
		update(t, s, func(tx store.Tx) error {
			return tx.PutObject(ctx, store.Object{
				ObjectKey: key("v1", store.KindSecret, n), Deleted: base, PurgeAt: base.Add(time.Hour), Updated: base,
			})
		})
	}
	putObject(t, s, key("v1", store.KindCertificate, "a-certificate"), "m")

	live := names(listObjects(t, s, "v1", store.KindSecret, false, store.ListOptions{Limit: 100}))
	if want := []string{"Live-A", "live-b", "live-c"}; !equalStrings(live, want) {
		t.Errorf("live secrets = %q, want %q", live, want)
	}
	gone := names(listObjects(t, s, "v1", store.KindSecret, true, store.ListOptions{Limit: 100}))
	if want := []string{"Gone-1", "gone-2"}; !equalStrings(gone, want) {
		t.Errorf("deleted secrets = %q, want %q", gone, want)
	}
	for _, o := range listObjects(t, s, "v1", store.KindSecret, true, store.ListOptions{Limit: 100}) {
		if o.Deleted.IsZero() {
			t.Errorf("deleted listing has %q with a zero Deleted", o.Name)
		}
	}
	certs := names(listObjects(t, s, "v1", store.KindCertificate, false, store.ListOptions{Limit: 100}))
	if want := []string{"a-certificate"}; !equalStrings(certs, want) {
		t.Errorf("live certificates = %q, want %q", certs, want)
	}
}

// sortNames are names whose byte order differs from the order of common
// collations (punctuation, digits and case), so a backend that sorts by a
// locale instead of bytes fails.
var sortNames = []string{"a~", "a_", "a0", "a-b", "aB", "A.c", "Z", "_z", "1z", "~z", "ab-", "AB0"}

func testObjectsSortedAndPaged(t *testing.T, s store.Store) {
	var all []string
	for i := range 60 - len(sortNames) {
		all = append(all, fmt.Sprintf("Obj-%02d", (i*37)%(60-len(sortNames)))) // written out of order
	}
	all = append(all, sortNames...)
	for _, n := range all {
		putObject(t, s, key("v1", store.KindSecret, n), "m")
	}
	want := slices.Clone(all)
	slices.SortFunc(want, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })

	got := names(listObjects(t, s, "v1", store.KindSecret, false, store.ListOptions{Limit: 1000}))
	if !equalStrings(got, want) {
		t.Fatalf("Objects in one page =\n%q\nwant, sorted by lower-case name,\n%q", got, want)
	}

	// Page through with writes between the pages: each object written before
	// the walk appears exactly once, and the walk stays sorted.
	seen := map[string]int{}
	after, page, inserted := "", 0, 0
	var walk []string
	for {
		objs := listObjects(t, s, "v1", store.KindSecret, false, store.ListOptions{After: after, Limit: 7})
		for _, o := range objs {
			seen[o.Name]++
			walk = append(walk, strings.ToLower(o.Name))
		}
		if len(objs) < 7 {
			break
		}
		after = objs[len(objs)-1].Name // the last item's name, in its own case
		page++
		// One name sorts before the cursor, one after it.
		for _, n := range []string{fmt.Sprintf("aaa-new-%d", page), fmt.Sprintf("zzz-new-%d", page)} {
			putObject(t, s, key("v1", store.KindSecret, n), "m")
			inserted++
		}
		if page > 100 {
			t.Fatal("paging does not end")
		}
	}
	for _, n := range all {
		if seen[n] != 1 {
			t.Errorf("paging returned %q %d times, want once", n, seen[n])
		}
	}
	for n, c := range seen {
		if c != 1 {
			t.Errorf("paging returned %q %d times", n, c)
		}
	}
	if !slices.IsSorted(walk) || len(slices.Compact(slices.Clone(walk))) != len(walk) {
		t.Errorf("paging walk is not strictly increasing: %q", walk)
	}
	if inserted == 0 {
		t.Error("paging ended after one page; the test needs several")
	}
}

func testVersionsSortedAndPaged(t *testing.T, s store.Store) {
	k := key("v1", store.KindCertificate, "c")
	putObject(t, s, k, "m")
	var want []string
	for i := range 25 {
		id := hexID((i * 7919) % 101) // out of order
		putVersion(t, s, k, id, "v")
		want = append(want, id)
	}
	slices.Sort(want)

	var got []string
	after := ""
	for range 10 {
		vs := listVersions(t, s, key("v1", store.KindCertificate, "C"), store.ListOptions{After: after, Limit: 10})
		got = append(got, ids(vs)...)
		if len(vs) < 10 {
			break
		}
		after = vs[len(vs)-1].ID
	}
	if !equalStrings(got, want) {
		t.Errorf("Versions paged by 10 =\n%q\nwant, sorted by ID,\n%q", got, want)
	}
	if vs := listVersions(t, s, key("v1", store.KindCertificate, "other"), store.ListOptions{Limit: 10}); len(vs) != 0 {
		t.Errorf("Versions of another object = %q, want none", ids(vs))
	}
}

func testSeqAndLatestVersion(t *testing.T, s store.Store) {
	k := key("v1", store.KindSecret, "s")
	putObject(t, s, k, "m")
	// IDs out of ID order: the latest is the last written, not the largest ID.
	order := []string{hexID(0xff), hexID(0x00), hexID(0x7f), hexID(0x10)}
	var last int64
	for i, id := range order {
		v := putVersion(t, s, k, id, fmt.Sprint("v", i))
		if v.Seq <= last {
			t.Errorf("version %d got Seq %d, not above the previous %d", i, v.Seq, last)
		}
		last = v.Seq
		if v.ID != id || v.Name != "s" {
			t.Errorf("PutVersion returned ID %q name %q, want %q and %q", v.ID, v.Name, id, "s")
		}
		got, err := latest(t, s, k)
		if err != nil {
			t.Fatalf("LatestVersion: %v", err)
		}
		if got.ID != id || got.Seq != v.Seq {
			t.Errorf("after writing %s, LatestVersion = %s (Seq %d), want Seq %d", id, got.ID, got.Seq, v.Seq)
		}
	}
	vs := listVersions(t, s, k, store.ListOptions{Limit: 10})
	seqs := map[int64]bool{}
	for _, v := range vs {
		seqs[v.Seq] = true
	}
	if len(vs) != len(order) || len(seqs) != len(order) {
		t.Errorf("%d versions with %d distinct Seq, want %d and %d", len(vs), len(seqs), len(order), len(order))
	}
}

func testPutVersionReplaces(t *testing.T, s store.Store) {
	ctx := context.Background()
	k := key("v1", store.KindSecret, "s")
	putObject(t, s, k, "m")
	first := putVersion(t, s, k, hexID(1), "meta-1")
	second := putVersion(t, s, k, hexID(2), "meta-2")

	var replaced store.Version
	update(t, s, func(tx store.Tx) error {
		var err error
		replaced, err = tx.PutVersion(ctx, store.Version{
			ObjectKey: key("v1", store.KindSecret, "S"), ID: hexID(1),
			Created: base.Add(time.Hour), Meta: []byte("meta-1b"), Sealed: []byte("sealed-1b"),
		})
		return err
	})
	if replaced.Seq != first.Seq {
		t.Errorf("replacing a version changed its Seq from %d to %d", first.Seq, replaced.Seq)
	}
	wantTime(t, "Created returned by a replace", replaced.Created, micro(base))
	wantBytes(t, "Meta returned by a replace", replaced.Meta, "meta-1b")

	got, err := version(t, s, k, hexID(1))
	if err != nil {
		t.Fatalf("Version: %v", err)
	}
	if got.Seq != first.Seq {
		t.Errorf("stored Seq %d, want the original %d", got.Seq, first.Seq)
	}
	wantTime(t, "stored Created", got.Created, micro(base))
	wantBytes(t, "stored Meta", got.Meta, "meta-1b")
	wantBytes(t, "stored Sealed", got.Sealed, "sealed-1b")

	l, err := latest(t, s, k)
	if err != nil || l.ID != second.ID {
		t.Errorf("after replacing an older version, LatestVersion = %s, %v; want %s", l.ID, err, second.ID)
	}
	if n := len(listVersions(t, s, k, store.ListOptions{Limit: 10})); n != 2 {
		t.Errorf("%d versions after a replace, want 2", n)
	}
}

func testPutVersionWithoutObject(t *testing.T, s store.Store) {
	ctx := context.Background()
	k := key("v1", store.KindSecret, "orphan")
	err := s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.PutVersion(ctx, store.Version{ObjectKey: k, ID: hexID(1), Created: base})
		return err
	})
	wantNotFound(t, "PutVersion without the object", err)
	putObject(t, s, k, "m") // now it has one; no version may have slipped in
	if vs := listVersions(t, s, k, store.ListOptions{Limit: 10}); len(vs) != 0 {
		t.Errorf("a failed PutVersion left versions %q", ids(vs))
	}
}

func testEmptyAndNilBytes(t *testing.T, s store.Store) {
	k := key("v1", store.KindSecret, "bytes")
	update(t, s, func(tx store.Tx) error {
		return tx.PutObject(context.Background(), store.Object{ObjectKey: k, Meta: []byte("m"), Updated: base})
	})
	o := mustObject(t, s, k)
	if o.Sealed != nil {
		t.Errorf("Object.Sealed written nil reads %q, want nil", o.Sealed)
	}
	v := putVersion(t, s, k, hexID(1), "meta")
	if v.Sealed != nil {
		t.Errorf("PutVersion returned Sealed %q for nil, want nil", v.Sealed)
	}
	got, err := version(t, s, k, hexID(1))
	if err != nil {
		t.Fatal(err)
	}
	if got.Sealed != nil {
		t.Errorf("Version.Sealed written nil reads %q, want nil", got.Sealed)
	}
	// Large values round-trip byte for byte.
	big := bytes.Repeat([]byte{0, 1, 2, 0xff}, 1<<14)
	update(t, s, func(tx store.Tx) error {
		_, err := tx.PutVersion(context.Background(), store.Version{ObjectKey: k, ID: hexID(2), Meta: big, Sealed: big})
		return err
	})
	got, err = version(t, s, k, hexID(2))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Meta, big) || !bytes.Equal(got.Sealed, big) {
		t.Errorf("a 64 KiB binary Meta/Sealed did not round-trip (got %d and %d bytes)", len(got.Meta), len(got.Sealed))
	}
}
