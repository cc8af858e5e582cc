package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// migrations[i] brings the schema from version i to version i+1. Append to
// this list; never edit an entry that has been released.
//
// Times are INTEGER microseconds since the Unix epoch (NULL for the zero
// time where a column may be zero); name_key is the ASCII-lower-cased name
// that lookups, uniqueness and sorting use, while name keeps the case it was
// first written with. objects.next_seq is the last Seq given to a version of
// the object.
var migrations = []string{
	`CREATE TABLE objects (
		vault    TEXT NOT NULL,
		kind     TEXT NOT NULL,
		name_key TEXT NOT NULL,
		name     TEXT NOT NULL,
		deleted  INTEGER,
		purge_at INTEGER,
		meta     BLOB,
		sealed   BLOB,
		updated  INTEGER,
		next_seq INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (vault, kind, name_key)
	);
	CREATE INDEX objects_by_state ON objects (vault, kind, (deleted IS NOT NULL), name_key);
	CREATE TABLE versions (
		vault    TEXT NOT NULL,
		kind     TEXT NOT NULL,
		name_key TEXT NOT NULL,
		id       TEXT NOT NULL,
		name     TEXT NOT NULL,
		seq      INTEGER NOT NULL,
		created  INTEGER,
		meta     BLOB,
		sealed   BLOB,
		PRIMARY KEY (vault, kind, name_key, id),
		UNIQUE (vault, kind, name_key, seq),
		FOREIGN KEY (vault, kind, name_key) REFERENCES objects (vault, kind, name_key) ON DELETE CASCADE
	);
	CREATE TABLE assignments (
		id        TEXT NOT NULL PRIMARY KEY,
		vault     TEXT NOT NULL,
		principal TEXT NOT NULL,
		role_id   TEXT NOT NULL,
		scope     TEXT NOT NULL,
		created   INTEGER NOT NULL
	);
	CREATE INDEX assignments_by_vault ON assignments (vault, created, id);
	CREATE INDEX assignments_by_created ON assignments (created, id);
	CREATE TABLE audit (
		id         INTEGER PRIMARY KEY,
		time       INTEGER NOT NULL,
		vault      TEXT NOT NULL,
		principal  TEXT NOT NULL,
		app        TEXT NOT NULL,
		action     TEXT NOT NULL,
		target     TEXT NOT NULL,
		status     INTEGER NOT NULL,
		request_id TEXT NOT NULL,
		client     TEXT NOT NULL
	);
	CREATE INDEX audit_by_time ON audit (time, id);
	CREATE INDEX audit_by_vault ON audit (vault, time, id);
	CREATE TABLE blobs (
		key  TEXT NOT NULL PRIMARY KEY,
		data BLOB NOT NULL
	);`,
}

// migrate brings the database to the newest schema in one write
// transaction, and fails if the database is newer than this code.
func migrate(ctx context.Context, c *conn) (err error) {
	if _, err := c.c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	defer func() {
		if err != nil {
			_, _ = c.c.ExecContext(context.Background(), "ROLLBACK")
		}
	}()
	if _, err := c.c.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrating: creating schema_version: %w", err)
	}
	var v sql.NullInt64
	if err := c.c.QueryRowContext(ctx, `SELECT max(version) FROM schema_version`).Scan(&v); err != nil {
		return fmt.Errorf("migrating: reading schema_version: %w", err)
	}
	have := int(v.Int64)
	if have > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this program's (%d): use a newer tegata", have, len(migrations))
	}
	for i := have; i < len(migrations); i++ {
		if _, err := c.c.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migrating schema to version %d: %w", i+1, err)
		}
	}
	if have < len(migrations) {
		if _, err := c.c.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
			return fmt.Errorf("migrating: %w", err)
		}
		if _, err := c.c.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, len(migrations)); err != nil {
			return fmt.Errorf("migrating: recording schema version: %w", err)
		}
	}
	if _, err := c.c.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("migrating: commit: %w", err)
	}
	return nil
}

// stmtID names one of the prepared statements. Their parameters are plain
// '?', bound in the order they appear: the driver looks up the name of a
// numbered parameter (?1) at every execution.
type stmtID int

const (
	stBegin stmtID = iota
	stBeginImmediate
	stCommit
	stRollback

	stObject
	stPutObject
	stDeleteVersions
	stDeleteObject
	stObjectsLive
	stObjectsDeleted
	stVersion
	stLatestVersion
	stReplaceVersion
	stNextSeq
	stInsertVersion
	stVersions
	stGetLatest
	stGetVersion

	stPutAssignment
	stDeleteAssignment
	stAssignments
	stAssignmentsAll
	stAppendAudit
	stAppendAuditBatch
	stAudit
	stAuditAll
	stPutBlob
	stBlob
	stDeleteBlob
	stBlobs

	numStmts
)

// auditBatchRows is how many audit entries one INSERT of stAppendAuditBatch
// writes: a statement per row costs several times more.
const auditBatchRows = 32

