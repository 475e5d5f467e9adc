package plexd

import (
	"log/slog"
	"path/filepath"

	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/config"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/telemetry"
)

// telemetryDir holds the telemetry queue and the collectors' read
// positions in the data directory.
const telemetryDir = "telemetry"

// telemetry builds the node's telemetry pipeline from the configuration:
// system metrics, the mesh engine's tunnel and latency stats, journald
// lines of the allowed units, auditd's log where present, a Kubernetes
// API server's audit log when configured; nil when
// telemetry is disabled.
func (a *app) telemetry(cfg *config.Config, cl *cpclient.Client, rt *meshRuntime, log *slog.Logger) (*telemetry.Telemetry, error) {
	tc := cfg.Telemetry
	if tc.Disabled {
		log.Info("telemetry disabled")
		return nil, nil
	}
	dir := filepath.Join(cfg.DataDir, telemetryDir)
	opts := telemetry.Options{
		Dir: filepath.Join(dir, "queue"), Client: cl,
		Collectors:      []telemetry.MetricCollector{telemetry.NewSystem(telemetry.SystemOptions{}), telemetry.NewTunnels(rt.engine)},
		MetricsInterval: tc.MetricsInterval, LogsInterval: tc.LogsInterval, AuditInterval: tc.AuditInterval,
		MaxQueueBytes: tc.QueueMax, Clock: a.env.Clock, Logger: log,
	}
	if len(tc.JournaldUnits) > 0 {
		j, err := telemetry.NewJournald(telemetry.JournaldOptions{Units: tc.JournaldUnits, Hostname: cfg.Hostname,
			CursorPath: filepath.Join(dir, "journald.cursor"), Clock: a.env.Clock, Logger: log})
		if err != nil {
			return nil, err
		}
		opts.Logs = j
	}
	if tc.AuditLog != "" {
		opts.Audit = telemetry.NewAuditLog(telemetry.AuditLogOptions{Path: tc.AuditLog, Hostname: cfg.Hostname,
			PositionPath: filepath.Join(dir, "audit.position"), Clock: a.env.Clock, Logger: log})
	}
	if tc.KubeAuditLog != "" {
		opts.KubeAudit = telemetry.NewKubeAuditLog(telemetry.KubeAuditLogOptions{Path: tc.KubeAuditLog, Hostname: cfg.Hostname,
			PositionPath: filepath.Join(dir, "kube-audit.position"), Clock: a.env.Clock, Logger: log})
	}
	return telemetry.New(opts)
}

// telemetryStatus shows the pipeline in the agent's Status.
type telemetryStatus struct{ t *telemetry.Telemetry }

func (s telemetryStatus) TelemetryStatus() agent.TelemetryStatus {
	st := s.t.Stats()
	return agent.TelemetryStatus{QueueBatches: st.Queue.Batches, QueueBytes: st.Queue.Bytes, SentBatches: st.SentBatches,
		DroppedRecords: st.Dropped()}
}

// telemetryNode is the agent's view of t (nil when telemetry is off).
func telemetryNode(t *telemetry.Telemetry) agent.Telemetry {
	if t == nil {
		return nil
	}
	return telemetryStatus{t: t}
}
