package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tegata-project/tegata/internal/attested"
	"github.com/tegata-project/tegata/internal/config"
	"github.com/tegata-project/tegata/internal/gctune"
	"github.com/tegata-project/tegata/internal/identity"
	"github.com/tegata-project/tegata/internal/imds"
	"github.com/tegata-project/tegata/internal/instance"
	"github.com/tegata-project/tegata/internal/pki"
	"github.com/tegata-project/tegata/internal/store"
)

// runningIMDS is a started metadata service: its listeners and how to wait for it.
type runningIMDS struct {
	server    *imds.Server
	pki       *pki.Authority   // nil when pki.enabled is false
	identity  *identity.Issuer // nil when identity.enabled is false
	metaAddr  net.Addr
	adminAddr net.Addr
	master    pki.MasterKey // the key the vault seals under, when pki or identity runs
	clock     *travelClock
	admin     *http.ServeMux // the admin listener's routes; other parts add theirs
	done      chan error
}

// startIMDS builds the metadata service from cfg, binds both listeners (so a busy port
// fails here, before anything is printed) and serves until ctx ends.
//
// The PKI's and the identity issuer's keys are kept in st, tegata's database; with st
// nil, startIMDS opens the configured store itself and closes it when it stops.
func startIMDS(ctx context.Context, cfg config.Config, st store.Store, log *slog.Logger) (*runningIMDS, error) {
	if cfg.MemoryLimit == "auto" && os.Getenv("GOMEMLIMIT") == "" {
		// Parsing a large inventory makes much short-lived garbage: collect it early.
		debug.SetMemoryLimit(minAutoMemoryLimit)
	}
	inv, reload, err := openInventory(cfg)
	if err != nil {
		return nil, err
	}
	setMemoryLimit(cfg.MemoryLimit, log)
	if cfg.MemoryLimit != "off" {
		go gctune.Run(ctx, gctune.DefaultHeadroom, time.Second)
	}
	metaLn, err := listen("imds.listen", cfg.IMDS.Listen)
	if err != nil {
		return nil, err
	}
	adminLn, err := listen("imds.admin_listen", cfg.IMDS.AdminListen)
	if err != nil {
		metaLn.Close()
		return nil, err
	}
	clock := &travelClock{}
	fail := func(err error) (*runningIMDS, error) {
		metaLn.Close()
		adminLn.Close()
		return nil, err
	}
	var master pki.MasterKey
	ownStore := false
	if cfg.PKI.Enabled || cfg.Identity.Enabled {
		if master, err = loadMasterKey(cfg, log); err != nil {
			return fail(err)
		}
		if st == nil {
			if st, err = openStore(ctx, cfg); err != nil {
				return fail(err)
			}
			ownStore = true
		}
	}
	closeStore := func() {
		if ownStore {
			st.Close()
		}
	}
	fail = func(err error) (*runningIMDS, error) {
		metaLn.Close()
		adminLn.Close()
		closeStore()
		return nil, err
	}
	var signer imds.Attester
	var authority *pki.Authority
	if cfg.PKI.Enabled {
		var svc *attested.Service
		if authority, svc, err = openPKI(cfg, st, master, adminLn.Addr(), clock.Now, log); err != nil {
			return fail(err)
		}
		signer = svc
	}
	var tokens imds.TokenIssuer
	var issuer *identity.Issuer
	if cfg.Identity.Enabled {
		if issuer, err = openIdentity(cfg, st, master, clock.Now); err != nil {
			return fail(err)
		}
		tokens = issuer
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv, err := imds.New(imds.Options{
		Config:    cfg.IMDS,
		Inventory: inv,
		Reload:    reload,
		Logger:    log,
		Metrics:   imds.NewMetrics(reg),
		Attested:  signer,
		Tokens:    tokens,
		Clock:     clock.Now,
	})
	if err != nil {
		return fail(&exitError{code: 2, err: fmt.Errorf("configuration: %w", err)})
	}
	r := &runningIMDS{server: srv, pki: authority, identity: issuer, metaAddr: metaLn.Addr(), adminAddr: adminLn.Addr(), master: master, clock: clock, done: make(chan error, 1)}
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	meta := imds.NewHTTPServer(cfg.IMDS.Listen, srv)
	adminMux := http.NewServeMux()
	r.admin = adminMux
	adminMux.Handle("/", srv.AdminHandler(metrics))
	if authority != nil {
		adminMux.Handle("/pki/", authority.AIAHandler())
		adminMux.Handle("/admin/pki/rotate", pkiRotateHandler(authority, clock.Now))
	}
	if issuer != nil {
		adminMux.Handle("/identity/", identityHandler(issuer, adminLn.Addr()))
	}
	if cfg.TimeTravel {
		adminMux.Handle("/admin/clock", clock.handler())
		log.Warn("time travel is on: POST /admin/clock moves this service's clock forward; never use it in production")
	}
	admin := imds.NewAdminHTTPServer(cfg.IMDS.AdminListen, adminMux)

	if reload != nil {
		go watchReload(ctx, srv, cfg.IMDS.Inventory, cfg.IMDS.WatchInterval, log)
	}
	go func() {
		errc := make(chan error, 2)
		go func() { errc <- imds.Serve(meta, metaLn) }()
		go func() { errc <- admin.Serve(adminLn) }()
		var err error
		select {
		case err = <-errc:
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		meta.Shutdown(sctx)
		admin.Shutdown(sctx)
		closeStore()
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		r.done <- err
	}()
	log.Info("metadata service listening", "metadata", r.metaAddr.String(), "admin", r.adminAddr.String(), "instances", inv.Len())
	return r, nil
}

func listen(setting, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w: choose another address with the flag or TEGATA_%s, or stop what uses it", setting, addr, err, envName(setting))
	}
	return ln, nil
}

func envName(setting string) string {
	b := []byte(setting)
	for i, c := range b {
		switch {
		case c == '.':
			b[i] = '_'
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// openInventory loads cfg's inventory file, or generates the single dev instance with
// a vmId kept stable in the data directory.
func openInventory(cfg config.Config) (*instance.Inventory, func() (*instance.Inventory, error), error) {
	if path := cfg.IMDS.Inventory; path != "" {
		inv, err := instance.LoadFile(path)
		if err != nil {
			return nil, nil, &exitError{code: 2, err: err}
		}
		return inv, func() (*instance.Inventory, error) { return instance.LoadFile(path) }, nil
	}
	vmID, err := instance.StableVMID(cfg.DataDir)
	if err != nil {
		return nil, nil, fmt.Errorf("data directory %s: %w: choose another with --data-dir", cfg.DataDir, err)
	}
	return instance.Single(instance.Generated(vmID)), nil, nil
}

// watchReload reloads the inventory on SIGHUP and when the file changes (size or
// modification time), until ctx ends. A bad file is logged and the old inventory keeps
// serving.
func watchReload(ctx context.Context, srv *imds.Server, path string, every time.Duration, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	last := stamp(path)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			log.Info("SIGHUP: reloading the inventory", "file", path)
			srv.Reload()
			last = stamp(path)
		case <-tick:
			if now := stamp(path); now != last {
				last = now
				log.Info("inventory file changed: reloading", "file", path)
				srv.Reload()
			}
		}
	}
}

func stamp(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "missing"
	}
	return fmt.Sprintf("%d/%d", fi.Size(), fi.ModTime().UnixNano())
}

// Bounds of the automatic memory limit.
const (
	minAutoMemoryLimit = 160 << 20
	// autoLimitFactor covers what serving adds to the loaded inventory (each VM's
	// trees at the api-versions it asks for, memoised documents) plus GC headroom.
	autoLimitFactor = 2.5
)

// setMemoryLimit applies cfg's memory_limit. Go's collector lets the heap grow to twice
// the live data between collections, so a large inventory would hold twice its memory;
// "auto" caps the heap at max(160 MiB, 2.5 x the heap right after loading), which keeps a
// small service's collector as lazy as Go's default and a fleet's RSS near its live data.
// GOMEMLIMIT, when set, is left alone.
func setMemoryLimit(setting string, log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" || setting == "off" {
		return
	}
	var limit int64
	if setting == "auto" {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		limit = max(minAutoMemoryLimit, int64(float64(ms.HeapAlloc)*autoLimitFactor))
	} else {
		var err error
		if limit, err = config.ParseSize(setting); err != nil {
			return // Validate has already refused it
		}
	}
	debug.SetMemoryLimit(limit)
	log.Debug("memory limit set", "bytes", limit, "setting", setting)
}
