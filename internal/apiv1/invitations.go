package apiv1

import "time"

// InvitationTuple is the contract's InvitationInitialTuple: a relation on
// this Domain, one of its Projects, or one of its groups (member), granted
// to the invitee when the invitation is redeemed.
type InvitationTuple struct {
	Relation      string         `json:"relation" minLength:"1" maxLength:"64"`
	Object        string         `json:"object" minLength:"1" maxLength:"128"`
	CaveatContext map[string]any `json:"caveat_context,omitempty" doc:"Not supported: a non-empty context is 422 invalid_caveat_context."`
}

// CreateInvitation is the contract's InvitationCreateRequest.
// ExternalSubject is the invitee's e-mail address; it is redeemed by the
// first sign-in whose ID token carries it verified.
type CreateInvitation struct {
	ExternalSubject string            `json:"external_subject" minLength:"1" maxLength:"255" doc:"The invitee's e-mail address (matched case-insensitively against the verified email claim)."`
	TTLSeconds      int64             `json:"ttl_seconds,omitempty" doc:"60..604800; default 86400."`
	InitialTuples   []InvitationTuple `json:"initial_tuples,omitempty" doc:"At most 32."`
}

// Invitation is the contract's InvitationResponse plus sign_in_url (ours).
type Invitation struct {
	ID                       string            `json:"id" format:"uuid"`
	DomainID                 string            `json:"domain_id" format:"uuid"`
	ExternalSubjectPseudonym string            `json:"external_subject_pseudonym" pattern:"^[0-9a-f]{64}$"`
	Status                   string            `json:"status" enum:"pending,accepted,revoked,expired"`
	ExpiresAt                time.Time         `json:"expires_at"`
	CreatedAt                time.Time         `json:"created_at"`
	AcceptedAt               *time.Time        `json:"accepted_at,omitempty"`
	AcceptedUserID           string            `json:"accepted_user_id,omitempty"`
	RevokedAt                *time.Time        `json:"revoked_at,omitempty"`
	ExpiredAt                *time.Time        `json:"expired_at,omitempty"`
	InitialTuples            []InvitationTuple `json:"initial_tuples"`
	SignInURL                string            `json:"sign_in_url,omitempty" doc:"Ours: where the invitee signs in (POST {domain_id} to start a sign-in with the Domain's IdP). No e-mail is sent."`
}

// IdentityGroup is a group an identity belongs to (ours).
type IdentityGroup struct {
	ID          string `json:"id"`
	Slug        string `json:"slug"`
	DisplayName string `json:"display_name"`
	Source      string `json:"source"`
}

// IdentityRole is one effective role (ours): relation on object, as the
// ReBAC engine's lookup resolves it through groups and inheritance.
type IdentityRole struct {
	Object   string `json:"object"`
	Relation string `json:"relation"`
}

// Identity is the contract's IdentitySummary and IdentityDetail (the
// detail adds updated_at, external_subject, email and effective_roles).
// idp_binding_id and groups are ours.
type Identity struct {
	ID                       string          `json:"id" format:"uuid"`
	Kind                     string          `json:"kind" enum:"user,service-identity"`
	DomainID                 string          `json:"domain_id" format:"uuid"`
	DisplayName              string          `json:"display_name"`
	ExternalSubjectPseudonym string          `json:"external_subject_pseudonym" pattern:"^[0-9a-f]{64}$"`
	ExternalSubject          string          `json:"external_subject,omitempty"`
	Email                    string          `json:"email,omitempty"`
	LastSignInAt             *time.Time      `json:"last_sign_in_at"`
	CreatedAt                time.Time       `json:"created_at"`
	UpdatedAt                *time.Time      `json:"updated_at,omitempty"`
	IdPBindingID             string          `json:"idp_binding_id,omitempty" doc:"Ours: the IdP binding of the latest sign-in (or of the service identity)."`
	Groups                   []IdentityGroup `json:"groups" doc:"Ours: the groups it is a direct member of."`
	EffectiveRoles           []IdentityRole  `json:"effective_roles,omitempty" doc:"Ours, on the detail only: its roles on this Domain and its Projects."`
}
