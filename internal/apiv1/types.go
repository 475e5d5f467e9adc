package apiv1

import (
	"encoding/json"
	"time"
)

// List is the envelope of every paginated list (api.md §2.5). NextCursor is
// omitted at the end of the list.
type List[T any] struct {
	Items       []T    `json:"items" nullable:"false"`
	NextCursor  string `json:"next_cursor,omitempty"`
	EmptyReason string `json:"empty_reason,omitempty" enum:"no_rebac_membership"`
}

// Problem is an RFC 9457 problem body with the plexsphere extensions.
type Problem struct {
	Type          string       `json:"type"`
	Title         string       `json:"title"`
	Status        int          `json:"status"`
	Detail        string       `json:"detail"`
	Instance      string       `json:"instance"`
	Code          string       `json:"code"`
	CorrelationID string       `json:"correlation_id,omitempty"`
	Reason        string       `json:"reason,omitempty"`
	RelationPath  []string     `json:"relation_path,omitzero" doc:"Relations traversed; present (possibly empty) on every permission_denied."`
	ChildCounts   *ChildCounts `json:"child_counts,omitempty"`
	// AssignmentCounts is our addition on a label Definition change refused
	// because of the assignments it would invalidate or leave.
	AssignmentCounts *LabelAssignmentCounts `json:"assignment_counts,omitempty"`
	ProjectCounts    *ProjectCounts         `json:"project_child_counts,omitempty"`
	Errors           []ProblemDetail        `json:"errors,omitempty"`
}

// ProblemDetail points at one offending input.
type ProblemDetail struct {
	Location string `json:"location,omitempty"`
	Message  string `json:"message"`
}

// ChildCounts is the delete-guard payload of a non-empty Domain.
type ChildCounts struct {
	Projects    int `json:"projects"`
	Groups      int `json:"groups"`
	Identities  int `json:"identities"`
	IdPBindings int `json:"idp_bindings"`
	Nodes       int `json:"nodes"`
}

// ProjectCounts is the delete-guard payload of a non-empty Project.
type ProjectCounts struct {
	Resources      int `json:"resources"`
	Nodes          int `json:"nodes"`
	RelationTuples int `json:"relation_tuples"`
	Policies       int `json:"policies"`
}

// Health is the answer of GET /v1/health.
type Health struct {
	Status string        `json:"status" enum:"ok,degraded,down"`
	Checks []HealthCheck `json:"checks"`
}

// HealthCheck is one dependency check.
type HealthCheck struct {
	Name   string `json:"name"`
	Status string `json:"status" enum:"ok,degraded,down"`
	Detail string `json:"detail"`
}

// Version is the answer of GET /v1/version.
type Version struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Date    string `json:"date" format:"date-time" doc:"RFC 3339 build time: the release stamp, else the VCS commit time, else the binary's modification time, else the Unix epoch."`
}

// Reachability is a Domain's reachability policy; durations are Go duration
// strings, as in the contract.
type Reachability struct {
	HeartbeatInterval string `json:"heartbeat_interval" example:"30s"`
	StaleAfter        string `json:"stale_after" example:"90s"`
	UnreachableAfter  string `json:"unreachable_after" example:"300s"`
}

// Domain is a tenancy and trust boundary.
type Domain struct {
	ID           string       `json:"id" format:"uuid"`
	Name         string       `json:"name"`
	Slug         string       `json:"slug"`
	Description  string       `json:"description,omitempty"`
	Region       string       `json:"region,omitempty"`
	MeshCIDR     string       `json:"mesh_cidr"`
	Reachability Reachability `json:"reachability"`
	CreatedAt    time.Time    `json:"created_at"`
	UpdatedAt    time.Time    `json:"updated_at"`
}

// CreateDomain is the body of POST /v1/domains.
type CreateDomain struct {
	Name         string        `json:"name" minLength:"1" maxLength:"128"`
	Slug         string        `json:"slug" pattern:"^[a-z0-9]+(-[a-z0-9]+)*$" maxLength:"64"`
	Description  string        `json:"description,omitempty" maxLength:"1024"`
	Region       string        `json:"region,omitempty" maxLength:"64"`
	MeshCIDR     string        `json:"mesh_cidr" maxLength:"64" example:"100.64.0.0/16"`
	Reachability *Reachability `json:"reachability,omitempty"`
}

// PatchDomain is the body of PATCH /v1/domains/{id}. Slug is accepted only to
// be refused with slug_immutable.
type PatchDomain struct {
	Name         *string       `json:"name,omitempty" minLength:"1" maxLength:"128"`
	Slug         *string       `json:"slug,omitempty" doc:"Immutable; sending it is an error."`
	Description  *string       `json:"description,omitempty" maxLength:"1024"`
	Region       *string       `json:"region,omitempty" maxLength:"64"`
	MeshCIDR     *string       `json:"mesh_cidr,omitempty" maxLength:"64"`
	Reachability *Reachability `json:"reachability,omitempty"`
}

