package sqlite

import (
	"bytes"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/tegata-project/tegata/internal/store"
)

// tx is the store.Tx of Update (write true) and View (write false).
type tx struct {
	c     *conn
	write bool
}

var _ store.Tx = (*tx)(nil)

// errReadOnly is returned by the write methods of a View's Tx. The read
// connections are also query_only, so SQLite would refuse the write anyway.
var errReadOnly = errors.New("write in a read-only View transaction")

func (t *tx) checkWrite() error {
	if !t.write {
		return errReadOnly
	}
	return nil
}

// Object implements store.Tx.
func (t *tx) Object(ctx context.Context, key store.ObjectKey) (store.Object, error) {
	found, err := t.c.queryRow(ctx, stObject, key.Vault, string(key.Kind), asciiLower(key.Name))
	if err == nil && !found {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Object{}, objectErr("read object", key, err)
	}
	o := store.Object{ObjectKey: key}
	readObject(t.c.dest, &o)
	return o, nil
}

// PutObject implements store.Tx.
func (t *tx) PutObject(ctx context.Context, o store.Object) error {
	if err := t.checkWrite(); err != nil {
		return objectErr("write object", o.ObjectKey, err)
	}
	_, err := t.c.exec(ctx, stPutObject, o.Vault, string(o.Kind), asciiLower(o.Name), o.Name,
		timeValue(o.Deleted), timeValue(o.PurgeAt), bytesValue(o.Meta), bytesValue(o.Sealed), timeValue(o.Updated))
	if err != nil {
		return objectErr("write object", o.ObjectKey, err)
	}
	return nil
}

// PurgeObject implements store.Tx.
func (t *tx) PurgeObject(ctx context.Context, key store.ObjectKey) error {
	if err := t.checkWrite(); err != nil {
		return objectErr("purge object", key, err)
	}
	vault, kind, nameKey := key.Vault, string(key.Kind), asciiLower(key.Name)
	if _, err := t.c.exec(ctx, stDeleteVersions, vault, kind, nameKey); err != nil {
		return objectErr("purge object", key, err)
	}
	n, err := t.c.exec(ctx, stDeleteObject, vault, kind, nameKey)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return objectErr("purge object", key, err)
	}
	return nil
}

