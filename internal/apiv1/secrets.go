package apiv1

import "time"

// SecretSummary is one row of the contract's secret inventory
// (GET /v1/projects/{project_id}/secrets): names and versions only, never a
// value, a path or wrapping material.
type SecretSummary struct {
	Name           string `json:"name" doc:"The secret's name: ^[a-z][a-z0-9_-]{0,62}$."`
	CurrentVersion int64  `json:"current_version" doc:"The newest version, counted from 1."`
}

// Secret is ours: one secret's metadata (GET, PUT answers). The value is
// write-only and never part of it.
type Secret struct {
	Name           string    `json:"name"`
	ProjectID      string    `json:"project_id" format:"uuid"`
	CurrentVersion int64     `json:"current_version"`
	Bindings       int       `json:"bindings" doc:"How many bindings deliver it to nodes."`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// SecretPutRequest writes a new version (api.md: PUT …/secrets/{name}).
type SecretPutRequest struct {
	Value           string `json:"value" doc:"The value, standard base64 (at most 512 KiB decoded). Write-only."`
	ExpectedVersion *int64 `json:"expected_version,omitempty" minimum:"0" doc:"Check-and-set: the current version the writer expects (0: the secret must not exist)."`
}

// SecretWriteResult answers a write: the contract's {name, current_version}
// and, ours, the Project.
type SecretWriteResult struct {
	Name           string `json:"name"`
	CurrentVersion int64  `json:"current_version"`
	ProjectID      string `json:"project_id" format:"uuid"`
}

// SecretVersion is one version of the history (no value).
type SecretVersion struct {
	Version     int64      `json:"version"`
	CreatedAt   time.Time  `json:"created_at"`
	DestroyedAt *time.Time `json:"destroyed_at,omitempty"`
}

// SecretBinding is ours: which nodes of the Project receive the secret.
// Exactly one of NodeID and Selector is set.
type SecretBinding struct {
	ID           string    `json:"id" format:"uuid"`
	NodeID       string    `json:"node_id,omitempty" doc:"A node of the secret's Project."`
	Selector     string    `json:"selector,omitempty" doc:"A label selector over the Project's nodes (api.md §3.4)."`
	MatchedNodes int       `json:"matched_nodes" doc:"How many live nodes the binding delivers to now."`
	CreatedAt    time.Time `json:"created_at"`
	CreatedBy    string    `json:"created_by"`
}

// SecretBindingRequest creates a binding: a node id or a selector.
type SecretBindingRequest struct {
	NodeID   string `json:"node_id,omitempty" doc:"Deliver to this node (a node of the secret's Project)."`
	Selector string `json:"selector,omitempty" maxLength:"1024" doc:"Deliver to the Project's nodes this label selector matches."`
}

// SecretRevealRequest asks for a value back (sensitive; audited).
type SecretRevealRequest struct {
	Version int64 `json:"version,omitempty" minimum:"0" doc:"The version to reveal; the current one when 0 or absent."`
}

// SecretReveal carries a value back to an operator allowed to reveal it.
type SecretReveal struct {
	Name    string `json:"name"`
	Version int64  `json:"version"`
	Value   string `json:"value" doc:"Standard base64 of the value."`
}
