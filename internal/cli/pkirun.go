package cli

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/tegata-project/tegata/internal/attested"
	"github.com/tegata-project/tegata/internal/config"
	"github.com/tegata-project/tegata/internal/identity"
	"github.com/tegata-project/tegata/internal/pki"
	"github.com/tegata-project/tegata/internal/store"
)

// openPKI opens (or, on first use, creates) the attestation PKI kept in st and
// returns it with the service that signs attested documents, both on the service's
// clock now. adminAddr is the bound
// admin listener: unless the plan names its own AIA base URL, the CA Issuers URLs point
// there, where the AIA handler is mounted.
func openPKI(cfg config.Config, st store.Store, master pki.MasterKey, adminAddr net.Addr, now func() time.Time, log *slog.Logger) (*pki.Authority, *attested.Service, error) {
	plan := cfg.PKI.Plan
	if plan.AIABaseURL == "" {
		plan.AIABaseURL = "http://" + adminAddr.String() + "/pki"
	}
	records := pkiRecords(cfg, st)
	if _, err := records.Read("state.json"); err != nil {
		log.Info("creating the attestation PKI: generating its CA keys takes a few seconds on first start", "store", cfg.Store.Driver)
	}
	auth, err := pki.OpenStorage(records, master, plan, now)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: %w", err)
	}
	svc, err := attested.New(auth, attested.Options{
		TTL:          cfg.IMDS.Attested.TTL,
		Cache:        cfg.IMDS.Attested.Cache,
		AzureProfile: cfg.IMDS.Attested.Profile == "azure",
		Clock:        now,
	})
	if err != nil {
		return nil, nil, &exitError{code: 2, err: fmt.Errorf("configuration: imds.attested: %w", err)}
	}
	return auth, svc, nil
}

// loadMasterKey finds the master key that encrypts the PKI's and the identity issuer's
// private keys, generating one in dev mode, and says so.
func loadMasterKey(cfg config.Config, log *slog.Logger) (pki.MasterKey, error) {
	master, created, err := pki.LoadMasterKey(cfg.PKI.MasterKeyFile, cfg.DataDir, os.Getenv)
	if err != nil {
		return master, fmt.Errorf("master key: %w", err)
	}
	if created {
		log.Warn("generated a master key for the private keys at rest; keep it safe, or give your own with pki.master_key_file or TEGATA_MASTER_KEY",
			"file", filepath.Join(cfg.DataDir, "master.key"), "key_id", master.ID())
	}
	return master, nil
}

// pkiRecords is where the attestation PKI keeps its keys, certificates and state:
// tegata's database, under pki/ (taking over <data-dir>/pki from earlier versions).
func pkiRecords(cfg config.Config, st store.Store) storeRecords {
	return storeRecords{st: st, prefix: "pki/", legacyDir: filepath.Join(cfg.DataDir, "pki")}
}

// openIdentity opens the managed-identity token issuer: its signing keys in tegata's
// database under identity/, its key list in <data-dir>/identity.
func openIdentity(cfg config.Config, st store.Store, master pki.MasterKey, now func() time.Time) (*identity.Issuer, error) {
	dir := filepath.Join(cfg.DataDir, "identity")
	keys := pki.NewKeysIn(storeRecords{st: st, prefix: "identity/", legacyDir: dir}, master)
	iss, err := identity.Open(keys, dir, identity.Options{Lifetime: cfg.Identity.Lifetime, Rotation: cfg.Identity.KeyRotation, Clock: now})
	if err != nil {
		return nil, fmt.Errorf("identity issuer in %s: %w", filepath.Join(cfg.DataDir, "identity"), err)
	}
	return iss, nil
}

// identityHandler serves the issuer's JWKS at /identity/keys and its OpenID discovery
// at /identity/{tenant}/.well-known/openid-configuration on the admin listener.
func identityHandler(iss *identity.Issuer, adminAddr net.Addr) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /identity/keys", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(iss.JWKS())
	})
	mux.HandleFunc("GET /identity/{tenant}/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(iss.Discovery(r.PathValue("tenant"), "http://"+adminAddr.String()+"/identity/keys"))
	})
	return mux
}