// Project is the unit of ownership and policy.
type Project struct {
	ID           string    `json:"id" format:"uuid"`
	DomainID     string    `json:"domain_id" format:"uuid"`
	Name         string    `json:"name"`
	Slug         string    `json:"slug"`
	Description  string    `json:"description,omitempty"`
	SubRangeCIDR string    `json:"sub_range_cidr,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// CreateProject is the body of POST /v1/projects.
type CreateProject struct {
	DomainID     string `json:"domain_id" maxLength:"64"`
	Name         string `json:"name" minLength:"1" maxLength:"128"`
	Slug         string `json:"slug" pattern:"^[a-z0-9]+(-[a-z0-9]+)*$" maxLength:"64"`
	Description  string `json:"description,omitempty" maxLength:"1024"`
	SubRangeCIDR string `json:"sub_range_cidr,omitempty" maxLength:"64"`
}

// PatchProject is the body of PATCH /v1/projects/{id}.
type PatchProject struct {
	Name            *string `json:"name,omitempty" minLength:"1" maxLength:"128"`
	Slug            *string `json:"slug,omitempty" doc:"Immutable; sending it is an error."`
	Description     *string `json:"description,omitempty" maxLength:"1024"`
	SubRangeCIDR    *string `json:"sub_range_cidr,omitempty" maxLength:"64"`
	ReleaseSubRange *bool   `json:"release_sub_range,omitempty"`
}

// Resource is anything managed inside a Project.
type Resource struct {
	ID          string    `json:"id" format:"uuid"`
	ProjectID   string    `json:"project_id" format:"uuid"`
	DomainID    string    `json:"domain_id" format:"uuid"`
	Kind        string    `json:"kind"`
	ExternalRef string    `json:"external_ref,omitempty"`
	Origin      string    `json:"origin" enum:"adopted,provisioned"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// CreateResource is the body of POST /v1/projects/{project_id}/resources.
type CreateResource struct {
	Origin             string          `json:"origin" enum:"adopted,provisioned"`
	Kind               string          `json:"kind" minLength:"1" maxLength:"64"`
	ExternalRef        string          `json:"external_ref,omitempty" maxLength:"256"`
	BlueprintVersionID string          `json:"blueprint_version_id,omitempty"`
	CloudCredentialID  string          `json:"cloud_credential_id,omitempty"`
	Parameters         json.RawMessage `json:"parameters,omitempty"`
}

// APIToken is the metadata of an API token; the plaintext is never listed.
type APIToken struct {
	ID         string     `json:"id" format:"uuid"`
	EnvPrefix  string     `json:"env_prefix"`
	Prefix     string     `json:"prefix" doc:"The first characters of the token, for recognition."`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at" nullable:"false" doc:"Always present; 9999-12-31T23:59:59Z for a token that never expires (never_expires)."`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RotatedAt  *time.Time `json:"rotated_at,omitempty"`
	// NeverExpires is our addition: the break-glass token has no expiry.
	NeverExpires bool `json:"never_expires,omitempty" doc:"Addition: true when the token never expires; expires_at then carries the far-future sentinel."`
}

// IssueToken is the body of POST /v1/auth/tokens.
type IssueToken struct {
	IdentityRef string `json:"identity_ref,omitempty" doc:"Must name the caller; defaults to the caller."`
	EnvPrefix   string `json:"env_prefix" enum:"dev,stage,prod"`
	TTLSeconds  int64  `json:"ttl_seconds,omitempty" minimum:"0" maximum:"31536000"`
}

// IssuedToken carries a token plaintext, returned once.
type IssuedToken struct {
	ID               string     `json:"id" format:"uuid"`
	Plaintext        string     `json:"plaintext"`
	EnvPrefix        string     `json:"env_prefix"`
	ExpiresAt        *time.Time `json:"expires_at" nullable:"false" doc:"Always present; 9999-12-31T23:59:59Z for a token that never expires (never_expires)."`
	RotationDeadline *time.Time `json:"rotation_deadline,omitempty" doc:"Present on rotation: when the previous plaintext stops working (the Sunset header)."`
	NeverExpires     bool       `json:"never_expires,omitempty" doc:"Addition: true when the token never expires."`
}

// Whoami describes the caller.
type Whoami struct {
	PrincipalType string   `json:"principal_type" enum:"user,service" doc:"The contract's spelling: service for a service identity."`
	Subject       string   `json:"subject"`
	DomainID      string   `json:"domain_id,omitempty"`
	Email         string   `json:"email,omitempty"`
	ACR           string   `json:"acr,omitempty"`
	AMR           []string `json:"amr"`
}
