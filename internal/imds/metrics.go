package imds

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the imds_* Prometheus series. A nil *Metrics records nothing.
type Metrics struct {
	requests *prometheus.CounterVec
	// counters caches the requests child of each (category, status), so that the hot
	// path does no label hashing and no formatting.
	counters [numCategories][600]atomic.Pointer[prometheus.Counter]
	duration [numCategories]prometheus.Observer
	reloads  *prometheus.CounterVec
}

// NewMetrics registers the series with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imds_requests_total",
			Help: "Metadata requests answered, by category and HTTP status.",
		}, []string{"category", "code"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imds_inventory_reloads_total",
			Help: "Inventory reloads, by result (ok or error; on error the old inventory keeps serving).",
		}, []string{"result"}),
	}
	hist := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "imds_request_duration_seconds",
		Help:    "Time to answer a metadata request, by category.",
		Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .05, .25, 1},
	}, []string{"category"})
	for c := range numCategories {
		m.duration[c] = hist.WithLabelValues(categoryNames[c])
	}
	reg.MustRegister(m.requests, hist, m.reloads)
	return m
}

func (m *Metrics) observe(c category, status int, d time.Duration) {
	if m == nil {
		return
	}
	if status < 0 || status >= 600 {
		status = 0
	}
	p := m.counters[c][status].Load()
	if p == nil {
		ctr := m.requests.WithLabelValues(categoryNames[c], strconv.Itoa(status))
		p = &ctr
		m.counters[c][status].Store(p)
	}
	(*p).Inc()
	m.duration[c].Observe(d.Seconds())
}

func (m *Metrics) reload(ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.reloads.WithLabelValues("ok").Inc()
	} else {
		m.reloads.WithLabelValues("error").Inc()
	}
}
