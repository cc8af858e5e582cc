package sqlite

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"strings"

	"github.com/tegata-project/tegata/internal/store"
)

// PutAssignment implements store.Store.
func (s *Store) PutAssignment(ctx context.Context, a store.Assignment) error {
	return s.write(ctx, "put assignment "+a.ID, func(c *conn) error {
		n, err := c.exec(ctx, stPutAssignment, a.ID, a.Vault, a.Principal, a.RoleID, a.Scope, a.Created.UnixMicro())
		if err == nil && n == 0 {
			err = fmt.Errorf("the ID exists: %w", store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("sqlite: put assignment %s: %w", a.ID, err)
		}
		return nil
	})
}

// DeleteAssignment implements store.Store.
func (s *Store) DeleteAssignment(ctx context.Context, id string) error {
	return s.write(ctx, "delete assignment "+id, func(c *conn) error {
		n, err := c.exec(ctx, stDeleteAssignment, id)
		if err == nil && n == 0 {
			err = store.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("sqlite: delete assignment %s: %w", id, err)
		}
		return nil
	})
}

// Assignments implements store.Store.
func (s *Store) Assignments(ctx context.Context, vault string) ([]store.Assignment, error) {
	var out []store.Assignment
	err := s.read(ctx, "list assignments", func(c *conn) error {
		each := func() error {
			d := c.dest
			out = append(out, store.Assignment{
				ID: colString(d[0]), Vault: colString(d[1]), Principal: colString(d[2]),
				RoleID: colString(d[3]), Scope: colString(d[4]), Created: colTime(d[5]),
			})
			return nil
		}
		if vault == "" {
			return c.query(ctx, stAssignmentsAll, each)
		}
		return c.query(ctx, stAssignments, each, vault)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list assignments of vault %q: %w", vault, err)
	}
	return out, nil
}

// AppendAudit implements store.Store.
func (s *Store) AppendAudit(ctx context.Context, entries []store.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	return s.write(ctx, "append audit", func(c *conn) error {
		args := make([]driver.Value, 0, 9*auditBatchRows)
		for len(entries) > 0 {
			id, n := stAppendAuditBatch, auditBatchRows
			if len(entries) < auditBatchRows {
				id, n = stAppendAudit, 1
			}
			args = args[:0]
			for _, e := range entries[:n] {
				args = append(args, e.Time.UnixMicro(), e.Vault, e.Principal, e.App,
					e.Action, e.Target, int64(e.Status), e.RequestID, e.Client)
			}
			if _, err := c.exec(ctx, id, args...); err != nil {
				return fmt.Errorf("sqlite: append %d audit entries: %w", len(entries), err)
			}
			entries = entries[n:]
		}
		return nil
	})
}

// Audit implements store.Store.
func (s *Store) Audit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	if err := checkLimit(q.Limit, 10000); err != nil {
		return nil, fmt.Errorf("sqlite: read audit: %w", err)
	}
	var out []store.AuditEntry
	err := s.read(ctx, "read audit", func(c *conn) error {
		each := func() error {
			d := c.dest
			out = append(out, store.AuditEntry{
				Time: colTime(d[0]), Vault: colString(d[1]), Principal: colString(d[2]), App: colString(d[3]),
				Action: colString(d[4]), Target: colString(d[5]), Status: int(colInt(d[6])),
				RequestID: colString(d[7]), Client: colString(d[8]),
			})
			return nil
		}
		if q.Vault == "" {
			return c.query(ctx, stAuditAll, each, q.Since.UnixMicro(), int64(q.Limit))
		}
		return c.query(ctx, stAudit, each, q.Vault, q.Since.UnixMicro(), int64(q.Limit))
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: read audit of vault %q: %w", q.Vault, err)
	}
	return out, nil
}

// PutBlob implements store.Store.
func (s *Store) PutBlob(ctx context.Context, key string, data []byte) error {
	if data == nil {
		data = []byte{} // the column is NOT NULL
	}
	return s.write(ctx, "put blob "+key, func(c *conn) error {
		if _, err := c.exec(ctx, stPutBlob, key, data); err != nil {
			return fmt.Errorf("sqlite: put blob %s: %w", key, err)
		}
		return nil
	})
}

// Blob implements store.Store.
func (s *Store) Blob(ctx context.Context, key string) ([]byte, error) {
	var data []byte
	err := s.read(ctx, "read blob "+key, func(c *conn) error {
		found, err := c.queryRow(ctx, stBlob, key)
		if err == nil && !found {
			err = store.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("sqlite: read blob %s: %w", key, err)
		}
		data = colBytes(c.dest[0])
		if data == nil {
			data = []byte{}
		}
		return nil
	})
	return data, err
}

// DeleteBlob implements store.Store.
func (s *Store) DeleteBlob(ctx context.Context, key string) error {
	return s.write(ctx, "delete blob "+key, func(c *conn) error {
		n, err := c.exec(ctx, stDeleteBlob, key)
		if err == nil && n == 0 {
			err = store.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("sqlite: delete blob %s: %w", key, err)
		}
		return nil
	})
}

// Blobs implements store.Store.
func (s *Store) Blobs(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	err := s.read(ctx, "list blobs", func(c *conn) error {
		// The keys with the prefix are a contiguous run from the prefix on,
		// in byte order (SQLite's BINARY collation).
		return c.query(ctx, stBlobs, func() error {
			k := colString(c.dest[0])
			if !strings.HasPrefix(k, prefix) {
				return io.EOF
			}
			out = append(out, k)
			return nil
		}, prefix)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list blobs under %q: %w", prefix, err)
	}
	return out, nil
}
