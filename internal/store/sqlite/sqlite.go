// Package sqlite implements store.Store on one SQLite database file, through
// the pure-Go driver modernc.org/sqlite (no cgo).
//
// The file is opened in WAL mode with synchronous=FULL, so a transaction that
// Update has acknowledged survives a crash. Writes go through a single
// connection, one transaction at a time (BEGIN IMMEDIATE), which serialises
// them: a read-then-write inside Update is safe. Reads use a separate pool of
// read-only (query_only) connections, each with its statements prepared once,
// and never wait for a writer.
//
// Names compare case-insensitively through a stored ASCII-lower-cased key;
// times are stored as microseconds since the Unix epoch, so they round-trip
// truncated to the microsecond, in UTC. A Meta or Sealed of length zero reads
// back as nil.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/tegata-project/tegata/internal/store"
)

// ErrClosed is returned (wrapped) by every method called after Close.
var ErrClosed = errors.New("sqlite: store is closed")

// Store is a store.Store on a SQLite file. Open returns one; it is safe for
// concurrent use.
type Store struct {
	path string

	writeDB *sql.DB
	readDB  *sql.DB

	// writer holds the one write connection while it is free; readers hold
	// the free read connections. Taking a connection from the channel is the
	// lock that serialises writers.
	writer  chan *conn
	readers chan *conn
	nread   int // read connections created

	done      chan struct{} // closed by Close
	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the SQLite database at path and applies
// the schema migrations this version knows. A new file is created with mode
// 0600, and its directory with mode 0700 when missing; the mode of an
// existing file is left as it is. Open fails when the file was written by a
// newer version of tegata (its schema version is unknown).
func Open(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: creating its directory: %w", abs, err)
	}
	// SQLite would create the file with mode 0644; create it first. Its WAL
	// and shared-memory files take the database file's mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err) // says "open PATH: ..."
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}

	s := &Store{path: abs, done: make(chan struct{})}
	if err := s.open(); err != nil {
		s.closeAll()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	return s, nil
}

// dsn returns the driver's name for the file with the given query
// parameters. The path is escaped so that '?', '#' and '%' in a directory
// name cannot be read as part of the query; SQLite decodes the escapes.
func dsn(path, params string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + params
}

const (
	commonParams = "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)"
	writeParams  = "_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&" + commonParams + "&_txlock=immediate"
	readParams   = commonParams + "&_pragma=query_only(1)"
)

func (s *Store) open() error {
	ctx := context.Background()
	var err error

	s.writeDB, err = sql.Open("sqlite", dsn(s.path, writeParams))
	if err != nil {
		return err
	}
	s.writeDB.SetMaxOpenConns(1)
	s.writeDB.SetMaxIdleConns(1)
	s.writeDB.SetConnMaxLifetime(0)
	s.writeDB.SetConnMaxIdleTime(0)
	w, err := newConn(ctx, s.writeDB)
	if err != nil {
		return err
	}
	if err := migrate(ctx, w); err != nil {
		w.close()
		return err
	}
	s.writer = make(chan *conn, 1)
	s.writer <- w

	n := max(4, 2*runtime.GOMAXPROCS(0))
	s.readDB, err = sql.Open("sqlite", dsn(s.path, readParams))
	if err != nil {
		return err
	}
	s.readDB.SetMaxOpenConns(n)
	s.readDB.SetMaxIdleConns(n)
	s.readDB.SetConnMaxLifetime(0)
	s.readDB.SetConnMaxIdleTime(0)
	s.readers = make(chan *conn, n)
	for range n {
		r, err := newConn(ctx, s.readDB)
		if err != nil {
			return err
		}
		s.readers <- r
		s.nread++ // closeAll takes back this many
	}
	return nil
}

// Close waits for the calls in progress to finish, then closes the
// database. Calls made after Close fail with ErrClosed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.closeErr = s.closeAll()
	})
	return s.closeErr
}

func (s *Store) closeAll() error {
	var errs []error
	if s.readers != nil {
		for range s.nread {
			if err := (<-s.readers).close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if s.writer != nil {
		if err := (<-s.writer).close(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, db := range []*sql.DB{s.readDB, s.writeDB} {
		if db != nil {
			if err := db.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close %s: %w", s.path, err)
	}
	return nil
}

// acquire takes a connection from pool, waiting until one is free, ctx ends
// or the store is closed.
func (s *Store) acquire(ctx context.Context, pool chan *conn) (*conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case c := <-pool:
		return s.checkOpen(pool, c)
	default:
	}
	select {
	case c := <-pool:
		return s.checkOpen(pool, c)
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.done:
		return nil, ErrClosed
	}
}

func (s *Store) checkOpen(pool chan *conn, c *conn) (*conn, error) {
	select {
	case <-s.done:
		pool <- c
		return nil, ErrClosed
	default:
		return c, nil
	}
}

// Update runs fn in a read-write transaction on the single write
// connection; see store.Store. If fn panics, the transaction is rolled back
// and the panic continues. The Tx must not be used after fn returns, and fn
// must not call Update (it would wait for itself).
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	c, err := s.acquire(ctx, s.writer)
	if err != nil {
		return fmt.Errorf("sqlite: update: %w", err)
	}
	defer func() { s.writer <- c }()
	t := &tx{c: c, write: true}
	return c.inTx(ctx, "update", stBeginImmediate, func() error { return fn(t) })
}

// View runs fn in a read-only transaction on one of the read connections:
// every read in fn sees the same snapshot. Writes in fn fail.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	c, err := s.acquire(ctx, s.readers)
	if err != nil {
		return fmt.Errorf("sqlite: view: %w", err)
	}
	defer func() { s.readers <- c }()
	t := &tx{c: c}
	return c.inTx(ctx, "view", stBegin, func() error { return fn(t) })
}

// write runs fn as one write transaction outside Update (assignments, audit,
// blobs).
func (s *Store) write(ctx context.Context, what string, fn func(c *conn) error) error {
	c, err := s.acquire(ctx, s.writer)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	defer func() { s.writer <- c }()
	return c.inTx(ctx, what, stBeginImmediate, func() error { return fn(c) })
}

// read runs fn on a read connection, outside any explicit transaction.
func (s *Store) read(ctx context.Context, what string, fn func(c *conn) error) error {
	c, err := s.acquire(ctx, s.readers)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	defer func() { s.readers <- c }()
	var ferr error
	if err := c.run(ctx, func() error { ferr = fn(c); return ferr }); err != nil && ferr == nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return ferr
}

// inTx runs fn between begin and COMMIT, rolling back when fn fails or
// panics. fn's own error is returned as it is; the others say what failed.
func (c *conn) inTx(ctx context.Context, what string, begin stmtID, fn func() error) error {
	var ferr error
	stage := "connecting"
	err := c.run(ctx, func() error {
		stage = "begin transaction"
		if _, err := c.exec(ctx, begin); err != nil {
			// The connection may be in a state we do not know (a
			// transaction left open): start the next call on a new one.
			c.broken = ctx.Err() == nil
			return err
		}
		done := false
		defer func() {
			if !done { // also when fn panicked
				if _, err := c.exec(context.Background(), stRollback); err != nil {
					c.broken = true
				}
			}
		}()
		if ferr = fn(); ferr != nil {
			return ferr
		}
		stage = "commit"
		if _, err := c.exec(context.Background(), stCommit); err != nil {
			return err
		}
		done = true
		return nil
	})
	if ferr != nil {
		return ferr
	}
	if err != nil {
		return fmt.Errorf("sqlite: %s: %s: %w", what, stage, err)
	}
	return nil
}
