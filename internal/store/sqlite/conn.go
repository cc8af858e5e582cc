package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"time"
)

// conn is one database connection held for the store's lifetime, used by
// one goroutine at a time. Statements run on the driver's connection
// directly, inside sql.Conn.Raw, each prepared once per connection: for a
// point read that halves the cost of going through database/sql's Stmt and
// Rows.
//
// Contexts are checked before each statement rather than handed to the
// driver, which would start a goroutine per statement to watch a
// cancellable context; a point read finishes in microseconds. Listings
// still pass the context so that they can be interrupted.
type conn struct {
	db *sql.DB
	c  *sql.Conn // nil after a failure discarded it; run opens another

	dc     driver.Conn // set only while run's f executes
	broken bool        // set by f: discard the connection when f returns
	stmts  [numStmts]driver.Stmt
	args   []driver.NamedValue
	dest   []driver.Value
}

func newConn(ctx context.Context, db *sql.DB) (*conn, error) {
	c, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	return &conn{db: db, c: c, dest: make([]driver.Value, 0, 16)}, nil
}

// run calls f with the driver connection available to the statement
// methods. If f panics, marks the connection broken, or the driver reports
// it bad, database/sql discards the connection; the next run opens a new
// one.
func (c *conn) run(ctx context.Context, f func() error) error {
	if c.c == nil {
		sc, err := c.db.Conn(ctx)
		if err != nil {
			return err
		}
		c.c = sc
	}
	c.broken = false
	returned := false
	defer func() {
		if !returned {
			c.c = nil // f panicked; Raw has closed the connection
		}
	}()
	err := c.c.Raw(func(dc any) error {
		c.dc = dc.(driver.Conn)
		ok := false
		defer func() {
			if !ok {
				// database/sql closes the connection next: finalize its
				// statements while it is still open.
				c.closeStmts()
			}
			c.dc = nil
		}()
		err := f()
		if c.broken {
			c.broken = false
			err = errors.Join(err, driver.ErrBadConn)
		}
		ok = !errors.Is(err, driver.ErrBadConn)
		return err
	})
	returned = true
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
		_ = c.c.Close()
		c.c = nil
	}
	return err
}

func (c *conn) closeStmts() {
	for i, st := range c.stmts {
		if st != nil {
			_ = st.Close()
			c.stmts[i] = nil
		}
	}
}

// close finalizes the statements and releases the connection.
func (c *conn) close() error {
	if c.c == nil {
		return nil
	}
	err := c.c.Raw(func(dc any) error {
		c.closeStmts()
		return nil
	})
	return errors.Join(err, c.c.Close())
}

// stmt returns statement id prepared on c, preparing it on first use.
func (c *conn) stmt(id stmtID) (driver.Stmt, error) {
	if st := c.stmts[id]; st != nil {
		return st, nil
	}
	p, ok := c.dc.(driver.ConnPrepareContext)
	if !ok {
		return nil, errors.New("the driver cannot prepare statements with a context")
	}
	st, err := p.PrepareContext(context.Background(), statements[id])
	if err != nil {
		return nil, fmt.Errorf("preparing %q: %w", statements[id], err)
	}
	c.stmts[id] = st
	return st, nil
}

func (c *conn) bind(args []driver.Value) []driver.NamedValue {
	c.args = c.args[:0]
	for i, a := range args {
		c.args = append(c.args, driver.NamedValue{Ordinal: i + 1, Value: a})
	}
	return c.args
}

// exec runs a statement that returns no rows and reports how many rows it
// changed.
func (c *conn) exec(ctx context.Context, id stmtID, args ...driver.Value) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	st, err := c.stmt(id)
	if err != nil {
		return 0, err
	}
	res, err := st.(driver.StmtExecContext).ExecContext(context.Background(), c.bind(args))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// queryRow runs a statement and leaves the first row's columns in c.dest;
// it returns false when there is no row.
func (c *conn) queryRow(ctx context.Context, id stmtID, args ...driver.Value) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	found := false
	err := c.rows(context.Background(), id, args, func() error {
		found = true
		return io.EOF // one row is enough
	})
	return found, err
}

// query runs a statement and calls each with c.dest holding the columns of
// every row in turn.
func (c *conn) query(ctx context.Context, id stmtID, each func() error, args ...driver.Value) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.rows(ctx, id, args, each)
}

func (c *conn) rows(ctx context.Context, id stmtID, args []driver.Value, each func() error) (err error) {
	st, err := c.stmt(id)
	if err != nil {
		return err
	}
	rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, c.bind(args))
	if err != nil {
		return err
	}
	defer func() {
		if cerr := rows.Close(); err == nil {
			err = cerr
		}
	}()
	c.dest = c.dest[:len(rows.Columns())]
	for {
		if err := rows.Next(c.dest); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if err := each(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// The column readers below convert what the driver returns for our
// columns: string for TEXT, int64 for INTEGER, []byte for BLOB and nil for
// NULL.

func colString(v driver.Value) string {
	s, _ := v.(string)
	return s
}

func colInt(v driver.Value) int64 {
	n, _ := v.(int64)
	return n
}

// colBytes returns a copy of a BLOB (nil for NULL or empty): the driver
// interface lets a driver reuse the slices it returns.
func colBytes(v driver.Value) []byte {
	b, _ := v.([]byte)
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}

// colTime reverses timeValue: NULL is the zero time.
func colTime(v driver.Value) time.Time {
	n, ok := v.(int64)
	if !ok {
		return time.Time{}
	}
	return time.UnixMicro(n).UTC()
}

// timeValue stores t as microseconds since the Unix epoch, or NULL for the
// zero time.
func timeValue(t time.Time) driver.Value {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// bytesValue stores an empty slice as NULL.
func bytesValue(b []byte) driver.Value {
	if len(b) == 0 {
		return nil
	}
	return b
}
