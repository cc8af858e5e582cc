// Package postgres implements store.Store on PostgreSQL (pgx and its pool),
// for deployments that run several replicas against one database.
//
// Open applies the schema migrations under a session advisory lock, so
// replicas may start together. Update takes a transaction-level advisory
// lock that every Update of every replica shares before it runs fn: writes
// through Update are serialised across processes, and fn's reads see the
// latest committed state (read-then-write is safe). View runs in a
// read-only REPEATABLE READ transaction, so its reads share one snapshot.
//
// The tables live in the first schema of the connection's search_path.
// Names compare case-insensitively through a stored ASCII-lower-cased key;
// keys and IDs sort by bytes (COLLATE "C"), whatever the database's
// collation. Times are timestamptz, which keeps microseconds: they read
// back truncated to the microsecond, in UTC. A Meta or Sealed of length
// zero reads back as nil.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tegata-project/tegata/internal/store"
)

// Advisory lock keys, per database. The values spell "tegata" and a
// number, to stay clear of other applications' keys.
const (
	migrateLockKey int64 = 0x7465676174610001
	writeLockKey   int64 = 0x7465676174610002
)

// rollbackTimeout bounds the rollback of a failed transaction, which runs
// even when the caller's context has ended.
const rollbackTimeout = 10 * time.Second

// Store is a store.Store on a PostgreSQL database. Open returns one; it is
// safe for concurrent use, also with other Stores (in other processes) on
// the same database.
type Store struct {
	pool *pgxpool.Pool
	name string // host and database, for errors; never the password
}

var _ store.Store = (*Store)(nil)

// Open connects to the database named by dsn (a URL or key=value string as
// pgx accepts, including pool settings such as pool_max_conns) and applies
// the schema migrations this version knows. Open fails when the database
// was migrated by a newer version of tegata. ctx bounds the connection and
// the wait for other replicas' migrations.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	name := fmt.Sprintf("database %q on %s:%d", cfg.ConnConfig.Database, cfg.ConnConfig.Host, cfg.ConnConfig.Port)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open %s: %w", name, err)
	}
	s := &Store{pool: pool, name: name}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", name, err)
	}
	return s, nil
}

// Close closes the pool, waiting for connections in use to be released.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// migrate brings the schema to the newest version, holding a session
// advisory lock so that replicas starting together migrate one at a time.
func (s *Store) migrate(ctx context.Context) (err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrateLockKey); err != nil {
		return fmt.Errorf("waiting for the migration lock: %w", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.Background(), rollbackTimeout)
		defer cancel()
		if _, uerr := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", migrateLockKey); uerr != nil {
			// Ending the session releases the lock.
			_ = conn.Conn().Close(uctx)
		}
	}()

	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)`); err != nil {
			return fmt.Errorf("creating schema_version: %w", err)
		}
		var have *int32
		if err := tx.QueryRow(ctx, `SELECT max(version) FROM schema_version`).Scan(&have); err != nil {
			return fmt.Errorf("reading schema_version: %w", err)
		}
		v := 0
		if have != nil {
			v = int(*have)
		}
		if v > len(migrations) {
			return fmt.Errorf("database schema version %d is newer than this program's (%d): use a newer tegata", v, len(migrations))
		}
		if v == len(migrations) {
			return nil
		}
		for i := v; i < len(migrations); i++ {
			if _, err := tx.Exec(ctx, migrations[i]); err != nil {
				return fmt.Errorf("migrating schema to version %d: %w", i+1, err)
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM schema_version`); err != nil {
			return fmt.Errorf("recording schema version: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, len(migrations)); err != nil {
			return fmt.Errorf("recording schema version: %w", err)
		}
		return nil
	})
}

// Update runs fn in a READ COMMITTED transaction that first takes the
// store-wide write lock (pg_advisory_xact_lock), so Updates from every
// process run one at a time and each statement of fn sees what the
// previous Updates committed. The isolation level matters: under
// REPEATABLE READ the snapshot would be taken before the lock was granted
// and fn could miss the write it waited for.
//
// If fn panics, the transaction is rolled back and the panic continues.
// The Tx must not be used after fn returns, and fn must not call Update.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.inTx(ctx, "update", pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, true, func(tx pgx.Tx) error {
		return fn(&pgTx{tx: tx, write: true})
	})
}

// View runs fn in a read-only REPEATABLE READ transaction: every read in
// fn sees the same snapshot. Writes in fn fail.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	return s.inTx(ctx, "view", opts, false, func(tx pgx.Tx) error {
		return fn(&pgTx{tx: tx})
	})
}

// inTx runs fn in a transaction, taking the write lock first when lock is
// set. fn's own error is returned as it is; the others say what failed.
func (s *Store) inTx(ctx context.Context, what string, opts pgx.TxOptions, lock bool, fn func(pgx.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("postgres: %s: begin transaction: %w", what, err)
	}
	done := false
	defer func() {
		if !done { // also when fn panicked
			rctx, cancel := context.WithTimeout(context.Background(), rollbackTimeout)
			defer cancel()
			_ = tx.Rollback(rctx)
		}
	}()
	if lock {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", writeLockKey); err != nil {
			return fmt.Errorf("postgres: %s: waiting for the write lock: %w", what, err)
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: %s: commit: %w", what, err)
	}
	done = true
	return nil
}

// errReadOnly is returned by the write methods of a View's Tx (PostgreSQL
// would refuse the write in a read-only transaction anyway).
var errReadOnly = errors.New("write in a read-only View transaction")
