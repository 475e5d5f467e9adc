package apiv1

import "time"

// IdPBinding is an OIDC identity-provider binding (api.md §3.2). DomainID is
// empty for a platform-scoped binding: the contract's domain_id is a
// required, non-null string (issue 8). The client secret is never returned:
// ClientSecretRef names where it is held ("keyring:idp/<id>" when it was
// given inline and is stored sealed under the master key).
type IdPBinding struct {
	ID              string            `json:"id" format:"uuid"`
	DomainID        string            `json:"domain_id" doc:"The owning Domain; empty (\"\") for a platform-scoped binding, which belongs to no Domain."`
	Issuer          string            `json:"issuer"`
	ClientID        string            `json:"client_id"`
	ClientSecretRef string            `json:"client_secret_ref"`
	DiscoveryURL    string            `json:"discovery_url"`
	Scopes          []string          `json:"scopes" doc:"Requested scopes (addition); openid is always included."`
	ClaimMappings   map[string]string `json:"claim_mappings" doc:"plexsphere claim → IdP claim; keys: groups, email, display_name."`
	RequiredACR     []string          `json:"required_acr"`
	RequiredAMR     []string          `json:"required_amr"`
	JITPolicy       string            `json:"jit_policy" enum:"allow,deny"`
	Status          string            `json:"status" enum:"active,inactive,degraded,deactivated"`
	Alias           string            `json:"alias,omitempty"`
	Primary         bool              `json:"primary"`
	SpiffeBundleURL string            `json:"spiffe_bundle_url,omitempty"`
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
}

// CreateIdPBinding is the body of POST /v1/admin/idp. Without domain_id the
// binding is platform-scoped (needs platform#manage).
type CreateIdPBinding struct {
	DomainID        string            `json:"domain_id,omitempty" maxLength:"64"`
	Issuer          string            `json:"issuer" minLength:"1" maxLength:"512"`
	ClientID        string            `json:"client_id" minLength:"1" maxLength:"256"`
	ClientSecretRef string            `json:"client_secret_ref,omitempty" maxLength:"512" doc:"Where the client secret is held: env:<VAR> or file:<absolute path>."`
	ClientSecret    string            `json:"client_secret,omitempty" maxLength:"1024" writeOnly:"true" doc:"Inbound only (addition): the client secret itself, stored sealed under the master key and never returned. Excludes client_secret_ref."`
	DiscoveryURL    string            `json:"discovery_url,omitempty" maxLength:"512" doc:"Defaults to <issuer>/.well-known/openid-configuration."`
	Scopes          []string          `json:"scopes,omitempty" maxItems:"32"`
	ClaimMappings   map[string]string `json:"claim_mappings,omitempty"`
	RequiredACR     []string          `json:"required_acr,omitempty" maxItems:"16"`
	RequiredAMR     []string          `json:"required_amr,omitempty" maxItems:"16"`
	JITPolicy       string            `json:"jit_policy" doc:"allow or deny"`
	Alias           string            `json:"alias,omitempty" maxLength:"64"`
	Primary         bool              `json:"primary,omitempty"`
	SpiffeBundleURL string            `json:"spiffe_bundle_url,omitempty" maxLength:"512"`
}

// SignIn is the body of POST /v1/auth/sign-in.
type SignIn struct {
	DomainID        string   `json:"domain_id,omitempty" maxLength:"64"`
	IdPBindingID    string   `json:"idp_binding_id,omitempty" maxLength:"64"`
	IdPBindingAlias string   `json:"idp_binding_alias,omitempty" maxLength:"64" doc:"Addition: pick the binding by alias."`
	ReturnTo        string   `json:"return_to,omitempty" maxLength:"1024" doc:"A path on this server to land on after sign-in: printable ASCII starting with a single /; anything else lands on / (the default)."`
	Prompt          string   `json:"prompt,omitempty" maxLength:"64"`
	ACRValues       []string `json:"acr_values,omitempty" maxItems:"8" doc:"Addition: the ACRs to ask the IdP for (step-up re-authentication)."`
}

// SignInStarted is the answer of POST /v1/auth/sign-in. The PKCE verifier
// stays on the server; code_verifier_handle names it.
type SignInStarted struct {
	AuthorizationURL   string `json:"authorization_url"`
	State              string `json:"state"`
	CodeVerifierHandle string `json:"code_verifier_handle"`
	Nonce              string `json:"nonce"`
}
