package agent

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the agent's Prometheus metrics, on a registry of its own.
type metrics struct {
	reg          *prometheus.Registry
	polls        *prometheus.CounterVec
	pollErrors   *prometheus.CounterVec
	installs     *prometheus.CounterVec
	hookFailures *prometheus.CounterVec
	hookRuns     *prometheus.CounterVec
}

var (
	descNotAfter = prometheus.NewDesc("tegata_agent_cert_not_after_seconds",
		"NotAfter of the installed version, in Unix seconds.", []string{"url", "link"}, nil)
	descDaysLeft = prometheus.NewDesc("tegata_agent_cert_days_to_expiry",
		"Days until the installed version expires (negative once expired).", []string{"url", "link"}, nil)
	descState = prometheus.NewDesc("tegata_agent_cert_state",
		"1 for the certificate's current state (success, transitioning, warning, error).", []string{"url", "link", "state"}, nil)
	descReady = prometheus.NewDesc("tegata_agent_ready",
		"1 once the agent has declared itself started (after the initial sync with requireInitialSync).", nil, nil)
)

func newMetrics(a *Agent) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tegata_agent_polls_total",
			Help: "Secret reads from the vault, per certificate."}, []string{"url", "link"}),
		pollErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tegata_agent_poll_errors_total",
			Help: "Failed polls, per certificate and kind (network, token, forbidden, unavailable, refused, install)."}, []string{"url", "link", "kind"}),
		installs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tegata_agent_installs_total",
			Help: "Versions installed (including rewrites of the current version), per certificate."}, []string{"url", "link"}),
		hookFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tegata_agent_hook_failures_total",
			Help: "Reload hook runs that failed, per hook."}, []string{"hook"}),
		hookRuns: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tegata_agent_hook_runs_total",
			Help: "Reload hook runs, per hook."}, []string{"hook"}),
	}
	m.reg.MustRegister(m.polls, m.pollErrors, m.installs, m.hookFailures, m.hookRuns, stateCollector{a})
	return m
}

// stateCollector reports the agent's per-certificate state at scrape time.
type stateCollector struct{ a *Agent }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descNotAfter
	ch <- descDaysLeft
	ch <- descState
	ch <- descReady
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	a := c.a
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, st := range a.certs {
		url, link := st.t.URL, st.t.Label()
		if in := st.installed; in != nil {
			ch <- prometheus.MustNewConstMetric(descNotAfter, prometheus.GaugeValue, float64(in.NotAfter.Unix()), url, link)
			ch <- prometheus.MustNewConstMetric(descDaysLeft, prometheus.GaugeValue, in.NotAfter.Sub(now).Hours()/24, url, link)
		}
		for _, s := range []State{StateSuccess, StateTransitioning, StateWarning, StateError} {
			v := 0.0
			if st.state == s {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, v, url, link, string(s))
		}
	}
	ready := 0.0
	if a.ready {
		ready = 1
	}
	ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, ready)
}
