package nodeproto

import (
	"encoding/json"
	"time"
)

// TriggeredBy says who started an execution or session (§5.1).
type TriggeredBy struct {
	Type      string `json:"type"`
	SessionID string `json:"session_id"`
	UserID    string `json:"user_id"`
	Email     string `json:"email"`
}

// ActionRequest is the action_request payload (§12.5). Parameter values are
// strings (AC1); Timeout empty or invalid means 10m, capped at 10m.
type ActionRequest struct {
	ExecutionID string            `json:"execution_id"`
	Action      string            `json:"action"`
	Parameters  map[string]string `json:"parameters,omitempty"`
	Timeout     string            `json:"timeout"`
	Checksum    string            `json:"checksum,omitempty"`
	TriggeredBy *TriggeredBy      `json:"triggered_by,omitempty"`
}

// MaxActionTimeout is the default and cap of ActionRequest.Timeout.
const MaxActionTimeout = 10 * time.Minute

// Validate checks the execution id, timeout and checksum (AC2).
func (r *ActionRequest) Validate() error {
	switch {
	case !ValidID(r.ExecutionID):
		return invalid("execution_id", "not an ID")
	case r.Action == "":
		return invalid("action", "empty")
	case r.Timeout != "" && !ValidDuration(r.Timeout):
		return invalid("timeout", "not a Duration")
	case r.Checksum != "" && !ValidChecksum(r.Checksum):
		return invalid("checksum", "not lowercase hex SHA-256 (AC2)")
	}
	return nil
}

// EffectiveTimeout is the timeout the existing agent applies: Timeout if it
// parses and is positive, capped at MaxActionTimeout; else MaxActionTimeout.
func (r *ActionRequest) EffectiveTimeout() time.Duration {
	d, err := time.ParseDuration(r.Timeout)
	if err != nil || d <= 0 || d > MaxActionTimeout {
		return MaxActionTimeout
	}
	return d
}

// ExecutionAck statuses and reasons (§12.5).
const (
	AckAccepted = "accepted"
	AckRejected = "rejected"

	AckReasonActionsDisabled      = "actions_disabled"
	AckReasonShuttingDown         = "shutting_down"
	AckReasonDuplicateExecutionID = "duplicate_execution_id"
	AckReasonMaxConcurrent        = "max_concurrent_reached"
	AckReasonUnknownAction        = "unknown_action"
)

// ExecutionAck is the body of POST …/executions/{execution_id}/ack.
type ExecutionAck struct {
	ExecutionID string `json:"execution_id"`
	Status      string `json:"status"`
	Reason      string `json:"reason"`
}

// ExecutionResult statuses (§12.5).
const (
	ResultSuccess   = "success"
	ResultFailed    = "failed"
	ResultTimeout   = "timeout"
	ResultCancelled = "cancelled"
	ResultError     = "error"
)

// ExecutionResult is the body of POST …/executions/{execution_id}/result.
// Stdout and Stderr are each capped at 1 MiB plus "\n...[truncated]".
type ExecutionResult struct {
	ExecutionID string       `json:"execution_id"`
	Status      string       `json:"status"`
	ExitCode    int          `json:"exit_code"`
	Stdout      string       `json:"stdout"`
	Stderr      string       `json:"stderr"`
	Duration    string       `json:"duration"`
	FinishedAt  time.Time    `json:"finished_at"`
	TriggeredBy *TriggeredBy `json:"triggered_by,omitempty"`
	// Error says why an execution ended in status "error" (level 2, ours:
	// the level-1 agent sends no error text).
	Error string `json:"error,omitempty"`
}

// Built-in actions of the existing agent (§12.5).
const (
	BuiltinGatherInfo = "gather_info"
	BuiltinPing       = "ping"
)

