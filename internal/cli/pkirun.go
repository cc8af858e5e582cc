package cli

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/tegata-project/tegata/internal/attested"
	"github.com/tegata-project/tegata/internal/config"
	"github.com/tegata-project/tegata/internal/pki"
)

// openPKI opens (or, on first use, creates) the attestation PKI in <data-dir>/pki and
// returns it with the service that signs attested documents, both on the service's
// clock now. adminAddr is the bound
// admin listener: unless the plan names its own AIA base URL, the CA Issuers URLs point
// there, where the AIA handler is mounted.
func openPKI(cfg config.Config, adminAddr net.Addr, now func() time.Time, log *slog.Logger) (*pki.Authority, *attested.Service, error) {
	master, created, err := pki.LoadMasterKey(cfg.PKI.MasterKeyFile, cfg.DataDir, os.Getenv)
	if err != nil {
		return nil, nil, fmt.Errorf("pki master key: %w", err)
	}
	if created {
		log.Warn("generated a master key for the PKI's private keys; keep it safe, or give your own with pki.master_key_file or TEGATA_MASTER_KEY",
			"file", filepath.Join(cfg.DataDir, "master.key"), "key_id", master.ID())
	}
	plan := cfg.PKI.Plan
	if plan.AIABaseURL == "" {
		plan.AIABaseURL = "http://" + adminAddr.String() + "/pki"
	}
	dir := filepath.Join(cfg.DataDir, "pki")
	if _, err := os.Stat(dir); err != nil {
		log.Info("creating the attestation PKI: generating its CA keys takes a few seconds on first start", "dir", dir)
	}
	auth, err := pki.Open(dir, master, plan, now)
	if err != nil {
		return nil, nil, fmt.Errorf("pki in %s: %w", dir, err)
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
