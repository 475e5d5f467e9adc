package app

import (
	"log/slog"
	"path/filepath"

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