// GatherInfo is the stdout JSON of the gather_info built-in.
type GatherInfo struct {
	Hostname  string `json:"hostname"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	GoVersion string `json:"go_version"`
	MeshIP    string `json:"mesh_ip"`
	PeerCount int    `json:"peer_count"`
	NodeID    string `json:"node_id"`
}

// MaxSSHSessionLifetime caps SSHSessionSetup.ExpiresAt past now (A1).
const MaxSSHSessionLifetime = 30 * time.Minute

// SSHSessionSetup is the ssh_session_setup payload (§12.4).
type SSHSessionSetup struct {
	SessionID     string    `json:"session_id"`
	TargetHost    string    `json:"target_host"`
	TargetPort    int       `json:"target_port"`
	AuthorizedKey string    `json:"authorized_key"`
	ExpiresAt     time.Time `json:"expires_at"`
}

// Validate checks the session at now: ids, port, and an expiry in the
// future and at most MaxSSHSessionLifetime away (A1).
func (s *SSHSessionSetup) Validate(now time.Time) error {
	switch {
	case !ValidID(s.SessionID):
		return invalid("session_id", "not an ID")
	case s.TargetHost == "":
		return invalid("target_host", "empty")
	case !ValidPort(s.TargetPort):
		return invalid("target_port", "outside 1–65535")
	case !ValidWireTime(s.ExpiresAt) || !s.ExpiresAt.After(now):
		return invalid("expires_at", "not a future UTC Time")
	case s.ExpiresAt.After(now.Add(MaxSSHSessionLifetime)):
		return invalid("expires_at", "more than 30 minutes ahead (A1)")
	}
	return nil
}

// TunnelReady is the body of POST …/tunnels/{session_id}/ready (§12.4).
type TunnelReady struct {
	ListenAddr string    `json:"listen_addr"` // meshIP:port
	Timestamp  time.Time `json:"timestamp"`
}

// Tunnel close reasons (§12.4; "expired" is sent only by our plexd).
const (
	TunnelClosedRevoked = "revoked"
	TunnelClosedExpired = "expired"
)

// TunnelClosed is the body of POST …/tunnels/{session_id}/closed (§12.4).
type TunnelClosed struct {
	Reason    string    `json:"reason"`
	Duration  string    `json:"duration"`
	Timestamp time.Time `json:"timestamp"`
}

// Integrity violation types (§12.5).
const (
	IntegrityBinary = "binary"
	IntegrityHook   = "hook"
)

// IntegrityViolation is the body of POST …/integrity/violations (§12.5).
type IntegrityViolation struct {
	Type             string    `json:"type"`
	Path             string    `json:"path"`
	ExpectedChecksum string    `json:"expected_checksum"`
	ActualChecksum   string    `json:"actual_checksum"`
	Detail           string    `json:"detail"`
	Timestamp        time.Time `json:"timestamp"`
}

// Metric groups (§12.7).
const (
	MetricGroupSystem  = "system"
	MetricGroupTunnel  = "tunnel"
	MetricGroupLatency = "latency"
)

// MetricPoint is one element of the POST …/metrics array (§12.7).
type MetricPoint struct {
	Timestamp time.Time       `json:"timestamp"`
	Group     string          `json:"group"`
	PeerID    string          `json:"peer_id,omitempty"`
	Data      json.RawMessage `json:"data"`
}

// SystemMetrics is MetricPoint.Data for group "system". The spec names the
// members only; numeric types are inferred.
type SystemMetrics struct {
	CPUUsagePercent  float64 `json:"cpu_usage_percent"`
	MemoryUsedBytes  uint64  `json:"memory_used_bytes"`
	MemoryTotalBytes uint64  `json:"memory_total_bytes"`
	DiskUsedBytes    uint64  `json:"disk_used_bytes"`
	DiskTotalBytes   uint64  `json:"disk_total_bytes"`
	NetworkRxBytes   uint64  `json:"network_rx_bytes"`
	NetworkTxBytes   uint64  `json:"network_tx_bytes"`
}

// TunnelMetrics is MetricPoint.Data for group "tunnel".
type TunnelMetrics struct {
	PeerID             string    `json:"peer_id"`
	LastHandshakeTime  time.Time `json:"last_handshake_time"`
	RxBytes            uint64    `json:"rx_bytes"`
	TxBytes            uint64    `json:"tx_bytes"`
	HandshakeSucceeded bool      `json:"handshake_succeeded"`
	HandshakeStale     bool      `json:"handshake_stale"`
}

// LatencyMetrics is MetricPoint.Data for group "latency"; RTTNano is -1
// when the probe failed.
type LatencyMetrics struct {
	PeerID  string `json:"peer_id"`
	RTTNano int64  `json:"rtt_nano"`
}

// Log severities (§12.7).
const (
	SeverityEmerg   = "emerg"
	SeverityAlert   = "alert"
	SeverityCrit    = "crit"
	SeverityErr     = "err"
	SeverityWarning = "warning"
	SeverityNotice  = "notice"
	SeverityInfo    = "info"
	SeverityDebug   = "debug"
)

// LogEntry is one element of the POST …/logs array (§12.7).
type LogEntry struct {
	Timestamp time.Time `json:"timestamp"`
	Source    string    `json:"source"`
	Unit      string    `json:"unit"`
	Message   string    `json:"message"`
	Severity  string    `json:"severity"`
	Hostname  string    `json:"hostname"`
}

// AuditEntry is one element of the POST …/audit array (§12.7). Subject and
// Object are raw JSON; Raw is the original record as a string.
type AuditEntry struct {
	Timestamp time.Time       `json:"timestamp"`
	Source    string          `json:"source"`
	EventType string          `json:"event_type"`
	Subject   json.RawMessage `json:"subject"`
	Object    json.RawMessage `json:"object"`
	Action    string          `json:"action"`
	Result    string          `json:"result"`
	Hostname  string          `json:"hostname"`
	Raw       string          `json:"raw"`
}
