package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// A PostgresServer is a throwaway PostgreSQL server on 127.0.0.1, with a
// data directory of its own, trust authentication for the user "postgres",
// and fsync, full_page_writes and wal_init_zero off (a crash of the machine
// may lose data; a client killed mid-transaction cannot). Its databases
// use the ICU collation en-US, so a query that sorts text without
// COLLATE "C" sorts differently from Go and SQLite, and tests notice.
//
// When the test process ends in any way (including a crash, a -timeout
// panic or SIGKILL), a watchdog process stops the server and removes its
// directory, so no server outlives the tests that started it.
type PostgresServer struct {
	// Port is the TCP port the server listens on, on 127.0.0.1 only.
	Port int

	bin        string // directory of initdb, pg_ctl
	dir        string // holds data/, the log and the Unix socket
	asPostgres bool   // run the programs as the postgres user (we are root)

	watchdog *exec.Cmd
	watchEnd *os.File // closing it (or our exit) wakes the watchdog

	databases atomic.Int64
	stopOnce  sync.Once
	stopErr   error
}

const (
	pgStartTimeout = 60 * time.Second
	pgStopTimeout  = 30 * time.Second
	pgFix          = "run `make deps` as root, or apt-get install postgresql"
)

// StartPostgres starts a server for t alone and stops it when t ends. It
// skips t with -short, and when PostgreSQL is not installed (failing it
// instead under TEGATA_REQUIRE_INTEGRATION=1). Starting takes about two
// seconds: tests that can share a server should use SharedPostgres or
// Postgres.
func StartPostgres(t testing.TB) *PostgresServer {
	t.Helper()
	bin, asPostgres := postgresPrograms(t)
	p, err := startPostgres(bin, asPostgres)
	if err != nil {
		t.Fatalf("starting PostgreSQL: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stopping PostgreSQL: %v", err)
		}
	})
	return p
}

var shared struct {
	once sync.Once
	srv  *PostgresServer
	err  error
}

// SharedPostgres returns the test binary's one shared server, starting it on
// first use. It skips or fails t like StartPostgres. The server runs until
// StopSharedPostgres, which a TestMain should call after m.Run; if that
// never happens, the watchdog stops it when the test process exits.
func SharedPostgres(t testing.TB) *PostgresServer {
	t.Helper()
	bin, asPostgres := postgresPrograms(t)
	shared.once.Do(func() { shared.srv, shared.err = startPostgres(bin, asPostgres) })
	if shared.err != nil {
		t.Fatalf("starting the shared PostgreSQL: %v", shared.err)
	}
	return shared.srv
}

// StopSharedPostgres stops the shared server if SharedPostgres started it.
func StopSharedPostgres() error {
	if shared.srv == nil {
		return nil
	}
	return shared.srv.Stop()
}

// Postgres returns the DSN of a new, empty database on the shared server,
// dropped when t ends.
func Postgres(t testing.TB) (dsn string) {
	t.Helper()
	return SharedPostgres(t).NewDatabase(t)
}

// DSN returns the connection string of a database on the server.
func (p *PostgresServer) DSN(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, database)
}

// NewDatabase creates an empty database and returns its DSN; the database
// is dropped when t ends.
func (p *PostgresServer) NewDatabase(t testing.TB) (dsn string) {
	t.Helper()
	name := fmt.Sprintf("test_%d", p.databases.Add(1))
	if err := p.admin("CREATE DATABASE " + name + " STRATEGY FILE_COPY"); err != nil {
		t.Fatalf("creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := p.admin("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("dropping database %s: %v", name, err)
		}
	})
	return p.DSN(name)
}

// admin runs one statement in the postgres database.
func (p *PostgresServer) admin(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// Stop stops the server (pg_ctl -m fast) and removes its directory. Calling
// it again does nothing.
func (p *PostgresServer) Stop() error {
	p.stopOnce.Do(func() {
		if _, err := os.Stat(filepath.Join(p.data(), "postmaster.pid")); err != nil {
			p.stopErr = p.stopWatchdog() // not running
			return
		}
		out, err := p.run(pgStopTimeout+5*time.Second, "pg_ctl", "-D", p.data(), "-m", "fast", "-w",
			"-t", strconv.Itoa(int(pgStopTimeout.Seconds())), "stop")
		if err != nil {
			p.stopErr = fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
		}
		// Wake the watchdog: it stops the server the hard way if the fast
		// stop failed, and removes the directory.
		p.stopErr = errors.Join(p.stopErr, p.stopWatchdog())
	})
	return p.stopErr
}

func (p *PostgresServer) data() string { return filepath.Join(p.dir, "data") }

// postgresPrograms finds the newest installed PostgreSQL (Debian installs
// each major version under /usr/lib/postgresql/N/bin) and whether it must
// run as the postgres user, skipping or failing t when that cannot work.
func postgresPrograms(t testing.TB) (bin string, asPostgres bool) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts PostgreSQL; skipped with -short")
	}
	bin = newestPostgres()
	if bin == "" {
		Missing(t, "PostgreSQL", pgFix)
	}
	if os.Geteuid() != 0 {
		return bin, false
	}
	// initdb refuses to run as root.
	if _, err := exec.LookPath("runuser"); err != nil {
		Missing(t, "runuser (to run PostgreSQL as the postgres user)", "apt-get install util-linux")
	}
	if _, err := user.Lookup("postgres"); err != nil {
		Missing(t, "the postgres user", pgFix)
	}
	return bin, true
}

