package apiclient

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Session kinds (the contract's SessionKind).
const (
	SessionKindSSH = "ssh"
	SessionKindK8s = "k8s"
	SessionKindTCP = "tcp"
)

// Operator revoke reasons accepted by RevokeSession (the contract's
// RevokeReason minus the sweeper's ttl_expired and idle_timeout).
var RevokeReasons = []string{"operator_request", "policy_violation", "identity_compromise", "resource_decommissioned"}

// MaxRecording bounds a recording GetRecording is willing to read: four
// times plexd's default cap of 16 MiB.
const MaxRecording = 64 << 20

// The session shapes are apiv1's (the contract's, api.md §3.9); the
// aliases spare callers an import of the node protocol package for the
// target variants.
type (
	Session             = apiv1.Session
	IssuedSession       = apiv1.IssuedSession
	IssueSessionRequest = apiv1.IssueSessionRequest
	SessionTarget       = nodeproto.SessionTarget
	SSHTarget           = nodeproto.SSHTarget
	K8sTarget           = nodeproto.K8sTarget
	TCPTarget           = nodeproto.TCPTarget
)

// SessionFilter narrows ListSessions; zero fields are not sent.
type SessionFilter struct {
	Status     string
	Kind       string
	IdentityID string
}

// sessionsPath is /v1/projects/{project_id}/sessions.
func sessionsPath(projectID string) (string, error) {
	if err := requireID("project id", projectID); err != nil {
		return "", err
	}
	return pathf("/v1/projects/", projectID, "/sessions"), nil
}

// sessionPath is /v1/projects/{project_id}/sessions/{session_id} followed
// by suffix.
func sessionPath(projectID, sessionID, suffix string) (string, error) {
	if err := requireID("project id", projectID); err != nil {
		return "", err
	}
	if err := requireID("session id", sessionID); err != nil {
		return "", err
	}
	return pathf("/v1/projects/", projectID, "/sessions/", sessionID, suffix), nil
}

// IssueSession calls POST /v1/projects/{project_id}/sessions. Refusals
// arrive as *Error: 403 (no connect on the Resource), 401
// step_up_required (Error.Challenge holds the WWW-Authenticate
// challenge), 429 or 409 session_limit_exceeded, 409
// resource_has_no_node.
func (c *Client) IssueSession(ctx context.Context, projectID string, in IssueSessionRequest) (*IssuedSession, error) {
	p, err := sessionsPath(projectID)
	if err != nil {
		return nil, err
	}
	if err := requireID("resource id", in.ResourceID); err != nil {
		return nil, err
	}
	var out IssuedSession
	err = c.do(ctx, request{method: http.MethodPost, path: p, body: in}, &out)
	return result(&out, err)
}

// ListSessions calls GET /v1/projects/{project_id}/sessions for one page,
// in issuance order.
func (c *Client) ListSessions(ctx context.Context, projectID string, f SessionFilter, opts ListOptions) (*apiv1.List[Session], error) {
	p, err := sessionsPath(projectID)
	if err != nil {
		return nil, err
	}
	q := opts.values()
	for k, v := range map[string]string{"status": f.Status, "kind": f.Kind, "identity_id": f.IdentityID} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out apiv1.List[Session]
	err = c.do(ctx, request{method: http.MethodGet, path: p, query: q}, &out)
	return result(&out, err)
}

// GetSession calls GET /v1/projects/{project_id}/sessions/{session_id}.
func (c *Client) GetSession(ctx context.Context, projectID, sessionID string) (*Session, error) {
	p, err := sessionPath(projectID, sessionID, "")
	if err != nil {
		return nil, err
	}
	var out Session
	err = c.do(ctx, request{method: http.MethodGet, path: p}, &out)
	return result(&out, err)
}

// RevokeSession calls POST …/sessions/{session_id}:revoke with reason (one
// of RevokeReasons). Revoking a revoked session succeeds again.
func (c *Client) RevokeSession(ctx context.Context, projectID, sessionID, reason string) error {
	p, err := sessionPath(projectID, sessionID, ":revoke")
	if err != nil {
		return err
	}
	body := apiv1.RevokeSessionRequest{RevokeReason: reason}
	return c.do(ctx, request{method: http.MethodPost, path: p, body: body}, nil)
}

// GetRecording calls GET …/sessions/{session_id}/recording: the raw
// asciicast v2 recording of an ssh session, at most MaxRecording bytes.
func (c *Client) GetRecording(ctx context.Context, projectID, sessionID string) ([]byte, error) {
	p, err := sessionPath(projectID, sessionID, "/recording")
	if err != nil {
		return nil, err
	}
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	resp, err := c.send(ctx, request{method: http.MethodGet, path: p,
		accept: "application/x-asciicast, application/octet-stream, " + mediaProblem})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxRecording+1))
	if err != nil {
		return nil, fmt.Errorf("apiclient: GET %s: %w", p, err)
	}
	if len(data) > MaxRecording {
		return nil, fmt.Errorf("apiclient: GET %s: recording is larger than %d bytes", p, MaxRecording)
	}
	return data, nil
}
