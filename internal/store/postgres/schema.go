package postgres

// migrations[i] brings the schema from version i to version i+1. Append to
// this list; never edit an entry that has been released.
//
// Zero times are NULL; name_key is the ASCII-lower-cased name that lookups,
// uniqueness and sorting use, while name keeps the case it was first
// written with; objects.next_seq is the last Seq given to a version of the
// object. Key columns are COLLATE "C" so that they sort by bytes, as Go and
// SQLite do, whatever the database's default collation.
var migrations = []string{
	`CREATE TABLE objects (
		vault    text COLLATE "C" NOT NULL,
		kind     text COLLATE "C" NOT NULL,
		name_key text COLLATE "C" NOT NULL,
		name     text NOT NULL,
		deleted  timestamptz,
		purge_at timestamptz,
		meta     bytea,
		sealed   bytea,
		updated  timestamptz,
		next_seq bigint NOT NULL DEFAULT 0,
		PRIMARY KEY (vault, kind, name_key)
	);
	CREATE INDEX objects_by_state ON objects (vault, kind, (deleted IS NOT NULL), name_key);
	CREATE TABLE versions (
		vault    text COLLATE "C" NOT NULL,
		kind     text COLLATE "C" NOT NULL,
		name_key text COLLATE "C" NOT NULL,
		id       text COLLATE "C" NOT NULL,
		name     text NOT NULL,
		seq      bigint NOT NULL,
		created  timestamptz,
		meta     bytea,
		sealed   bytea,
		PRIMARY KEY (vault, kind, name_key, id),
		UNIQUE (vault, kind, name_key, seq),
		FOREIGN KEY (vault, kind, name_key) REFERENCES objects (vault, kind, name_key) ON DELETE CASCADE
	);
	CREATE TABLE assignments (
		id        text COLLATE "C" PRIMARY KEY,
		vault     text COLLATE "C" NOT NULL,
		principal text NOT NULL,
		role_id   text NOT NULL,
		scope     text NOT NULL,
		created   timestamptz NOT NULL
	);
	CREATE INDEX assignments_by_vault ON assignments (vault, created, id);
	CREATE INDEX assignments_by_created ON assignments (created, id);
	CREATE TABLE audit (
		id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		time       timestamptz NOT NULL,
		vault      text COLLATE "C" NOT NULL,
		principal  text NOT NULL,
		app        text NOT NULL,
		action     text NOT NULL,
		target     text NOT NULL,
		status     integer NOT NULL,
		request_id text NOT NULL,
		client     text NOT NULL
	);
	CREATE INDEX audit_by_time ON audit (time, id);
	CREATE INDEX audit_by_vault ON audit (vault, time, id);
	CREATE TABLE blobs (
		key  text COLLATE "C" PRIMARY KEY,
		data bytea NOT NULL
	);`,
}

const objectCols = `name, deleted, purge_at, meta, sealed, updated`
const versionCols = `name, id, seq, created, meta, sealed`

// getCols are an object's columns (objectCols) then its version's.
const getCols = `o.name, o.deleted, o.purge_at, o.meta, o.sealed, o.updated, v.id, v.seq, v.created, v.meta, v.sealed`

const (
	sqlGetLatest = `SELECT ` + getCols + ` FROM objects o LEFT JOIN versions v
		ON v.vault = o.vault AND v.kind = o.kind AND v.name_key = o.name_key
		WHERE o.vault = $1 AND o.kind = $2 AND o.name_key = $3 ORDER BY v.seq DESC NULLS LAST LIMIT 1`
	sqlGetVersion = `SELECT ` + getCols + ` FROM objects o LEFT JOIN versions v
		ON v.vault = o.vault AND v.kind = o.kind AND v.name_key = o.name_key AND v.id = $4
		WHERE o.vault = $1 AND o.kind = $2 AND o.name_key = $3`
)

const (
	sqlObject    = `SELECT ` + objectCols + ` FROM objects WHERE vault = $1 AND kind = $2 AND name_key = $3`
	sqlPutObject = `INSERT INTO objects (vault, kind, name_key, name, deleted, purge_at, meta, sealed, updated)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (vault, kind, name_key) DO UPDATE SET
			deleted = excluded.deleted, purge_at = excluded.purge_at,
			meta = excluded.meta, sealed = excluded.sealed, updated = excluded.updated`
	sqlDeleteVersions = `DELETE FROM versions WHERE vault = $1 AND kind = $2 AND name_key = $3`
	sqlDeleteObject   = `DELETE FROM objects WHERE vault = $1 AND kind = $2 AND name_key = $3`
	sqlObjects        = `SELECT ` + objectCols + ` FROM objects
		WHERE vault = $1 AND kind = $2 AND (deleted IS NOT NULL) = $3 AND name_key > $4
		ORDER BY name_key LIMIT $5`
	sqlVersion = `SELECT ` + versionCols + ` FROM versions
		WHERE vault = $1 AND kind = $2 AND name_key = $3 AND id = $4`
	sqlLatestVersion = `SELECT ` + versionCols + ` FROM versions
		WHERE vault = $1 AND kind = $2 AND name_key = $3 ORDER BY seq DESC LIMIT 1`
	sqlReplaceVersion = `UPDATE versions SET meta = $5, sealed = $6
		WHERE vault = $1 AND kind = $2 AND name_key = $3 AND id = $4
		RETURNING name, seq, created`
	// The row lock this UPDATE takes also serialises PutVersions of one
	// object that do not hold the write lock.
	sqlNextSeq = `UPDATE objects SET next_seq = next_seq + 1
		WHERE vault = $1 AND kind = $2 AND name_key = $3
		RETURNING name, next_seq`
	sqlInsertVersion = `INSERT INTO versions (vault, kind, name_key, id, name, seq, created, meta, sealed)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	sqlVersions = `SELECT ` + versionCols + ` FROM versions
		WHERE vault = $1 AND kind = $2 AND name_key = $3 AND id > $4
		ORDER BY id LIMIT $5`

	sqlPutAssignment = `INSERT INTO assignments (id, vault, principal, role_id, scope, created)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`
	sqlDeleteAssignment = `DELETE FROM assignments WHERE id = $1`
	sqlAssignments      = `SELECT id, vault, principal, role_id, scope, created FROM assignments
		WHERE vault = $1 ORDER BY created, id`
	sqlAssignmentsAll = `SELECT id, vault, principal, role_id, scope, created FROM assignments
		ORDER BY created, id`
	sqlAppendAudit = `INSERT INTO audit (time, vault, principal, app, action, target, status, request_id, client)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	sqlAudit = `SELECT time, vault, principal, app, action, target, status, request_id, client FROM audit
		WHERE vault = $1 AND time >= $2 ORDER BY time, id LIMIT $3`
	sqlAuditAll = `SELECT time, vault, principal, app, action, target, status, request_id, client FROM audit
		WHERE time >= $1 ORDER BY time, id LIMIT $2`
	sqlPutBlob = `INSERT INTO blobs (key, data) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET data = excluded.data`
	sqlBlob       = `SELECT data FROM blobs WHERE key = $1`
	sqlDeleteBlob = `DELETE FROM blobs WHERE key = $1`
	// The index scan starts at the prefix; starts_with keeps the keys that
	// have it.
	sqlBlobs = `SELECT key FROM blobs WHERE key >= $1 AND starts_with(key, $1) ORDER BY key`
)
