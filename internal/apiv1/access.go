package apiv1

import (
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// SessionTarget is the contract's SessionTarget: exactly the member of the
// session's kind.
type SessionTarget = nodeproto.SessionTarget

// IssueSessionRequest is the body of POST /v1/projects/{project_id}/sessions.
type IssueSessionRequest struct {
	ResourceID          string        `json:"resource_id" format:"uuid"`
	Kind                string        `json:"kind" enum:"ssh,k8s,tcp"`
	Target              SessionTarget `json:"target"`
	RequestedTTLSeconds int           `json:"requested_ttl_seconds,omitempty" minimum:"1"`
	IdempotencyKey      string        `json:"idempotency_key,omitempty" maxLength:"255"`
	PublicKey           string        `json:"public_key,omitempty" maxLength:"8192" doc:"Ours: the operator's OpenSSH public key (one authorized_keys line); required for ssh sessions, which accept only this key, unless terminal is set."`
	Terminal            bool          `json:"terminal,omitempty" doc:"Ours, ssh only, instead of public_key: the control plane holds the session's key and the session is used from the dashboard's browser terminal (GET …/sessions/{session_id}/terminal)."`
}

// Session is the contract's Session; the token is never part of it.
type Session struct {
	ID                 string        `json:"id" format:"uuid"`
	ProjectID          string        `json:"project_id" format:"uuid"`
	DomainID           string        `json:"domain_id" format:"uuid"`
	ResourceID         string        `json:"resource_id" format:"uuid"`
	IdentityID         string        `json:"identity_id" format:"uuid"`
	Kind               string        `json:"kind" enum:"ssh,k8s,tcp"`
	Status             string        `json:"status" enum:"active,revoked,expired"`
	IssuedAt           time.Time     `json:"issued_at"`
	ExpiresAt          time.Time     `json:"expires_at"`
	LastActiveAt       time.Time     `json:"last_active_at"`
	IdleTimeoutSeconds int           `json:"idle_timeout_seconds,omitempty"`
	RevokedAt          *time.Time    `json:"revoked_at,omitempty"`
	RevokeReason       string        `json:"revoke_reason,omitempty" enum:"operator_request,policy_violation,identity_compromise,resource_decommissioned,ttl_expired,idle_timeout"`
	Target             SessionTarget `json:"target"`
	// Ours: the node the session reaches, and whether a recording exists.
	NodeID       string `json:"node_id,omitempty" format:"uuid"`
	HasRecording bool   `json:"has_recording,omitempty"`
	// Ours: an ssh session issued for the browser terminal.
	Terminal bool `json:"terminal,omitempty"`
}

// IssuedSession is the 201 answer of an issuance: the token, once.
type IssuedSession struct {
	SessionID string    `json:"session_id" format:"uuid"`
	Token     string    `json:"token" doc:"The EdDSA session JWT; returned only here."`
	ExpiresAt time.Time `json:"expires_at"`
	Session   Session   `json:"session"`
}

// RevokeSessionRequest is the body of …/sessions/{session_id}:revoke.
type RevokeSessionRequest struct {
	RevokeReason string `json:"revoke_reason" enum:"operator_request,policy_violation,identity_compromise,resource_decommissioned"`
}