const objectCols = `name, deleted, purge_at, meta, sealed, updated`
const versionCols = `name, id, seq, created, meta, sealed`

// getCols are an object's columns (objectCols) then its version's.
const getCols = `o.name, o.deleted, o.purge_at, o.meta, o.sealed, o.updated, v.id, v.seq, v.created, v.meta, v.sealed`

var statements = [numStmts]string{
	stBegin:          `BEGIN`,
	stBeginImmediate: `BEGIN IMMEDIATE`,
	stCommit:         `COMMIT`,
	stRollback:       `ROLLBACK`,

	stObject: `SELECT ` + objectCols + ` FROM objects WHERE vault = ? AND kind = ? AND name_key = ?`,
	stPutObject: `INSERT INTO objects (vault, kind, name_key, name, deleted, purge_at, meta, sealed, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (vault, kind, name_key) DO UPDATE SET
			deleted = excluded.deleted, purge_at = excluded.purge_at,
			meta = excluded.meta, sealed = excluded.sealed, updated = excluded.updated`,
	stDeleteVersions: `DELETE FROM versions WHERE vault = ? AND kind = ? AND name_key = ?`,
	stDeleteObject:   `DELETE FROM objects WHERE vault = ? AND kind = ? AND name_key = ?`,
	stObjectsLive: `SELECT ` + objectCols + ` FROM objects
		WHERE vault = ? AND kind = ? AND (deleted IS NOT NULL) = 0 AND name_key > ?
		ORDER BY name_key LIMIT ?`,
	stObjectsDeleted: `SELECT ` + objectCols + ` FROM objects
		WHERE vault = ? AND kind = ? AND (deleted IS NOT NULL) = 1 AND name_key > ?
		ORDER BY name_key LIMIT ?`,
	stVersion: `SELECT ` + versionCols + ` FROM versions
		WHERE vault = ? AND kind = ? AND name_key = ? AND id = ?`,
	stLatestVersion: `SELECT ` + versionCols + ` FROM versions
		WHERE vault = ? AND kind = ? AND name_key = ? ORDER BY seq DESC LIMIT 1`,
	stReplaceVersion: `UPDATE versions SET meta = ?, sealed = ?
		WHERE vault = ? AND kind = ? AND name_key = ? AND id = ?
		RETURNING name, seq, created`,
	stNextSeq: `UPDATE objects SET next_seq = next_seq + 1
		WHERE vault = ? AND kind = ? AND name_key = ?
		RETURNING name, next_seq`,
	stInsertVersion: `INSERT INTO versions (vault, kind, name_key, id, name, seq, created, meta, sealed)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	stVersions: `SELECT ` + versionCols + ` FROM versions
		WHERE vault = ? AND kind = ? AND name_key = ? AND id > ?
		ORDER BY id LIMIT ?`,
	stGetLatest: `SELECT ` + getCols + ` FROM objects o LEFT JOIN versions v
		ON v.vault = o.vault AND v.kind = o.kind AND v.name_key = o.name_key
		WHERE o.vault = ? AND o.kind = ? AND o.name_key = ? ORDER BY v.seq DESC LIMIT 1`,
	stGetVersion: `SELECT ` + getCols + ` FROM objects o LEFT JOIN versions v
		ON v.vault = o.vault AND v.kind = o.kind AND v.name_key = o.name_key AND v.id = ?
		WHERE o.vault = ? AND o.kind = ? AND o.name_key = ?`,

	stPutAssignment: `INSERT INTO assignments (id, vault, principal, role_id, scope, created)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
	stDeleteAssignment: `DELETE FROM assignments WHERE id = ?`,
	stAssignments: `SELECT id, vault, principal, role_id, scope, created FROM assignments
		WHERE vault = ? ORDER BY created, id`,
	stAssignmentsAll: `SELECT id, vault, principal, role_id, scope, created FROM assignments
		ORDER BY created, id`,
	stAppendAudit: `INSERT INTO audit (time, vault, principal, app, action, target, status, request_id, client)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	stAppendAuditBatch: `INSERT INTO audit (time, vault, principal, app, action, target, status, request_id, client)
		VALUES ` + strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?), ", auditBatchRows), ", "),
	stAudit: `SELECT time, vault, principal, app, action, target, status, request_id, client FROM audit
		WHERE vault = ? AND time >= ? ORDER BY time, id LIMIT ?`,
	stAuditAll: `SELECT time, vault, principal, app, action, target, status, request_id, client FROM audit
		WHERE time >= ? ORDER BY time, id LIMIT ?`,
	stPutBlob: `INSERT INTO blobs (key, data) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET data = excluded.data`,
	stBlob:       `SELECT data FROM blobs WHERE key = ?`,
	stDeleteBlob: `DELETE FROM blobs WHERE key = ?`,
	stBlobs:      `SELECT key FROM blobs WHERE key >= ? ORDER BY key`,
}