func newestPostgres() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	best, bestVersion := "", -1
	for _, d := range dirs {
		v, err := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		if err != nil || v <= bestVersion {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			continue
		}
		best, bestVersion = d, v
	}
	return best
}

func startPostgres(bin string, asPostgres bool) (_ *PostgresServer, err error) {
	dir, err := os.MkdirTemp("", "tegata-pg-")
	if err != nil {
		return nil, err
	}
	p := &PostgresServer{bin: bin, dir: dir, asPostgres: asPostgres}
	defer func() {
		if err != nil {
			err = errors.Join(err, p.Stop())
		}
	}()
	if asPostgres {
		u, err := user.Lookup("postgres")
		if err != nil {
			return p, err
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return p, err
		}
	}
	if err := p.startWatchdog(); err != nil {
		return p, fmt.Errorf("starting the watchdog: %w", err)
	}
	out, err := p.run(pgStartTimeout, "initdb", "-D", p.data(), "-A", "trust", "-U", "postgres", "--no-sync",
		"-E", "UTF8", "--locale=C", "--locale-provider=icu", "--icu-locale=en-US")
	if err != nil {
		return p, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	// The port is free when we look, but another process may take it before
	// the server binds it: try a few.
	for attempt := 1; ; attempt++ {
		p.Port, err = freePort()
		if err != nil {
			return p, err
		}
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k '%s' -c fsync=off -c full_page_writes=off -c wal_init_zero=off", p.Port, p.dir)
		out, err := p.run(pgStartTimeout+5*time.Second, "pg_ctl", "-D", p.data(), "-l", p.log(), "-w",
			"-t", strconv.Itoa(int(pgStartTimeout.Seconds())), "-o", opts, "start")
		if err == nil {
			return p, nil
		}
		logText, _ := os.ReadFile(p.log())
		if attempt < 5 && bytes.Contains(logText, []byte("could not bind")) {
			continue
		}
		return p, fmt.Errorf("pg_ctl start on port %d: %w\n%s\nserver log:\n%s", p.Port, err, out, tail(logText, 4000))
	}
}

func (p *PostgresServer) log() string { return filepath.Join(p.dir, "postgres.log") }

// run runs one of the server's programs, as the postgres user when we are
// root, with a deadline.
func (p *PostgresServer) run(timeout time.Duration, program string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	argv := p.command(program, args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = p.dir // a directory the postgres user can enter
	cmd.Env = cleanEnv()
	cmd.WaitDelay = 5 * time.Second
	return cmd.CombinedOutput()
}

// command returns the argv that runs program.
func (p *PostgresServer) command(program string, args ...string) []string {
	argv := append([]string{filepath.Join(p.bin, program)}, args...)
	if p.asPostgres {
		argv = append([]string{"runuser", "-u", "postgres", "--"}, argv...)
	}
	return argv
}

// cleanEnv is our environment without the PG* variables, which would
// point the programs elsewhere.
func cleanEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "PG") })
}

// startWatchdog starts a shell that waits for the end of a pipe whose write
// end only this process holds: the read returns when Stop closes it or when
// the process exits, however it exits. The shell then stops the server
// (-m immediate) and removes its directory. It runs in its own process
// group, so a Ctrl-C aimed at the tests does not kill it first.
func (p *PostgresServer) startWatchdog() (err error) {
	stop := p.command("pg_ctl", "-D", p.data(), "-m", "immediate", "-w", "-t", "30", "stop")
	p.watchdog, p.watchEnd, err = startWatchdog(`read -r _; [ -f "$WATCH_DIR/data/postmaster.pid" ] && "$@" >/dev/null 2>&1; rm -rf -- "$WATCH_DIR"`,
		append(cleanEnv(), "WATCH_DIR="+p.dir), stop...)
	return err
}

func (p *PostgresServer) stopWatchdog() error {
	if p.watchdog == nil {
		return os.RemoveAll(p.dir)
	}
	p.watchEnd.Close()
	done := make(chan error, 1)
	go func() { done <- p.watchdog.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("watchdog: %w", err)
		}
		return nil
	case <-time.After(pgStopTimeout + 10*time.Second):
		_ = p.watchdog.Process.Kill()
		return errors.New("the watchdog did not finish stopping PostgreSQL in time")
	}
}

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// Dump returns pg_dump's plain SQL dump of the database that dsn names, with
// bytea columns in hex, as an operator's backup would hold them.
func (p *PostgresServer) Dump(t testing.TB, dsn string) []byte {
	t.Helper()
	out, err := p.run(60*time.Second, "pg_dump", "--dbname", dsn, "--no-owner")
	if err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, tail(out, 2000))
	}
	return out
}
