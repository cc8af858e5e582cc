package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tegata-project/tegata/internal/store"
)

// pgTx is the store.Tx of Update (write true) and View (write false).
type pgTx struct {
	tx    pgx.Tx
	write bool
}

var _ store.Tx = (*pgTx)(nil)

func (t *pgTx) checkWrite() error {
	if !t.write {
		return errReadOnly
	}
	return nil
}

// Object implements store.Tx.
func (t *pgTx) Object(ctx context.Context, key store.ObjectKey) (store.Object, error) {
	o := store.Object{ObjectKey: key}
	row := t.tx.QueryRow(ctx, sqlObject, key.Vault, string(key.Kind), asciiLower(key.Name))
	if err := scanObject(row, &o); err != nil {
		return store.Object{}, objectErr("read object", key, err)
	}
	return o, nil
}

// PutObject implements store.Tx.
func (t *pgTx) PutObject(ctx context.Context, o store.Object) error {
	if err := t.checkWrite(); err != nil {
		return objectErr("write object", o.ObjectKey, err)
	}
	_, err := t.tx.Exec(ctx, sqlPutObject, o.Vault, string(o.Kind), asciiLower(o.Name), o.Name,
		timeValue(o.Deleted), timeValue(o.PurgeAt), bytesValue(o.Meta), bytesValue(o.Sealed), timeValue(o.Updated))
	if err != nil {
		return objectErr("write object", o.ObjectKey, err)
	}
	return nil
}

// PurgeObject implements store.Tx.
func (t *pgTx) PurgeObject(ctx context.Context, key store.ObjectKey) error {
	if err := t.checkWrite(); err != nil {
		return objectErr("purge object", key, err)
	}
	vault, kind, nameKey := key.Vault, string(key.Kind), asciiLower(key.Name)
	if _, err := t.tx.Exec(ctx, sqlDeleteVersions, vault, kind, nameKey); err != nil {
		return objectErr("purge object", key, err)
	}
	tag, err := t.tx.Exec(ctx, sqlDeleteObject, vault, kind, nameKey)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return objectErr("purge object", key, err)
	}
	return nil
}

