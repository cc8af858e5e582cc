package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tegata-project/tegata/internal/store"
)

// PutAssignment implements store.Store.
func (s *Store) PutAssignment(ctx context.Context, a store.Assignment) error {
	tag, err := s.pool.Exec(ctx, sqlPutAssignment, a.ID, a.Vault, a.Principal, a.RoleID, a.Scope, a.Created)
	if err == nil && tag.RowsAffected() == 0 {
		err = fmt.Errorf("the ID exists: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: put assignment %s: %w", a.ID, err)
	}
	return nil
}

// DeleteAssignment implements store.Store.
func (s *Store) DeleteAssignment(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, sqlDeleteAssignment, id)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("postgres: delete assignment %s: %w", id, err)
	}
	return nil
}

// Assignments implements store.Store.
func (s *Store) Assignments(ctx context.Context, vault string) ([]store.Assignment, error) {
	var rows pgx.Rows
	var err error
	if vault == "" {
		rows, err = s.pool.Query(ctx, sqlAssignmentsAll)
	} else {
		rows, err = s.pool.Query(ctx, sqlAssignments, vault)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: list assignments of vault %q: %w", vault, err)
	}
	defer rows.Close()
	var out []store.Assignment
	for rows.Next() {
		var a store.Assignment
		if err := rows.Scan(&a.ID, &a.Vault, &a.Principal, &a.RoleID, &a.Scope, &a.Created); err != nil {
			return nil, fmt.Errorf("postgres: list assignments of vault %q: %w", vault, err)
		}
		a.Created = a.Created.UTC()
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list assignments of vault %q: %w", vault, err)
	}
	return out, nil
}

// AppendAudit implements store.Store.
func (s *Store) AppendAudit(ctx context.Context, entries []store.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var b pgx.Batch
		for _, e := range entries {
			b.Queue(sqlAppendAudit, e.Time, e.Vault, e.Principal, e.App, e.Action, e.Target, e.Status, e.RequestID, e.Client)
		}
		return tx.SendBatch(ctx, &b).Close()
	})
	if err != nil {
		return fmt.Errorf("postgres: append %d audit entries: %w", len(entries), err)
	}
	return nil
}

// Audit implements store.Store.
func (s *Store) Audit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	if err := checkLimit(q.Limit, 10000); err != nil {
		return nil, fmt.Errorf("postgres: read audit: %w", err)
	}
	var rows pgx.Rows
	var err error
	if q.Vault == "" {
		rows, err = s.pool.Query(ctx, sqlAuditAll, q.Since, q.Limit)
	} else {
		rows, err = s.pool.Query(ctx, sqlAudit, q.Vault, q.Since, q.Limit)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: read audit of vault %q: %w", q.Vault, err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		var t time.Time
		if err := rows.Scan(&t, &e.Vault, &e.Principal, &e.App, &e.Action, &e.Target, &e.Status, &e.RequestID, &e.Client); err != nil {
			return nil, fmt.Errorf("postgres: read audit of vault %q: %w", q.Vault, err)
		}
		e.Time = t.UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: read audit of vault %q: %w", q.Vault, err)
	}
	return out, nil
}

// PutBlob implements store.Store.
func (s *Store) PutBlob(ctx context.Context, key string, data []byte) error {
	if data == nil {
		data = []byte{} // the column is NOT NULL
	}
	if _, err := s.pool.Exec(ctx, sqlPutBlob, key, data); err != nil {
		return fmt.Errorf("postgres: put blob %s: %w", key, err)
	}
	return nil
}

// Blob implements store.Store.
func (s *Store) Blob(ctx context.Context, key string) ([]byte, error) {
	var data []byte
	if err := s.pool.QueryRow(ctx, sqlBlob, key).Scan(&data); err != nil {
		return nil, fmt.Errorf("postgres: read blob %s: %w", key, notFound(err))
	}
	return data, nil
}

// DeleteBlob implements store.Store.
func (s *Store) DeleteBlob(ctx context.Context, key string) error {
	tag, err := s.pool.Exec(ctx, sqlDeleteBlob, key)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("postgres: delete blob %s: %w", key, err)
	}
	return nil
}

// Blobs implements store.Store.
func (s *Store) Blobs(ctx context.Context, prefix string) ([]string, error) {
	rows, err := s.pool.Query(ctx, sqlBlobs, prefix)
	if err != nil {
		return nil, fmt.Errorf("postgres: list blobs under %q: %w", prefix, err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: list blobs under %q: %w", prefix, err)
	}
	return keys, nil
}
