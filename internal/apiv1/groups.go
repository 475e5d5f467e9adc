package apiv1

import "time"

// Group sources and member kinds (api.md §3.2; the contract's GroupResponse
// and GroupMembershipResponse enums).
const (
	GroupSourceManual = "manual"
	GroupSourceIdP    = "idp"

	MemberUser            = "user"
	MemberServiceIdentity = "service_identity"
	MemberGroup           = "group"
)

// Group is a Domain's group of principals: managed by hand (source manual)
// or synced from an IdP binding's groups claim (source idp, read-only by
// hand). The contract's GroupResponse.
type Group struct {
	ID            string    `json:"id" format:"uuid"`
	DomainID      string    `json:"domain_id"`
	Slug          string    `json:"slug"`
	DisplayName   string    `json:"display_name"`
	Source        string    `json:"source" enum:"manual,idp"`
	IdPBindingID  string    `json:"idp_binding_id,omitempty" doc:"Present only when source=idp."`
	IdPClaimValue string    `json:"idp_claim_value,omitempty" doc:"Present only when source=idp."`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// CreateGroup is the body of POST /v1/admin/groups (the contract's
// GroupRequest). A source=idp group names its binding and claim value, so
// that grants can name it before its first member signs in.
type CreateGroup struct {
	DomainID      string `json:"domain_id" maxLength:"64"`
	Slug          string `json:"slug" minLength:"1" maxLength:"64" pattern:"^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$"`
	DisplayName   string `json:"display_name" minLength:"1" maxLength:"256"`
	Source        string `json:"source" enum:"manual,idp"`
	IdPBindingID  string `json:"idp_binding_id,omitempty" maxLength:"64" doc:"Required when source=idp; omitted when source=manual."`
	IdPClaimValue string `json:"idp_claim_value,omitempty" maxLength:"256" doc:"Required when source=idp; omitted when source=manual."`
}

// PatchGroup is the body of PATCH /v1/admin/groups/{id} (the contract's
// GroupUpdateRequest). Slug is accepted only to be refused with
// slug_immutable.
type PatchGroup struct {
	DisplayName string  `json:"display_name" minLength:"1" maxLength:"256"`
	Slug        *string `json:"slug,omitempty" doc:"Immutable; sending it is an error."`
}

// GroupMember is one membership of a group (the contract's
// GroupMembershipResponse).
type GroupMember struct {
	GroupID       string    `json:"group_id" format:"uuid"`
	PrincipalID   string    `json:"principal_id" format:"uuid"`
	PrincipalKind string    `json:"principal_kind" enum:"user,service_identity,group"`
	Source        string    `json:"source" enum:"manual,idp"`
	CreatedAt     time.Time `json:"created_at"`
}

// AddGroupMember is the body of POST /v1/admin/groups/{id}/members (the
// contract's GroupMembershipRequest). Source must equal the group's.
type AddGroupMember struct {
	PrincipalID   string `json:"principal_id" maxLength:"64"`
	PrincipalKind string `json:"principal_kind" enum:"user,service_identity,group"`
	Source        string `json:"source" enum:"manual,idp"`
}

// GroupMembers is the answer of GET /v1/admin/groups/{id}/members: the
// envelope without next_cursor (a group's members are a bounded set).
type GroupMembers struct {
	Items []GroupMember `json:"items" nullable:"false"`
}
