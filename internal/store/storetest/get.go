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

// testGet: Get returns the object with its latest version (by Seq, not ID) or
// the named one, a zero version when there is none, and ErrNotFound for a
// missing object; names compare case-insensitively and keep the stored case.
func testGet(t *testing.T, s store.Store) {
	ctx := context.Background()
	k := key("kv1", store.KindSecret, "Web")
	if _, _, err := s.Get(ctx, k, ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get of a missing object: %v, want ErrNotFound", err)
	}
	update(t, s, func(tx store.Tx) error {
		return tx.PutObject(ctx, store.Object{ObjectKey: k, Meta: []byte("object"), Updated: base})
	})
	o, v, err := s.Get(ctx, key("kv1", store.KindSecret, "WEB"), "")
	if err != nil || o.Name != "Web" || string(o.Meta) != "object" || v.ID != "" {
		t.Fatalf("Get of an object without versions: %+v %+v %v", o, v, err)
	}
	// IDs sort the other way round from insertion: the latest is by Seq.
	for _, id := range []string{hexID(9), hexID(2)} {
		update(t, s, func(tx store.Tx) error {
			_, err := tx.PutVersion(ctx, store.Version{ObjectKey: k, ID: id, Created: base, Meta: []byte("m" + id), Sealed: []byte("s" + id)})
			return err
		})
	}
	o, v, err = s.Get(ctx, k, "")
	if err != nil || v.ID != hexID(2) || v.Name != "Web" || v.Seq < 2 || !bytes.Equal(v.Sealed, []byte("s"+hexID(2))) || !v.Created.Equal(micro(base)) {
		t.Errorf("Get latest: %+v %v", v, err)
	}
	o, v, err = s.Get(ctx, k, hexID(9))
	if err != nil || v.ID != hexID(9) || !bytes.Equal(v.Meta, []byte("m"+hexID(9))) || o.Name != "Web" {
		t.Errorf("Get named version: %+v %v", v, err)
	}
	o, v, err = s.Get(ctx, k, hexID(5))
	if err != nil || v.ID != "" || o.Name != "Web" {
		t.Errorf("Get of a missing version of an existing object: %+v %+v %v", o, v, err)
	}
	if _, _, err := s.Get(ctx, key("kv2", store.KindSecret, "Web"), ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get in another vault: %v, want ErrNotFound", err)
	}
	if _, _, err := s.Get(ctx, key("kv1", store.KindCertificate, "Web"), ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get of another kind: %v, want ErrNotFound", err)
	}
}

// testAuditLargeBatch: a batch larger than any internal chunking (a full
// flush of the vault's audit writer) is stored whole and in order.
func testAuditLargeBatch(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 517 // not a multiple of any power of two
	batch := make([]store.AuditEntry, n)
	for i := range batch {
		batch[i] = store.AuditEntry{Time: base.Add(time.Duration(i) * time.Millisecond), Vault: "kv1", Principal: "p",
			Action: "a", Target: fmt.Sprintf("/secrets/s%03d", i), Status: 200, RequestID: fmt.Sprint(i), Client: "c"}
	}
	if err := s.AppendAudit(ctx, batch); err != nil {
		t.Fatal(err)
	}
	got, err := s.Audit(ctx, store.AuditQuery{Vault: "kv1", Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("%d entries read back, want %d", len(got), n)
	}
	for i, e := range got {
		if e.Target != batch[i].Target || e.RequestID != batch[i].RequestID || !e.Time.Equal(micro(batch[i].Time)) {
			t.Fatalf("entry %d: %+v, want %+v", i, e, batch[i])
		}
	}
}
