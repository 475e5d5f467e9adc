package apiv1

import "time"

// Grant types of the device-token and service-token endpoints.
const (
	GrantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	GrantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

// DeviceCodeRequest is the body of POST /v1/auth/device-code (RFC 8628 §3.1).
type DeviceCodeRequest struct {
	DomainID        string `json:"domain_id" maxLength:"64"`
	IdPBindingID    string `json:"idp_binding_id,omitempty" maxLength:"64"`
	IdPBindingAlias string `json:"idp_binding_alias,omitempty" maxLength:"64"`
	ClientID        string `json:"client_id,omitempty" maxLength:"128" doc:"The device client's name (default plexctl)."`
}

// DeviceCode is the answer of POST /v1/auth/device-code (RFC 8628 §3.2).
type DeviceCode struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code" pattern:"^[A-Z2-7]{4}-?[A-Z2-7]{4}$"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int    `json:"expires_in"`
	Interval                int    `json:"interval"`
}

// DeviceTokenRequest is the body of POST /v1/auth/device-token. Without
// grant_type it polls for the device code (RFC 8628 §3.4); grant_type
// refresh_token (addition) exchanges a refresh token (RFC 6749 §6).
type DeviceTokenRequest struct {
	GrantType    string `json:"grant_type,omitempty" maxLength:"128" doc:"Addition: urn:ietf:params:oauth:grant-type:device_code (default) or refresh_token."`
	DeviceCode   string `json:"device_code,omitempty" maxLength:"256"`
	ClientID     string `json:"client_id,omitempty" maxLength:"128"`
	RefreshToken string `json:"refresh_token,omitempty" maxLength:"256" doc:"Addition: with grant_type refresh_token."`
}

// AccessToken is a token answer (RFC 6749 §5.1). refresh_token is present
// on device-flow answers (addition).
type AccessToken struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type" enum:"Bearer"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// DeviceApprove is the body of POST /v1/auth/device/approve.
type DeviceApprove struct {
	UserCode string `json:"user_code" minLength:"8" maxLength:"16"`
	Deny     bool   `json:"deny,omitempty" doc:"Addition: refuse the request instead (the device then gets access_denied)."`
}

// DeviceApproved is the answer of POST /v1/auth/device/approve.
type DeviceApproved struct {
	Status string `json:"status" enum:"approved,denied"`
}

// RevokeToken is the body of POST /v1/auth/revoke (addition, RFC 7009): an
// access or refresh token plexsphere issued.
type RevokeToken struct {
	Token         string `json:"token" minLength:"1" maxLength:"256"`
	TokenTypeHint string `json:"token_type_hint,omitempty" maxLength:"32"`
}

// ServiceTokenRequest is the body of POST /v1/auth/service/token, as JSON or
// as an application/x-www-form-urlencoded form (RFC 6749 §4.4). The client
// may authenticate with HTTP Basic instead of client_id/client_secret. The
// request names exactly one service identity: domain_id with the IdP's
// client_id, or the service identity's id as client_id.
type ServiceTokenRequest struct {
	GrantType           string `json:"grant_type" maxLength:"128" doc:"client_credentials or urn:ietf:params:oauth:grant-type:jwt-bearer"`
	DomainID            string `json:"domain_id,omitempty" maxLength:"64" doc:"Addition: the Domain of the service identity whose IdP client_id this is. Without it, client_id must be the service identity's id."`
	ClientID            string `json:"client_id,omitempty" maxLength:"256" doc:"The IdP client_id of a service identity of domain_id, or (without domain_id) the service identity's id."`
	ClientSecret        string `json:"client_secret,omitempty" maxLength:"1024" writeOnly:"true"`
	ClientAssertion     string `json:"client_assertion,omitempty" maxLength:"4096"`
	ClientAssertionType string `json:"client_assertion_type,omitempty" maxLength:"256"`
	Scope               string `json:"scope,omitempty" maxLength:"1024"`
}

// ServiceIdentity is a machine principal of a Domain (api.md §4.2).
type ServiceIdentity struct {
	ID             string     `json:"id" format:"uuid"`
	DomainID       string     `json:"domain_id" format:"uuid"`
	DisplayName    string     `json:"display_name"`
	IdPBindingID   string     `json:"idp_binding_id" format:"uuid"`
	FederationKind string     `json:"federation_kind" enum:"client_credentials,jwt_bearer"`
	ClientID       string     `json:"client_id"`
	Subject        string     `json:"subject,omitempty"`
	DisabledAt     *time.Time `json:"disabled_at,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// CreateServiceIdentity is the body of POST /v1/domains/{id}/service-identities.
type CreateServiceIdentity struct {
	DisplayName    string `json:"display_name" minLength:"1" maxLength:"128"`
	IdPBindingID   string `json:"idp_binding_id" maxLength:"64"`
	FederationKind string `json:"federation_kind" enum:"client_credentials,jwt_bearer"`
	ClientID       string `json:"client_id" minLength:"1" maxLength:"256"`
	Subject        string `json:"subject,omitempty" maxLength:"512"`
}

// PatchServiceIdentity is the body of PATCH …/service-identities/{id}.
type PatchServiceIdentity struct {
	DisplayName *string `json:"display_name,omitempty" minLength:"1" maxLength:"128"`
	Disabled    *bool   `json:"disabled,omitempty"`
}