// Objects implements store.Tx.
func (t *tx) Objects(ctx context.Context, vault string, kind store.Kind, deleted bool, opt store.ListOptions) ([]store.Object, error) {
	if err := checkLimit(opt.Limit, 1000); err != nil {
		return nil, fmt.Errorf("sqlite: list %s objects of vault %q: %w", kind, vault, err)
	}
	id := stObjectsLive
	if deleted {
		id = stObjectsDeleted
	}
	var out []store.Object
	err := t.c.query(ctx, id, func() error {
		o := store.Object{ObjectKey: store.ObjectKey{Vault: vault, Kind: kind}}
		readObject(t.c.dest, &o)
		out = append(out, o)
		return nil
	}, vault, string(kind), asciiLower(opt.After), int64(opt.Limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list %s objects of vault %q: %w", kind, vault, err)
	}
	return out, nil
}

// Version implements store.Tx.
func (t *tx) Version(ctx context.Context, key store.ObjectKey, id string) (store.Version, error) {
	found, err := t.c.queryRow(ctx, stVersion, key.Vault, string(key.Kind), asciiLower(key.Name), id)
	if err == nil && !found {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Version{}, versionErr("read version", key, id, err)
	}
	v := store.Version{ObjectKey: key}
	readVersion(t.c.dest, &v)
	return v, nil
}

// LatestVersion implements store.Tx.
func (t *tx) LatestVersion(ctx context.Context, key store.ObjectKey) (store.Version, error) {
	found, err := t.c.queryRow(ctx, stLatestVersion, key.Vault, string(key.Kind), asciiLower(key.Name))
	if err == nil && !found {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Version{}, objectErr("read latest version of", key, err)
	}
	v := store.Version{ObjectKey: key}
	readVersion(t.c.dest, &v)
	return v, nil
}

// PutVersion implements store.Tx.
func (t *tx) PutVersion(ctx context.Context, v store.Version) (store.Version, error) {
	if err := t.checkWrite(); err != nil {
		return store.Version{}, versionErr("write version", v.ObjectKey, v.ID, err)
	}
	vault, kind, nameKey := v.Vault, string(v.Kind), asciiLower(v.Name)
	meta, sealed := bytesValue(v.Meta), bytesValue(v.Sealed)
	out := store.Version{ObjectKey: v.ObjectKey, ID: v.ID, Meta: bytesOrNil(v.Meta), Sealed: bytesOrNil(v.Sealed)}

	// An existing version keeps its Seq and Created.
	found, err := t.c.queryRow(ctx, stReplaceVersion, meta, sealed, vault, kind, nameKey, v.ID)
	if err != nil {
		return store.Version{}, versionErr("write version", v.ObjectKey, v.ID, err)
	}
	if found {
		d := t.c.dest
		out.Name, out.Seq, out.Created = colString(d[0]), colInt(d[1]), colTime(d[2])
		return out, nil
	}

	found, err = t.c.queryRow(ctx, stNextSeq, vault, kind, nameKey)
	if err == nil && !found {
		err = store.ErrNotFound // no object row
	}
	if err != nil {
		return store.Version{}, versionErr("write version", v.ObjectKey, v.ID, err)
	}
	out.Name, out.Seq = colString(t.c.dest[0]), colInt(t.c.dest[1])
	out.Created = truncate(v.Created)
	_, err = t.c.exec(ctx, stInsertVersion, vault, kind, nameKey, v.ID, out.Name, out.Seq,
		timeValue(v.Created), meta, sealed)
	if err != nil {
		return store.Version{}, versionErr("write version", v.ObjectKey, v.ID, err)
	}
	return out, nil
}

// Versions implements store.Tx.
func (t *tx) Versions(ctx context.Context, key store.ObjectKey, opt store.ListOptions) ([]store.Version, error) {
	if err := checkLimit(opt.Limit, 1000); err != nil {
		return nil, objectErr("list versions of", key, err)
	}
	var out []store.Version
	err := t.c.query(ctx, stVersions, func() error {
		v := store.Version{ObjectKey: key}
		readVersion(t.c.dest, &v)
		out = append(out, v)
		return nil
	}, key.Vault, string(key.Kind), asciiLower(key.Name), opt.After, int64(opt.Limit))
	if err != nil {
		return nil, objectErr("list versions of", key, err)
	}
	return out, nil
}

// readObject reads the columns objectCols into o.
func readObject(d []driver.Value, o *store.Object) {
	o.Name = colString(d[0])
	o.Deleted, o.PurgeAt = colTime(d[1]), colTime(d[2])
	o.Meta, o.Sealed = colBytes(d[3]), colBytes(d[4])
	o.Updated = colTime(d[5])
}

// readVersion reads the columns versionCols into v.
func readVersion(d []driver.Value, v *store.Version) {
	v.Name, v.ID, v.Seq, v.Created = colString(d[0]), colString(d[1]), colInt(d[2]), colTime(d[3])
	v.Meta, v.Sealed = colBytes(d[4]), colBytes(d[5])
}

func objectErr(what string, key store.ObjectKey, err error) error {
	return fmt.Errorf("sqlite: %s %s %q in vault %q: %w", what, key.Kind, key.Name, key.Vault, err)
}

func versionErr(what string, key store.ObjectKey, id string, err error) error {
	return fmt.Errorf("sqlite: %s %s of %s %q in vault %q: %w", what, id, key.Kind, key.Name, key.Vault, err)
}

func checkLimit(limit, most int) error {
	if limit < 1 || limit > most {
		return fmt.Errorf("limit %d is outside 1..%d", limit, most)
	}
	return nil
}

// asciiLower returns s with ASCII upper-case letters lowered, without
// allocating when there are none.
func asciiLower(s string) string {
	i := 0
	for i < len(s) && (s[i] < 'A' || s[i] > 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if c := b[i]; 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// truncate returns t as it reads back: UTC, whole microseconds.
func truncate(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMicro(t.UnixMicro()).UTC()
}

// bytesOrNil returns a copy of b as it reads back: nil when empty.
func bytesOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}

// Get implements store.Store: one statement on a read connection, without
// BEGIN and COMMIT, which a single statement does not need to be consistent.
func (s *Store) Get(ctx context.Context, key store.ObjectKey, id string) (store.Object, store.Version, error) {
	var o store.Object
	var v store.Version
	err := s.read(ctx, "get", func(c *conn) error {
		var found bool
		var err error
		if id == "" {
			found, err = c.queryRow(ctx, stGetLatest, key.Vault, string(key.Kind), asciiLower(key.Name))
		} else {
			found, err = c.queryRow(ctx, stGetVersion, id, key.Vault, string(key.Kind), asciiLower(key.Name))
		}
		if err == nil && !found {
			err = store.ErrNotFound
		}
		if err != nil {
			return objectErr("read", key, err)
		}
		d := c.dest
		o.ObjectKey = key
		readObject(d, &o)
		if d[6] != nil {
			v.ObjectKey = key
			v.Name = o.Name
			v.ID, v.Seq, v.Created = colString(d[6]), colInt(d[7]), colTime(d[8])
			v.Meta, v.Sealed = colBytes(d[9]), colBytes(d[10])
		}
		return nil
	})
	return o, v, err
}
