package vault_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"testing"

	"github.com/tegata-project/tegata/internal/store"
	"github.com/tegata-project/tegata/internal/store/postgres"
	"github.com/tegata-project/tegata/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := testenv.StopSharedPostgres(); err != nil {
		code = 1
	}
	os.Exit(code)
}

// postgresStore opens a fresh database on the shared test server; the second
// result is its DSN.
func postgresStore(t testing.TB) (store.Store, string) {
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	st, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	return st, dsn
}

// TestSecretsWithSDKPostgres is the azsecrets life cycle on PostgreSQL.
func TestSecretsWithSDKPostgres(t *testing.T) {
	testSecretsWithSDK(t, harnessOptions{store: postgresStore, noCache: true})
}

// TestAtRestPostgres: a pg_dump of the vault's database holds no secret value and
// no private key, neither raw nor in bytea's hex form.
func TestAtRestPostgres(t *testing.T) {
	h := newHarness(t, harnessOptions{store: postgresStore})
	needles := atRestSecrets(t, h)
	dump := testenv.SharedPostgres(t).Dump(t, h.dbPath)
	if !bytes.Contains(dump, []byte("CREATE TABLE")) || !bytes.Contains(dump, []byte("canary")) {
		t.Fatalf("the dump (%d bytes) does not hold the vault's tables and rows; the test would prove nothing", len(dump))
	}
	for i, n := range needles {
		if bytes.Contains(dump, n) || bytes.Contains(dump, []byte(hex.EncodeToString(n))) {
			t.Errorf("needle %d (%d bytes) is in the clear in the dump", i, len(n))
		}
	}
}
