package cpclient

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// ExecutionAck acknowledges or rejects an action_request (POST
// /v1/nodes/{id}/executions/{execution_id}/ack, §12.5), retrying a
// transient failure a few times.
func (c *Client) ExecutionAck(ctx context.Context, nodeID, execID string, ack nodeproto.ExecutionAck) error {
	cr := c.creds.Load()
	if cr == nil {
		return ErrNoCredentials
	}
	path := executionPath(nodeID, execID) + "/ack"
	return retrySession(ctx, func() error {
		return c.do(ctx, "execution ack", http.MethodPost, path, cr.nsk, ack, nil)
	})
}

// ExecutionResult delivers an execution's result (POST …/result, §12.5)
// in one attempt: the executor keeps the result queued and retries it
// until the control plane answers 2xx or Permanent(err).
func (c *Client) ExecutionResult(ctx context.Context, nodeID, execID string, r nodeproto.ExecutionResult) error {
	cr := c.creds.Load()
	if cr == nil {
		return ErrNoCredentials
	}
	return c.do(ctx, "execution result", http.MethodPost, executionPath(nodeID, execID)+"/result", cr.nsk, r, nil)
}

// PutCapabilities replaces the node's capability manifest (PUT
// /v1/nodes/{id}/capabilities, §5.2 endpoint 10).
func (c *Client) PutCapabilities(ctx context.Context, nodeID string, caps nodeproto.Capabilities) error {
	cr := c.creds.Load()
	if cr == nil {
		return ErrNoCredentials
	}
	path := "/v1/nodes/" + url.PathEscape(nodeID) + "/capabilities"
	return retrySession(ctx, func() error {
		return c.do(ctx, "capabilities", http.MethodPut, path, cr.nsk, caps, nil)
	})
}

// IntegrityViolation reports a changed binary or hook (POST
// /v1/nodes/{id}/integrity/violations, §12.5).
func (c *Client) IntegrityViolation(ctx context.Context, nodeID string, v nodeproto.IntegrityViolation) error {
	cr := c.creds.Load()
	if cr == nil {
		return ErrNoCredentials
	}
	path := "/v1/nodes/" + url.PathEscape(nodeID) + "/integrity/violations"
	return retrySession(ctx, func() error {
		return c.do(ctx, "integrity violation", http.MethodPost, path, cr.nsk, v, nil)
	})
}

// Permanent reports whether err is an answer that repeating the same
// request cannot change: a 4xx other than 408 and 429 (for example 409
// execution_already_terminal, or 401 for a revoked node), or missing
// credentials.
func Permanent(err error) bool {
	if errors.Is(err, ErrNoCredentials) {
		return true
	}
	var se *StatusError
	if !errors.As(err, &se) {
		return false
	}
	return se.Status >= 400 && se.Status < 500 && se.Status != http.StatusRequestTimeout && se.Status != http.StatusTooManyRequests
}

// RetryAfter is the Retry-After of err's answer, 0 when none.
func RetryAfter(err error) time.Duration {
	var se *StatusError
	if errors.As(err, &se) {
		return se.RetryAfter
	}
	return 0
}

func executionPath(nodeID, execID string) string {
	return "/v1/nodes/" + url.PathEscape(nodeID) + "/executions/" + url.PathEscape(execID)
}
