package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tegata-project/tegata/internal/store"
	"github.com/tegata-project/tegata/internal/store/postgres"
	"github.com/tegata-project/tegata/internal/store/storetest"
	"github.com/tegata-project/tegata/internal/testenv"
)

// TestMain stops the shared server the tests start (the testenv watchdog
// would also stop it when the process exits).
func TestMain(m *testing.M) {
	code := m.Run()
	if err := testenv.StopSharedPostgres(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func open(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// TestStore runs the shared suite, each case on a new database.
func TestStore(t *testing.T) {
	testenv.SharedPostgres(t) // skip once, not in every case, without PostgreSQL
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, testenv.Postgres(t))
	})
}

// TestReplicas opens several Stores on one database at once, as replicas
// starting together do, then writes through all of them: the migrations
// run once, and Updates from different pools are serialised.
func TestReplicas(t *testing.T) {
	dsn := testenv.Postgres(t)
	const replicas = 4
	stores := make([]store.Store, replicas)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			s, err := postgres.Open(ctx, dsn)
			if err != nil {
				t.Errorf("Open of replica %d: %v", i, err)
				return
			}
			stores[i] = s
		})
	}
	wg.Wait()
	for _, s := range stores {
		if s != nil {
			t.Cleanup(func() { s.Close() })
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	var rows, version int
	query(t, dsn, `SELECT count(*), max(version) FROM schema_version`, &rows, &version)
	if rows != 1 || version < 1 {
		t.Errorf("schema_version has %d rows, version %d; want one row", rows, version)
	}

	storetest.ConcurrentUpdates(t, stores...)
}

// TestReopen checks that a committed write is visible to a new Store, and
// that opening an up-to-date database changes nothing.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	s := open(t, dsn)
	k := store.ObjectKey{Vault: "v", Kind: store.KindSecret, Name: "Kept"}
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutObject(ctx, store.Object{ObjectKey: k, Meta: []byte("meta")}); err != nil {
			return err
		}
		_, err := tx.PutVersion(ctx, store.Version{ObjectKey: k, ID: strings.Repeat("a", 32), Sealed: []byte("sealed")})
		return err
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dsn)
	var v store.Version
	err = s.View(ctx, func(tx store.Tx) error {
		var err error
		v, err = tx.LatestVersion(ctx, k)
		return err
	})
	if err != nil || string(v.Sealed) != "sealed" || v.Name != "Kept" {
		t.Errorf("after reopen, LatestVersion = %q %q, %v; want Kept, sealed", v.Name, v.Sealed, err)
	}
}

// TestNewerSchema checks that a database migrated by a newer tegata is
// refused.
func TestNewerSchema(t *testing.T) {
	dsn := testenv.Postgres(t)
	open(t, dsn)
	exec(t, dsn, `UPDATE schema_version SET version = version + 1`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if s, err := postgres.Open(ctx, dsn); err == nil {
		s.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	} else if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open error %q does not say the schema is newer", err)
	}
}

// TestOpenErrorHidesPassword checks that a failed Open does not repeat the
// password of the DSN.
func TestOpenErrorHidesPassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Port 1 on loopback refuses connections at once.
	s, err := postgres.Open(ctx, "postgres://tegata:s3cret-pw@127.0.0.1:1/tegata?sslmode=disable&connect_timeout=5")
	if err == nil {
		s.Close()
		t.Fatal("Open of an unreachable server succeeded")
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("Open error shows the password: %v", err)
	}
	if !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("Open error %q does not say which server failed", err)
	}
}

func query(t *testing.T, dsn, sql string, dest ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, sql).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func exec(t *testing.T, dsn, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// benchStore opens a store on a new database (skipped with -short, like
// every test that starts PostgreSQL).
func benchStore(b *testing.B) *postgres.Store { return open(b, testenv.Postgres(b)) }

func BenchmarkLatestVersion(b *testing.B) { storetest.BenchLatestVersion(b, benchStore(b)) }

func BenchmarkVersion(b *testing.B) { storetest.BenchVersion(b, benchStore(b)) }

func BenchmarkObject(b *testing.B) { storetest.BenchObject(b, benchStore(b)) }
