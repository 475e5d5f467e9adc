package config

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Settings of the telemetry collectors (docs/observability.md, "plexd
// collectors").
const (
	KeyTelemetryDisabled        Key = "telemetry_disabled"
	KeyTelemetryMetricsInterval Key = "telemetry_metrics_interval"
	KeyTelemetryLogsInterval    Key = "telemetry_logs_interval"
	KeyTelemetryAuditInterval   Key = "telemetry_audit_interval"
	KeyTelemetryJournaldUnits   Key = "telemetry_journald_units"
	KeyTelemetryAuditLog        Key = "telemetry_audit_log"
	KeyTelemetryKubeAuditLog    Key = "telemetry_kube_audit_log"
	KeyTelemetryQueueMax        Key = "telemetry_queue_max"
)

// Telemetry defaults (§12.7 intervals).
const (
	DefaultTelemetryMetricsInterval = 60 * time.Second
	DefaultTelemetryLogsInterval    = 30 * time.Second
	DefaultTelemetryAuditInterval   = 15 * time.Second
	DefaultTelemetryAuditLog        = "/var/log/audit/audit.log"
	DefaultTelemetryQueueMax        = 64 << 20
	// TelemetryAuditOff as telemetry_audit_log disables the auditd collector.
	TelemetryAuditOff = "off"
)

// Bounds of telemetry_queue_max and the intervals.
const (
	minTelemetryQueue    = 64 << 10
	maxTelemetryQueue    = 4 << 30
	minTelemetryInterval = time.Second
)

// Telemetry configures plexd's telemetry collectors and queue.
type Telemetry struct {
	// Disabled sends no telemetry at all.
	Disabled bool
	// MetricsInterval, LogsInterval, AuditInterval: how often each kind is
	// collected or batched.
	MetricsInterval, LogsInterval, AuditInterval time.Duration
	// JournaldUnits is the journald allow-list (empty: no journald logs).
	JournaldUnits []string
	// AuditLog is auditd's log ("" disables the auditd collector).
	AuditLog string
	// KubeAuditLog is a Kubernetes API server's audit log, JSON lines
	// ("" disables the Kubernetes audit collector, the default).
	KubeAuditLog string
	// QueueMax bounds the on-disk queue in bytes.
	QueueMax int64
}

// parseTelemetry decodes and validates the telemetry_* settings.
func parseTelemetry(v map[Key]string) (Telemetry, error) {
	t := Telemetry{AuditLog: or(v[KeyTelemetryAuditLog], DefaultTelemetryAuditLog), QueueMax: DefaultTelemetryQueueMax}
	if s := strings.TrimSpace(v[KeyTelemetryDisabled]); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return t, fmt.Errorf("config: %s: %q is not true or false", KeyTelemetryDisabled, s)
		}
		t.Disabled = b
	}
	for _, iv := range []struct {
		k   Key
		def time.Duration
		dst *time.Duration
	}{
		{KeyTelemetryMetricsInterval, DefaultTelemetryMetricsInterval, &t.MetricsInterval},
		{KeyTelemetryLogsInterval, DefaultTelemetryLogsInterval, &t.LogsInterval},
		{KeyTelemetryAuditInterval, DefaultTelemetryAuditInterval, &t.AuditInterval},
	} {
		d, err := duration(v, iv.k, iv.def)
		if err != nil {
			return t, err
		}
		if d < minTelemetryInterval {
			return t, fmt.Errorf("config: %s: %s is shorter than %s", iv.k, d, minTelemetryInterval)
		}
		*iv.dst = d
	}
	for _, u := range listItems(v[KeyTelemetryJournaldUnits]) {
		if !validUnit(u) {
			return t, fmt.Errorf("config: %s: %q is not a systemd unit name", KeyTelemetryJournaldUnits, u)
		}
		t.JournaldUnits = append(t.JournaldUnits, u)
	}
	if t.AuditLog == TelemetryAuditOff {
		t.AuditLog = ""
	} else if !filepath.IsAbs(t.AuditLog) {
		return t, fmt.Errorf("config: %s: %q is not an absolute path (or %q)", KeyTelemetryAuditLog, t.AuditLog, TelemetryAuditOff)
	}
	if t.KubeAuditLog = strings.TrimSpace(v[KeyTelemetryKubeAuditLog]); t.KubeAuditLog != "" && !filepath.IsAbs(t.KubeAuditLog) {
		return t, fmt.Errorf("config: %s: %q is not an absolute path", KeyTelemetryKubeAuditLog, t.KubeAuditLog)
	}
	if s := strings.TrimSpace(v[KeyTelemetryQueueMax]); s != "" {
		n, err := parseSize(s)
		if err != nil || n < minTelemetryQueue || n > maxTelemetryQueue {
			return t, fmt.Errorf("config: %s: %q is not a size between 64KiB and 4GiB", KeyTelemetryQueueMax, s)
		}
		t.QueueMax = n
	}
	return t, nil
}