// Objects implements store.Tx.
func (t *pgTx) Objects(ctx context.Context, vault string, kind store.Kind, deleted bool, opt store.ListOptions) ([]store.Object, error) {
	if err := checkLimit(opt.Limit, 1000); err != nil {
		return nil, fmt.Errorf("postgres: list %s objects of vault %q: %w", kind, vault, err)
	}
	rows, err := t.tx.Query(ctx, sqlObjects, vault, string(kind), deleted, asciiLower(opt.After), opt.Limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: list %s objects of vault %q: %w", kind, vault, err)
	}
	defer rows.Close()
	var out []store.Object
	for rows.Next() {
		o := store.Object{ObjectKey: store.ObjectKey{Vault: vault, Kind: kind}}
		if err := scanObject(rows, &o); err != nil {
			return nil, fmt.Errorf("postgres: list %s objects of vault %q: %w", kind, vault, err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list %s objects of vault %q: %w", kind, vault, err)
	}
	return out, nil
}

// Version implements store.Tx.
func (t *pgTx) Version(ctx context.Context, key store.ObjectKey, id string) (store.Version, error) {
	v := store.Version{ObjectKey: key}
	row := t.tx.QueryRow(ctx, sqlVersion, key.Vault, string(key.Kind), asciiLower(key.Name), id)
	if err := scanVersion(row, &v); err != nil {
		return store.Version{}, versionErr("read version", key, id, err)
	}
	return v, nil
}

// LatestVersion implements store.Tx.
func (t *pgTx) LatestVersion(ctx context.Context, key store.ObjectKey) (store.Version, error) {
	v := store.Version{ObjectKey: key}
	row := t.tx.QueryRow(ctx, sqlLatestVersion, key.Vault, string(key.Kind), asciiLower(key.Name))
	if err := scanVersion(row, &v); err != nil {
		return store.Version{}, objectErr("read latest version of", key, err)
	}
	return v, nil
}

// PutVersion implements store.Tx.
func (t *pgTx) PutVersion(ctx context.Context, v store.Version) (store.Version, error) {
	if err := t.checkWrite(); err != nil {
		return store.Version{}, versionErr("write version", v.ObjectKey, v.ID, err)
	}
	vault, kind, nameKey := v.Vault, string(v.Kind), asciiLower(v.Name)
	meta, sealed := bytesValue(v.Meta), bytesValue(v.Sealed)
	out := store.Version{ObjectKey: v.ObjectKey, ID: v.ID, Meta: bytesOrNil(v.Meta), Sealed: bytesOrNil(v.Sealed)}

	// An existing version keeps its Seq and Created.
	var created pgtype.Timestamptz
	err := t.tx.QueryRow(ctx, sqlReplaceVersion, vault, kind, nameKey, v.ID, meta, sealed).Scan(&out.Name, &out.Seq, &created)
	switch {
	case err == nil:
		out.Created = fromTimestamptz(created)
		return out, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return store.Version{}, versionErr("write version", v.ObjectKey, v.ID, err)
	}

	if err := t.tx.QueryRow(ctx, sqlNextSeq, vault, kind, nameKey).Scan(&out.Name, &out.Seq); err != nil {
		return store.Version{}, versionErr("write version", v.ObjectKey, v.ID, notFound(err)) // no object row
	}
	out.Created = truncate(v.Created)
	_, err = t.tx.Exec(ctx, sqlInsertVersion, vault, kind, nameKey, v.ID, out.Name, out.Seq,
		timeValue(v.Created), meta, sealed)
	if err != nil {
		return store.Version{}, versionErr("write version", v.ObjectKey, v.ID, err)
	}
	return out, nil
}

// Versions implements store.Tx.
func (t *pgTx) Versions(ctx context.Context, key store.ObjectKey, opt store.ListOptions) ([]store.Version, error) {
	if err := checkLimit(opt.Limit, 1000); err != nil {
		return nil, objectErr("list versions of", key, err)
	}
	rows, err := t.tx.Query(ctx, sqlVersions, key.Vault, string(key.Kind), asciiLower(key.Name), opt.After, opt.Limit)
	if err != nil {
		return nil, objectErr("list versions of", key, err)
	}
	defer rows.Close()
	var out []store.Version
	for rows.Next() {
		v := store.Version{ObjectKey: key}
		if err := scanVersion(rows, &v); err != nil {
			return nil, objectErr("list versions of", key, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, objectErr("list versions of", key, err)
	}
	return out, nil
}

// scanObject reads the columns objectCols into o.
func scanObject(row pgx.Row, o *store.Object) error {
	var deleted, purgeAt, updated pgtype.Timestamptz
	if err := row.Scan(&o.Name, &deleted, &purgeAt, &o.Meta, &o.Sealed, &updated); err != nil {
		return notFound(err)
	}
	o.Deleted, o.PurgeAt, o.Updated = fromTimestamptz(deleted), fromTimestamptz(purgeAt), fromTimestamptz(updated)
	return nil
}

// scanVersion reads the columns versionCols into v.
func scanVersion(row pgx.Row, v *store.Version) error {
	var created pgtype.Timestamptz
	if err := row.Scan(&v.Name, &v.ID, &v.Seq, &created, &v.Meta, &v.Sealed); err != nil {
		return notFound(err)
	}
	v.Created = fromTimestamptz(created)
	return nil
}

// notFound turns pgx.ErrNoRows into store.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

func objectErr(what string, key store.ObjectKey, err error) error {
	return fmt.Errorf("postgres: %s %s %q in vault %q: %w", what, key.Kind, key.Name, key.Vault, err)
}

func versionErr(what string, key store.ObjectKey, id string, err error) error {
	return fmt.Errorf("postgres: %s %s of %s %q in vault %q: %w", what, id, key.Kind, key.Name, key.Vault, err)
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

// timeValue stores the zero time as NULL.
func timeValue(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// fromTimestamptz reverses timeValue, in UTC.
func fromTimestamptz(ts pgtype.Timestamptz) time.Time {
	if !ts.Valid {
		return time.Time{}
	}
	return ts.Time.UTC()
}

// truncate returns t as it reads back: UTC, whole microseconds.
func truncate(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMicro(t.UnixMicro()).UTC()
}

// bytesValue stores an empty slice as NULL.
func bytesValue(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// bytesOrNil returns a copy of b as it reads back: nil when empty.
func bytesOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}

// Get implements store.Store: one statement, outside any explicit transaction.
func (s *Store) Get(ctx context.Context, key store.ObjectKey, id string) (store.Object, store.Version, error) {
	var row pgx.Row
	if id == "" {
		row = s.pool.QueryRow(ctx, sqlGetLatest, key.Vault, string(key.Kind), asciiLower(key.Name))
	} else {
		row = s.pool.QueryRow(ctx, sqlGetVersion, key.Vault, string(key.Kind), asciiLower(key.Name), id)
	}
	o := store.Object{ObjectKey: key}
	var deleted, purgeAt, updated, created pgtype.Timestamptz
	var vid *string
	var seq *int64
	var vmeta, vsealed []byte
	if err := row.Scan(&o.Name, &deleted, &purgeAt, &o.Meta, &o.Sealed, &updated, &vid, &seq, &created, &vmeta, &vsealed); err != nil {
		return store.Object{}, store.Version{}, objectErr("read", key, notFound(err))
	}
	o.Deleted, o.PurgeAt, o.Updated = fromTimestamptz(deleted), fromTimestamptz(purgeAt), fromTimestamptz(updated)
	var v store.Version
	if vid != nil {
		v = store.Version{ObjectKey: key, ID: *vid, Seq: *seq, Created: fromTimestamptz(created), Meta: vmeta, Sealed: vsealed}
		v.Name = o.Name
	}
	return o, v, nil
}
