package apiv1

import "time"

// IssueBootstrapToken is the body of POST
// /v1/projects/{project_id}/bootstrap-tokens (api.md §3.5).
type IssueBootstrapToken struct {
	Kind       string `json:"kind" enum:"node,bridge" doc:"Resource kind the enrolled node gets."`
	EnvPrefix  string `json:"env_prefix" pattern:"^[a-z]+$" minLength:"1" maxLength:"32" example:"prod"`
	TTLSeconds int    `json:"ttl_seconds,omitempty" minimum:"300" maximum:"86400" doc:"Lifetime; default 3600."`
	// MaxUses is ours: how many nodes the token may enrol (default 1).
	MaxUses int `json:"max_uses,omitempty" minimum:"1" maximum:"10000" doc:"Enrolments allowed; default 1 (one-shot)."`
	// Labels are ours: applied to every node the token enrols.
	Labels map[string]string `json:"labels,omitempty" doc:"Qualified keys of label Definitions → value; checked at issue (with the issuer's assign permission) and assigned to each enrolled node."`
}

// IssuedBootstrapToken answers an issue: the plaintext, shown once.
type IssuedBootstrapToken struct {
	TokenID   string    `json:"token_id" format:"uuid"`
	Token     string    `json:"token" doc:"The plaintext psb_ token; returned once."`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// BootstrapToken is a token's metadata; the plaintext is never returned.
type BootstrapToken struct {
	ID             string            `json:"id" format:"uuid"`
	ProjectID      string            `json:"project_id" format:"uuid"`
	Kind           string            `json:"kind" enum:"node,bridge"`
	EnvPrefix      string            `json:"env_prefix"`
	IssuedAt       time.Time         `json:"issued_at"`
	ExpiresAt      time.Time         `json:"expires_at"`
	ConsumedAt     *time.Time        `json:"consumed_at,omitempty"`
	RevokedAt      *time.Time        `json:"revoked_at,omitempty"`
	IssuedByUserID string            `json:"issued_by_user_id"`
	MaxUses        int               `json:"max_uses"`
	Uses           int               `json:"uses"`
	Labels         map[string]string `json:"labels,omitempty"`
}

// NodeSummary is a list row of GET /v1/nodes (api.md §3.1).
type NodeSummary struct {
	ID        string    `json:"id" format:"uuid"`
	DomainID  string    `json:"domain_id" format:"uuid"`
	Name      string    `json:"name,omitempty"`
	Kind      string    `json:"kind,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// NodeReachability is a node's health projection (api.md §3.6).
type NodeReachability struct {
	State           string     `json:"state" enum:"healthy,stale,unreachable"`
	LastHeartbeatAt *time.Time `json:"last_heartbeat_at,omitempty"`
	ChangedAt       time.Time  `json:"changed_at"`
}

// Node is the full read model of GET /v1/nodes/{id} (api.md §4.2).
type Node struct {
	ID            string            `json:"id" format:"uuid"`
	DomainID      string            `json:"domain_id" format:"uuid"`
	ProjectID     string            `json:"project_id" format:"uuid"`
	ResourceID    string            `json:"resource_id" format:"uuid"`
	Name          string            `json:"name,omitempty"`
	Kind          string            `json:"kind,omitempty"`
	MeshIP        string            `json:"mesh_ip"`
	PublicKey     string            `json:"public_key"`
	Reachability  NodeReachability  `json:"reachability"`
	BinaryVersion string            `json:"binary_version,omitempty"`
	Architecture  string            `json:"architecture,omitempty"`
	Labels        map[string]string `json:"labels,omitempty" doc:"Labels bound by the bootstrap token and the agent's metadata."`
	CreatedAt     time.Time         `json:"created_at"`
	UpdatedAt     time.Time         `json:"updated_at"`
}

// SigningKey is one of a Domain's Ed25519 signing keys (api.md §4.2).
type SigningKey struct {
	KID       string     `json:"kid"`
	Algorithm string     `json:"algorithm" enum:"EdDSA"`
	PublicKey string     `json:"public_key" doc:"Standard base64 of the 32-byte Ed25519 public key."`
	Status    string     `json:"status" enum:"active,retiring,retired"`
	CreatedAt time.Time  `json:"created_at"`
	NotAfter  *time.Time `json:"not_after,omitempty"`
}

// RotateSigningKey is the body of POST /v1/domains/{id}/signing-keys:rotate.
type RotateSigningKey struct {
	GraceSeconds int `json:"grace_seconds,omitempty" minimum:"3600" maximum:"604800" doc:"How long the old key keeps verifying; default 86400."`
}

// SigningKeyRotation answers a rotation: the new key and the retiring one.
type SigningKeyRotation struct {
	Active   SigningKey `json:"active"`
	Retiring SigningKey `json:"retiring"`
}
