package apiv1

// CreatePlatformIdPBinding is the body of POST /v1/admin/platform-idp: a
// binding shared by every Domain (needs platform#manage). It is
// CreateIdPBinding without domain_id.
type CreatePlatformIdPBinding struct {
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

// PatchIdPBinding is the body of PATCH /v1/admin/idp/{id}: absent fields
// keep their value.
type PatchIdPBinding struct {
	DiscoveryURL  *string            `json:"discovery_url,omitempty" maxLength:"512"`
	ClaimMappings *map[string]string `json:"claim_mappings,omitempty" doc:"Replaces the mappings; an empty object clears them."`
	RequiredACR   *[]string          `json:"required_acr,omitempty" maxItems:"16"`
	RequiredAMR   *[]string          `json:"required_amr,omitempty" maxItems:"16"`
	JITPolicy     *string            `json:"jit_policy,omitempty" enum:"allow,deny"`
	Alias         *string            `json:"alias,omitempty" maxLength:"64" doc:"An empty string clears the alias; a value is lower-cased."`
	Primary       *bool              `json:"primary,omitempty"`
}

// IdPBindingStatus is the body of PATCH /v1/admin/idp/{id}/status.
type IdPBindingStatus struct {
	Status string `json:"status" enum:"active,deactivated,inactive" doc:"deactivated (inactive is accepted as a synonym) ends the binding's browser sessions and refuses sign-ins through it; its descendant API tokens stop working until it is active again."`
}

// DomainIdPBinding is the display-safe form of a binding on the public
// sign-in chooser, GET /v1/auth/idp-bindings: nothing secret.
type DomainIdPBinding struct {
	ID             string `json:"id" format:"uuid" doc:"Pin it as idp_binding_id on POST /v1/auth/sign-in."`
	Alias          string `json:"alias,omitempty"`
	Label          string `json:"label" doc:"The alias when set, otherwise the issuer's host."`
	IssuerHost     string `json:"issuer_host"`
	Primary        bool   `json:"primary"`
	PlatformScoped bool   `json:"platform_scoped"`
}

// AdminIssueToken is the body of POST /v1/admin/tokens.
type AdminIssueToken struct {
	IdentityRef string `json:"identity_ref" minLength:"1" maxLength:"80" doc:"The token's owner: user:<uuid> or service:<uuid> (service_identity:<uuid> is accepted too)."`
	EnvPrefix   string `json:"env_prefix" enum:"dev,stage,prod"`
	TTLSeconds  int64  `json:"ttl_seconds,omitempty" minimum:"0" maximum:"31536000" doc:"Lifetime; 0 means the default. Over the policy's maximum is refused (422 ttl_exceeds_policy)."`
}

// AdminAPIToken is a token's metadata on the admin list: APIToken plus its
// owner (addition).
type AdminAPIToken struct {
	APIToken
	IdentityRef string `json:"identity_ref" doc:"Addition: the owner, user:<uuid> or service:<uuid>."`
}
