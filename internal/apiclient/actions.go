package apiclient

import (
	"context"
	"net/http"
	"strconv"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// The fleet-operation shapes are apiv1's (api.md §3.10); the aliases let
// callers stay on this package.
type (
	DispatchExecutionRequest = apiv1.DispatchExecutionRequest
	DispatchPreview          = apiv1.DispatchPreview
	Execution                = apiv1.Execution
	ExecutionTarget          = apiv1.ExecutionTarget
	SkippedTarget            = apiv1.SkippedTarget
	CapabilityRow            = apiv1.CapabilityRow
	DiscoveredHook           = apiv1.DiscoveredHook
	IntegrityViolation       = apiv1.IntegrityViolationRow
)

// Execution and target statuses (the contract's ExecutionStatus).
const (
	ExecutionPending   = "pending"
	ExecutionAck       = "ack"
	ExecutionStarted   = "started"
	ExecutionSucceeded = "succeeded"
	ExecutionFailed    = "failed"
	ExecutionCancelled = "cancelled"
	ExecutionTimeout   = "timeout"
)

// ExecutionStatuses lists every status, in lifecycle order.
var ExecutionStatuses = []string{ExecutionPending, ExecutionAck, ExecutionStarted, ExecutionSucceeded,
	ExecutionFailed, ExecutionCancelled, ExecutionTimeout}

// ExecutionFinal reports whether an execution or target status is final.
func ExecutionFinal(status string) bool {
	switch status {
	case ExecutionSucceeded, ExecutionFailed, ExecutionCancelled, ExecutionTimeout:
		return true
	}
	return false
}

// ExecutionFilter narrows ListExecutions; zero fields are not sent.
type ExecutionFilter struct {
	Status     string
	ActionName string
}

// CapabilityFilter narrows ListCapabilities; zero fields are not sent.
type CapabilityFilter struct {
	NodeID string
	Status string // match, drift or unknown
}

// HookFilter narrows ListHooks; zero fields are not sent.
type HookFilter struct {
	DomainID  string
	ProjectID string
	// ImageDigestMatch, when set, keeps only matching (true) or
	// mismatching (false) hooks.
	ImageDigestMatch *bool
}

// IntegrityFilter narrows ListIntegrityViolations; zero fields are not
// sent.
type IntegrityFilter struct {
	DomainID  string
	ProjectID string
	NodeID    string
	Kind      string // binary, hook or host_key
	Status    string // open, acknowledged or resolved
}

// executionsPath is /v1/projects/{project_id}/executions followed by
// suffix (":dispatch", ":preview" or "").
func executionsPath(projectID, suffix string) (string, error) {
	if err := requireID("project id", projectID); err != nil {
		return "", err
	}
	return pathf("/v1/projects/", projectID, "/executions"+suffix), nil
}

// executionPath is …/executions/{execution_id} followed by suffix.
func executionPath(projectID, executionID, suffix string) (string, error) {
	if err := requireID("project id", projectID); err != nil {
		return "", err
	}
	if err := requireID("execution id", executionID); err != nil {
		return "", err
	}
	return pathf("/v1/projects/", projectID, "/executions/", executionID, suffix), nil
}

// DispatchExecution calls POST /v1/projects/{project_id}/executions:dispatch
// and returns the created execution (201), or the original one when the
// idempotency key was used before. Nodes the dispatch did not run on are
// in Execution.Skipped with their reason; when none is left the answer is
// 422 selector_empty_cohort.
func (c *Client) DispatchExecution(ctx context.Context, projectID string, in DispatchExecutionRequest) (*Execution, error) {
	p, err := executionsPath(projectID, ":dispatch")
	if err != nil {
		return nil, err
	}
	var out Execution
	err = c.do(ctx, request{method: http.MethodPost, path: p, body: in}, &out)
	return result(&out, err)
}

// PreviewExecution calls POST …/executions:preview: the targets a dispatch
// of in would run on and those it would skip, without running anything.
func (c *Client) PreviewExecution(ctx context.Context, projectID string, in DispatchExecutionRequest) (*DispatchPreview, error) {
	p, err := executionsPath(projectID, ":preview")
	if err != nil {
		return nil, err
	}
	var out DispatchPreview
	err = c.do(ctx, request{method: http.MethodPost, path: p, body: in}, &out)
	return result(&out, err)
}

// ListExecutions calls GET /v1/projects/{project_id}/executions for one
// page, oldest first. Items carry metadata only (no targets).
func (c *Client) ListExecutions(ctx context.Context, projectID string, f ExecutionFilter, opts ListOptions) (*apiv1.List[Execution], error) {
	p, err := executionsPath(projectID, "")
	if err != nil {
		return nil, err
	}
	q := opts.values()
	setAll(q.Set, map[string]string{"status": f.Status, "action_name": f.ActionName})
	var out apiv1.List[Execution]
	err = c.do(ctx, request{method: http.MethodGet, path: p, query: q}, &out)
	return result(&out, err)
}

// GetExecution calls GET …/executions/{execution_id}: the execution with
// every target's status, exit code, duration and output.
func (c *Client) GetExecution(ctx context.Context, projectID, executionID string) (*Execution, error) {
	p, err := executionPath(projectID, executionID, "")
	if err != nil {
		return nil, err
	}
	var out Execution
	err = c.do(ctx, request{method: http.MethodGet, path: p}, &out)
	return result(&out, err)
}

// CancelExecution calls POST …/executions/{execution_id}/cancel: targets
// not started are cancelled, running ones are told to stop. A finished
// execution is answered as it is.
func (c *Client) CancelExecution(ctx context.Context, projectID, executionID string) (*Execution, error) {
	p, err := executionPath(projectID, executionID, "/cancel")
	if err != nil {
		return nil, err
	}
	var out Execution
	err = c.do(ctx, request{method: http.MethodPost, path: p}, &out)
	return result(&out, err)
}

// ListCapabilities calls GET /v1/projects/{project_id}/capabilities for one
// page: each node's reported binary, built-ins and hooks, with its drift
// status.
func (c *Client) ListCapabilities(ctx context.Context, projectID string, f CapabilityFilter, opts ListOptions) (*apiv1.List[CapabilityRow], error) {
	if err := requireID("project id", projectID); err != nil {
		return nil, err
	}
	q := opts.values()
	setAll(q.Set, map[string]string{"node_id": f.NodeID, "status": f.Status})
	var out apiv1.List[CapabilityRow]
	err := c.do(ctx, request{method: http.MethodGet, path: pathf("/v1/projects/", projectID, "/capabilities"), query: q}, &out)
	return result(&out, err)
}

// ListHooks calls GET /v1/hooks for one page: the hooks nodes declared,
// on the nodes the caller may read.
func (c *Client) ListHooks(ctx context.Context, f HookFilter, opts ListOptions) (*apiv1.List[DiscoveredHook], error) {
	q := opts.values()
	setAll(q.Set, map[string]string{"domain_id": f.DomainID, "project_id": f.ProjectID})
	if f.ImageDigestMatch != nil {
		q.Set("image_digest_match", strconv.FormatBool(*f.ImageDigestMatch))
	}
	var out apiv1.List[DiscoveredHook]
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/hooks", query: q}, &out)
	return result(&out, err)
}

// ListIntegrityViolations calls GET /v1/integrity-violations for one page,
// oldest first, on the nodes the caller may read.
func (c *Client) ListIntegrityViolations(ctx context.Context, f IntegrityFilter, opts ListOptions) (*apiv1.List[IntegrityViolation], error) {
	q := opts.values()
	setAll(q.Set, map[string]string{"domain_id": f.DomainID, "project_id": f.ProjectID, "node_id": f.NodeID,
		"kind": f.Kind, "status": f.Status})
	var out apiv1.List[IntegrityViolation]
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/integrity-violations", query: q}, &out)
	return result(&out, err)
}

// AcknowledgeIntegrityViolation calls POST
// /v1/integrity-violations/{id}/acknowledge with the operator's reason:
// the node is scheduled again once it has no open violation. It is a
// step-up operation: a sign-in without the IdP binding's required acr/amr
// is refused with 401 step_up_required (Error.Challenge holds the
// challenge); a violation that is not open is 409 illegal_transition.
func (c *Client) AcknowledgeIntegrityViolation(ctx context.Context, id, reason string) (*IntegrityViolation, error) {
	if err := requireID("integrity violation id", id); err != nil {
		return nil, err
	}
	var out IntegrityViolation
	err := c.do(ctx, request{method: http.MethodPost, path: pathf("/v1/integrity-violations/", id, "/acknowledge"),
		body: apiv1.IntegrityViolationAcknowledgeRequest{Reason: reason}}, &out)
	return result(&out, err)
}

// setAll calls set for every non-empty value.
func setAll(set func(k, v string), kv map[string]string) {
	for k, v := range kv {
		if v != "" {
			set(k, v)
		}
	}
}
