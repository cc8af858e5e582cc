package imds

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the imds_* Prometheus series. A nil *Metrics records nothing.
type Metrics struct {
	requests *prometheus.CounterVec
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
	m.requests.WithLabelValues(categoryNames[c], strconv.Itoa(status)).Inc()
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
