package apiv1

import (
	"encoding/json"
	"time"
)

// DispatchExecutionRequest is the body of POST
// /v1/projects/{project_id}/executions:dispatch: the contract's members
// (action, type, parameters, timeout_seconds, exactly one of node_id and
// selector) plus ours: a node list and rollout controls. A dry run is the
// same body sent to …/executions:preview.
type DispatchExecutionRequest struct {
	Action         string          `json:"action" minLength:"1" maxLength:"128"`
	Type           string          `json:"type,omitempty" enum:"builtin,hook"`
	Parameters     json.RawMessage `json:"parameters,omitempty"`
	TimeoutSeconds int             `json:"timeout_seconds,omitempty" minimum:"1" maximum:"600"`
	Selector       string          `json:"selector,omitempty" maxLength:"1024"`
	NodeID         string          `json:"node_id,omitempty" format:"uuid"`
	// Ours.
	NodeIDs           []string `json:"node_ids,omitempty" maxItems:"1000" doc:"Ours: an explicit node list (instead of node_id or selector)."`
	MaxInFlight       int      `json:"max_in_flight,omitempty" minimum:"0" maximum:"10000" doc:"Ours: at most this many targets run at once (0: all)."`
	StopAfterFailures int      `json:"stop_after_failures,omitempty" minimum:"0" doc:"Ours: targets not yet started are cancelled once this many failed (0: never)."`
	BatchSize         int      `json:"batch_size,omitempty" minimum:"0" maximum:"10000" doc:"Ours: targets run in batches of this many, in order; a batch starts once every target of the one before has ended (0: one batch). max_in_flight still bounds each batch."`
	IncludeDrifted    bool     `json:"include_drifted,omitempty" doc:"Ours: also run on nodes with an open integrity violation."`
	IdempotencyKey    string   `json:"idempotency_key,omitempty" maxLength:"255" doc:"Ours: a repeat with the same key answers the original execution."`
}

// ExecutionTarget is the contract's ExecutionTarget plus our result
// members.
type ExecutionTarget struct {
	NodeID    string     `json:"node_id" format:"uuid"`
	Status    string     `json:"status" enum:"pending,ack,started,succeeded,failed,cancelled,timeout"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	OutputRef *OutputRef `json:"output_ref,omitempty"`
	// Ours.
	ExitCode   *int   `json:"exit_code,omitempty"`
	Stdout     string `json:"stdout,omitempty"`
	Stderr     string `json:"stderr,omitempty"`
	DurationMS *int64 `json:"duration_ms,omitempty"`
	Detail     string `json:"detail,omitempty" doc:"Ours: the node's own status or reason when it differs (e.g. result error, ack rejected: unknown_action)."`
}

// OutputRef is the contract's OutputRef (inline only here).
type OutputRef struct {
	Kind        string `json:"kind" enum:"inline,object_store"`
	InlineBytes []byte `json:"inline_bytes,omitempty"`
}

// Execution is the contract's Execution plus our members.
type Execution struct {
	ID        string            `json:"id" format:"uuid"`
	ProjectID string            `json:"project_id" format:"uuid"`
	DomainID  string            `json:"domain_id" format:"uuid"`
	Action    string            `json:"action"`
	Type      string            `json:"type" enum:"builtin,hook"`
	Status    string            `json:"status" enum:"pending,ack,started,succeeded,failed,cancelled,timeout"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
	Targets   []ExecutionTarget `json:"targets" nullable:"false"`
	// Ours.
	Selector    string          `json:"selector,omitempty"`
	MaxInFlight int             `json:"max_in_flight,omitempty"`
	BatchSize   int             `json:"batch_size,omitempty"`
	Skipped     []SkippedTarget `json:"skipped,omitempty"`
}

// SkippedTarget is a node a dispatch resolved and did not run on.
type SkippedTarget struct {
	NodeID string `json:"node_id" format:"uuid"`
	Reason string `json:"reason" enum:"insufficient_relation,action_not_declared,drifted"`
	Detail string `json:"detail,omitempty" doc:"Why, in words (e.g. which drift)."`
}

// DispatchPreview answers a dry run: what would run, and what would not.
type DispatchPreview struct {
	Targets []string        `json:"targets" nullable:"false"`
	Skipped []SkippedTarget `json:"skipped" nullable:"false"`
}

// ExecutionCallbackRequest is the contract's node callback body.
type ExecutionCallbackRequest struct {
	Status   string `json:"status" enum:"pending,ack,started,succeeded,failed,cancelled,timeout"`
	ExitCode *int   `json:"exit_code,omitempty"`
	Error    string `json:"error,omitempty"`
	Output   *struct {
		Inline []byte `json:"inline,omitempty"`
	} `json:"output,omitempty"`
}

// ExecutionCallbackResponse is the contract's callback answer.
type ExecutionCallbackResponse struct {
	Status string `json:"status" enum:"pending,ack,started,succeeded,failed,cancelled,timeout"`
}

// CapabilityRow is the contract's capability inventory row.
type CapabilityRow struct {
	NodeID         string    `json:"node_id" format:"uuid"`
	DomainID       string    `json:"domain_id" format:"uuid"`
	BinaryVersion  string    `json:"binary_version"`
	BinaryChecksum []byte    `json:"binary_checksum,omitempty"`
	Status         string    `json:"status" enum:"match,drift,unknown"`
	ReportedAt     time.Time `json:"reported_at"`
	// Ours.
	BuiltinActions []string `json:"builtin_actions,omitempty"`
	Hooks          []string `json:"hooks,omitempty"`
}

// DiscoveredHook is the contract's hook inventory row.
type DiscoveredHook struct {
	NodeID           string `json:"node_id" format:"uuid"`
	DomainID         string `json:"domain_id" format:"uuid"`
	Name             string `json:"name"`
	ImageDigest      string `json:"image_digest"`
	ImageDigestMatch bool   `json:"image_digest_match"`
}

// IntegrityViolationRow is the contract's integrity violation.
type IntegrityViolationRow struct {
	ID                    string     `json:"id" format:"uuid"`
	NodeID                string     `json:"node_id" format:"uuid"`
	DomainID              string     `json:"domain_id" format:"uuid"`
	Kind                  string     `json:"kind" enum:"binary,hook,host_key"`
	Status                string     `json:"status" enum:"open,acknowledged,resolved"`
	ArtifactID            string     `json:"artifact_id"`
	DetectedAt            time.Time  `json:"detected_at"`
	AcknowledgedAt        *time.Time `json:"acknowledged_at,omitempty"`
	AcknowledgedBySubject string     `json:"acknowledged_by_subject,omitempty"`
	AcknowledgeReason     string     `json:"acknowledge_reason,omitempty"`
	// Ours.
	ExpectedChecksum string `json:"expected_checksum,omitempty"`
	ActualChecksum   string `json:"actual_checksum,omitempty"`
}

// IntegrityViolationsResponse answers a node's batch of violations.
type IntegrityViolationsResponse struct {
	AcceptedAt     time.Time `json:"accepted_at"`
	ViolationCount int       `json:"violation_count"`
}

// IntegrityViolationAcknowledgeRequest is the acknowledge body.
type IntegrityViolationAcknowledgeRequest struct {
	Reason string `json:"reason" minLength:"1" maxLength:"1024"`
}
