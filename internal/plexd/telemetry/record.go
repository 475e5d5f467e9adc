package telemetry

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Batch kinds: the last path segment of POST /v1/nodes/{id}/<kind>.
const (
	KindMetrics = "metrics"
	KindLogs    = "logs"
	KindAudit   = "audit"
)

// Kinds lists every batch kind.
var Kinds = []string{KindMetrics, KindLogs, KindAudit}

// Records per batch (§12.7: ≤ 100 metric points, ≤ 200 log lines, ≤ 500
// audit records).
const (
	MaxMetricsPerBatch = 100
	MaxLogsPerBatch    = 200
	MaxAuditPerBatch   = 500
)

// Bounds of single records.
const (
	// MaxMessageBytes bounds a log message and an audit record's raw line
	// (the control plane takes up to 64 KiB).
	MaxMessageBytes = 16 << 10
	// MaxFieldBytes bounds unit, hostname and the other short fields.
	MaxFieldBytes = 256
	// MaxLineBytes bounds one line read from journalctl or audit.log;
	// longer lines are skipped.
	MaxLineBytes = 256 << 10
)

// Metric groups (§12.7): series are named plexd_<group>_<field>.
const (
	GroupSystem  = "system"
	GroupTunnel  = "tunnel"
	GroupLatency = "latency"
	GroupAgent   = "agent"
)

// MetricPoint is a §12.7 MetricPoint. Data holds numbers, booleans (1/0
// on the server) and RFC 3339 times (Unix seconds on the server).
type MetricPoint struct {
	Timestamp time.Time      `json:"timestamp"`
	Group     string         `json:"group"`
	PeerID    string         `json:"peer_id,omitempty"`
	Data      map[string]any `json:"data"`
}

// LogEntry and AuditEntry are the §12.7 records (nodeproto's): an audit
// entry's Subject is {uid, gid, pid} for auditd, its Object a JSON string.
type (
	LogEntry   = nodeproto.LogEntry
	AuditEntry = nodeproto.AuditEntry
)

// severities are the syslog priorities 0–7 by name (§12.7).
var severities = [...]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// clip cuts s to at most n bytes on a rune boundary and makes it valid
// UTF-8.
func clip(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// maxRawEncoded bounds an audit record's raw line as encoded in JSON
// (quotes and control characters escaped, <, > and & as \u00XX), so a
// record stays well inside the control plane's 64 KiB bound however the
// line reads.
const maxRawEncoded = 24 << 10

// clipRaw cuts an audit record's raw line to at most MaxMessageBytes
// bytes and maxRawEncoded bytes of JSON, on a rune boundary, as valid
// UTF-8.
func clipRaw(s string) string {
	s = clip(s, MaxMessageBytes)
	enc := 0
	for i, r := range s {
		switch {
		case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t':
			enc += 2
		case r < 0x20 || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029':
			enc += 6
		default:
			enc += utf8.RuneLen(r)
		}
		if enc > maxRawEncoded {
			return s[:i]
		}
	}
	return s
}
