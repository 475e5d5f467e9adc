// Package telemetry is plexsphere's own telemetry in the Prometheus
// exposition format (GET /metrics): requests and their latency per
// operation, open server-sent event streams, event fan-out latency, and
// the length of every audit chain. It holds one registry per control
// plane (never the global default), so several servers in one process
// (tests) keep their numbers apart.
package telemetry

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the control plane's own series.
type Metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight *prometheus.GaugeVec
	streams  *prometheus.GaugeVec
	fanout   prometheus.Histogram
}

// New registers the series, with the Go runtime's and the process's, and
// the audit chain lengths read from db at each scrape (nil: none).
func New(db Querier) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "plexsphere_http_requests_total",
			Help: "API requests answered, by operation and status code.",
		}, []string{"operation", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "plexsphere_http_request_duration_seconds",
			Help:    "Time from a request's start to its answer (streams: to their end), by operation.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"operation"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "plexsphere_http_requests_in_flight",
			Help: "API requests being served, by operation.",
		}, []string{"operation"}),
		streams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "plexsphere_sse_streams_open",
			Help: "Server-sent event streams open, by operation (node event streams, operator and execution streams).",
		}, []string{"operation"}),
		fanout: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "plexsphere_event_fanout_seconds",
			Help:    "Time from an event's creation to its write on a node's open stream.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
	}
	m.registry.MustRegister(m.requests, m.duration, m.inFlight, m.streams, m.fanout,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if db != nil {
		m.registry.MustRegister(&chainCollector{db: db})
	}
	return m
}

// Registry is where other packages register their series.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Handler serves the exposition (text, or OpenMetrics when asked).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{EnableOpenMetrics: true, MaxRequestsInFlight: 4,
		Timeout: 10 * time.Second})
}

// Begin counts a request of operation in flight (and an open stream when
// stream is true); the returned func records its end with the status.
func (m *Metrics) Begin(operation string, stream bool) func(status int) {
	if m == nil {
		return func(int) {}
	}
	start := time.Now()
	m.inFlight.WithLabelValues(operation).Inc()
	if stream {
		m.streams.WithLabelValues(operation).Inc()
	}
	return func(status int) {
		m.inFlight.WithLabelValues(operation).Dec()
		if stream {
			m.streams.WithLabelValues(operation).Dec()
		}
		m.requests.WithLabelValues(operation, strconv.Itoa(status)).Inc()
		m.duration.WithLabelValues(operation).Observe(time.Since(start).Seconds())
	}
}

// ObserveFanout records one event's delivery delay.
func (m *Metrics) ObserveFanout(d time.Duration) {
	if m != nil {
		m.fanout.Observe(d.Seconds())
	}
}

// Querier reads the audit chain heads.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// chainCollector reads each audit chain's length at scrape time.
type chainCollector struct{ db Querier }

var chainLength = prometheus.NewDesc("plexsphere_audit_chain_length",
	"Entries in each audit chain (a Domain's id, or the platform chain).", []string{"chain"}, nil)

func (c *chainCollector) Describe(ch chan<- *prometheus.Desc) { ch <- chainLength }

func (c *chainCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := c.db.QueryContext(ctx, `SELECT chain_id, last_seq FROM audit_chains ORDER BY chain_id LIMIT 100000`)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(chainLength, err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var chain string
		var seq int64
		if rows.Scan(&chain, &seq) == nil {
			ch <- prometheus.MustNewConstMetric(chainLength, prometheus.GaugeValue, float64(seq), chain)
		}
	}
}
