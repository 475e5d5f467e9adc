package app

import (
	"log/slog"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/plexsphere/plexsphere/internal/events"
	"github.com/plexsphere/plexsphere/internal/obs"
	obslogs "github.com/plexsphere/plexsphere/internal/obs/logs"
	obsmetrics "github.com/plexsphere/plexsphere/internal/obs/metrics"
	"github.com/plexsphere/plexsphere/internal/obs/push"
	"github.com/plexsphere/plexsphere/internal/obs/retention"
)

// assembleNodeMetrics opens the node metrics TSDB under <data-dir>/tsdb
// and registers QueryDomainMetrics (issue 15). Call it after
// assembleNodeLogs, before RegisterAgent.
func (s *Server) assembleNodeMetrics(log *slog.Logger) error {
	ret, err := s.telemetryRetention()
	if err != nil {
		return err
	}
	c := s.Config
	s.NodeMetrics, err = obsmetrics.New(obsmetrics.Config{DB: s.DB, Authz: s.Guard, Logger: log,
		Dir: filepath.Join(c.DataDir, "tsdb"), Retention: c.MetricsRetention, DomainRetention: ret.MetricsByDomain,
		Remote: obsmetrics.Remote{WriteURL: c.MetricsRemoteWriteURL, QueryURL: c.MetricsQueryURL, Mode: c.MetricsRemoteMode,
			Bearer: push.BearerFile(c.MetricsRemoteBearerTokenFile)}})
	if err != nil {
		return err
	}
	s.NodeMetrics.Register(s.API.API)
	ret.Register(s.API.API)
	s.NodeMetrics.Start()
	s.Metrics.Registry().MustRegister(ingestCollector{s.NodeMetrics}, pushCollector{metrics: s.NodeMetrics, logs: s.NodeLogs})
	return nil
}

// telemetryRetention is the per-Domain retention store both sweepers read
// (stateless: assembleNodeLogs and assembleNodeMetrics each hold one).
func (s *Server) telemetryRetention() (*retention.Service, error) {
	return retention.New(retention.Config{DB: s.DB, Audit: s.Audit, Authz: s.Guard,
		MaxMetrics: s.Config.MetricsRetention, MaxLogs: s.Config.NodeLogRetention})
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

// pushCollector exposes the remote-write and Loki push counters on
// /metrics (nothing when neither is configured).
type pushCollector struct {
	metrics *obsmetrics.Service
	logs    *obslogs.Service
}

var (
	pushItems = prometheus.NewDesc("plexsphere_telemetry_push_items_total",
		"Node telemetry items pushed to an external backend, by target (remote_write: samples, loki: log lines) and "+
			"outcome (sent; failed: given up after retries or refused; dropped: the bounded queue was full).",
		[]string{"target", "outcome"}, nil)
	pushRetries = prometheus.NewDesc("plexsphere_telemetry_push_retries_total",
		"Retried push attempts by target.", []string{"target"}, nil)
	pushQueued = prometheus.NewDesc("plexsphere_telemetry_push_queued",
		"Node telemetry items waiting in the push queue by target.", []string{"target"}, nil)
)

func (c pushCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pushItems
	ch <- pushRetries
	ch <- pushQueued
}

func (c pushCollector) Collect(ch chan<- prometheus.Metric) {
	emit := func(target string, st push.Stats) {
		for outcome, n := range map[string]int64{"sent": st.Sent, "failed": st.Failed, "dropped": st.Dropped} {
			ch <- prometheus.MustNewConstMetric(pushItems, prometheus.CounterValue, float64(n), target, outcome)
		}
		ch <- prometheus.MustNewConstMetric(pushRetries, prometheus.CounterValue, float64(st.Retries), target)
		ch <- prometheus.MustNewConstMetric(pushQueued, prometheus.GaugeValue, float64(st.Queued), target)
	}
	if c.metrics != nil {
		if st, ok := c.metrics.RemoteStats(); ok {
			emit("remote_write", st)
		}
	}
	if c.logs != nil {
		if st, ok := c.logs.LokiStats(); ok {
			emit("loki", st)
		}
	}
}
