package app

import (
	"log/slog"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/plexsphere/plexsphere/internal/events"
	"github.com/plexsphere/plexsphere/internal/obs"
	obsmetrics "github.com/plexsphere/plexsphere/internal/obs/metrics"
)

// assembleNodeMetrics opens the node metrics TSDB under <data-dir>/tsdb
// and registers QueryDomainMetrics (issue 15). Call it after
// assembleNodeLogs, before RegisterAgent.
func (s *Server) assembleNodeMetrics(log *slog.Logger) error {
	var err error
	s.NodeMetrics, err = obsmetrics.New(obsmetrics.Config{DB: s.DB, Authz: s.Guard, Logger: log,
		Dir: filepath.Join(s.Config.DataDir, "tsdb"), Retention: s.Config.MetricsRetention})
	if err != nil {
		return err
	}
	s.NodeMetrics.Register(s.API.API)
	s.Metrics.Registry().MustRegister(ingestCollector{s.NodeMetrics})
	return nil
}

// telemetryIngest routes the nodes' telemetry batches: metrics to the
// TSDB, logs and host audit to the logs store.
func (s *Server) telemetryIngest() events.Ingester {
	r := obs.Router{}
	if s.NodeMetrics != nil {
		r.Metrics = s.NodeMetrics
	}
	if s.NodeLogs != nil {
		r.Logs = s.NodeLogs
	}
	return r
}

// closeNodeMetrics flushes and closes the TSDB.
func (s *Server) closeNodeMetrics() {
	if s.NodeMetrics != nil {
		if err := s.NodeMetrics.Close(); err != nil && s.Log != nil {
			s.Log.Error("node metrics: close", "error", err.Error())
		}
	}
}

// ingestCollector exposes the node metrics ingest counters on /metrics.
type ingestCollector struct{ m *obsmetrics.Service }

var (
	ingestBatches = prometheus.NewDesc("plexsphere_ingest_batches_total",
		"Node telemetry batches by kind and outcome (stored, duplicate: a resend not stored again, limited: 413/429).",
		[]string{"kind", "outcome"}, nil)
	ingestSamples = prometheus.NewDesc("plexsphere_ingest_samples_total",
		"Node metric samples by outcome (stored, bad: refused by validation, dropped: refused by the TSDB).",
		[]string{"outcome"}, nil)
)

func (c ingestCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- ingestBatches
	ch <- ingestSamples
}

func (c ingestCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.m.Stats()
	for outcome, n := range map[string]int64{"stored": st.Batches, "duplicate": st.Duplicates, "limited": st.Limited} {
		ch <- prometheus.MustNewConstMetric(ingestBatches, prometheus.CounterValue, float64(n), "metrics", outcome)
	}
	for outcome, n := range map[string]int64{"stored": st.Samples, "bad": st.BadRecords, "dropped": st.Dropped} {
		ch <- prometheus.MustNewConstMetric(ingestSamples, prometheus.CounterValue, float64(n), outcome)
	}
}
