package oidc

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Binding is a stored IdP binding.
type Binding struct {
	ID              string
	DomainID        string // "" for platform-scoped
	Issuer          string
	DiscoveryURL    string
	ClientID        string
	ClientSecretRef string
	secretSealed    []byte
	Scopes          []string
	ClaimMappings   map[string]string
	RequiredACR     []string
	RequiredAMR     []string
	JITPolicy       string
	Status          string
	Alias           string
	Primary         bool
	SpiffeBundleURL string
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Claim mapping keys and their defaults.
var defaultClaims = map[string]string{"groups": "groups", "email": "email", "display_name": "name"}

// claim returns the IdP claim mapped to a plexsphere claim.
func (b *Binding) claim(name string) string {
	if c := b.ClaimMappings[name]; c != "" {
		return c
	}
	return defaultClaims[name]
}

// API is the wire form.
func (b *Binding) API() apiv1.IdPBinding {
	out := apiv1.IdPBinding{
		ID: b.ID, Issuer: b.Issuer, ClientID: b.ClientID, ClientSecretRef: b.ClientSecretRef,
		DiscoveryURL: b.DiscoveryURL, Scopes: b.Scopes, ClaimMappings: b.ClaimMappings,
		RequiredACR: b.RequiredACR, RequiredAMR: b.RequiredAMR, JITPolicy: b.JITPolicy, Status: b.Status,
		Alias: b.Alias, Primary: b.Primary, SpiffeBundleURL: b.SpiffeBundleURL,
		CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt, DomainID: b.DomainID,
	}
	return out
}

const bindingColumns = `id, COALESCE(domain_id, ''), issuer, discovery_url, client_id, client_secret_ref, client_secret_sealed,
	scopes, claim_mappings, required_acr, required_amr, jit_policy, status, COALESCE(alias, ''), is_primary,
	spiffe_bundle_url, created_at, updated_at`

func scanBinding(row interface{ Scan(...any) error }) (*Binding, error) {
	var (
		b                      Binding
		sealed, scopes, claims string
		acr, amr               string
		created, updated       int64
	)
	if err := row.Scan(&b.ID, &b.DomainID, &b.Issuer, &b.DiscoveryURL, &b.ClientID, &b.ClientSecretRef, &sealed,
		&scopes, &claims, &acr, &amr, &b.JITPolicy, &b.Status, &b.Alias, &b.Primary, &b.SpiffeBundleURL,
		&created, &updated); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		raw string
		dst any
	}{{scopes, &b.Scopes}, {claims, &b.ClaimMappings}, {acr, &b.RequiredACR}, {amr, &b.RequiredAMR}} {
		if err := json.Unmarshal([]byte(f.raw), f.dst); err != nil {
			return nil, fmt.Errorf("oidc: binding %s: stored json: %w", b.ID, err)
		}
	}
	if sealed != "" {
		raw, err := base64.StdEncoding.DecodeString(sealed)
		if err != nil {
			return nil, fmt.Errorf("oidc: binding %s: sealed secret encoding", b.ID)
		}
		b.secretSealed = raw
	}
	b.CreatedAt, b.UpdatedAt = store.Time(created), store.Time(updated)
	return &b, nil
}

// errBindingNotFound is returned by loads of a missing binding.
var errBindingNotFound = errors.New("oidc: binding not found")

func (s *Service) binding(ctx context.Context, q store.Querier, id string) (*Binding, error) {
	b, err := scanBinding(q.QueryRowContext(ctx, `SELECT `+bindingColumns+` FROM idp_bindings WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errBindingNotFound
	}
	return b, err
}

// activeBindings lists the active bindings of a scope ("" = platform).
func (s *Service) activeBindings(ctx context.Context, scope string) ([]*Binding, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+bindingColumns+` FROM idp_bindings
		WHERE scope_key = $1 AND status = 'active' ORDER BY id`, scope)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Binding
	for rows.Next() {
		b, err := scanBinding(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// clientSecret resolves the binding's client secret ("" for a public client).
func (s *Service) clientSecret(b *Binding) (string, error) {
	switch {
	case len(b.secretSealed) > 0:
		pt, err := s.keys.Open(secretName(b.ID), b.secretSealed)
		if err != nil {
			return "", err
		}
		return string(pt), nil
	case strings.HasPrefix(b.ClientSecretRef, "env:"):
		v := os.Getenv(strings.TrimPrefix(b.ClientSecretRef, "env:"))
		if v == "" {
			return "", fmt.Errorf("oidc: binding %s: secret reference %s is empty", b.ID, b.ClientSecretRef)
		}
		return v, nil
	case strings.HasPrefix(b.ClientSecretRef, "file:"):
		raw, err := os.ReadFile(strings.TrimPrefix(b.ClientSecretRef, "file:"))
		if err != nil {
			return "", fmt.Errorf("oidc: binding %s: secret reference: %w", b.ID, err)
		}
		return strings.TrimSpace(string(raw)), nil
	}
	return "", nil
}

// secretName is the keyring name a binding's sealed secret is bound to.
func secretName(bindingID string) string { return "idp-client-secret/" + bindingID }

var (
	aliasRE      = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	claimNameRE  = regexp.MustCompile(`^[A-Za-z0-9_:./-]{1,128}$`)
	valueTokenRE = regexp.MustCompile(`^[\x21-\x7e]{1,256}$`)
)

// validate checks a create request and returns the binding it describes
// (without id and times).
func validateCreate(in apiv1.CreateIdPBinding) (*Binding, error) {
	b := &Binding{
		DomainID: in.DomainID, Issuer: strings.TrimRight(in.Issuer, "/"), ClientID: in.ClientID,
		ClientSecretRef: in.ClientSecretRef, DiscoveryURL: in.DiscoveryURL, Scopes: in.Scopes,
		ClaimMappings: in.ClaimMappings, RequiredACR: in.RequiredACR, RequiredAMR: in.RequiredAMR,
		JITPolicy: in.JITPolicy, Status: "active", Alias: in.Alias, Primary: in.Primary, SpiffeBundleURL: in.SpiffeBundleURL,
	}
	if err := checkURL(b.Issuer); err != nil {
		return nil, problem.BadRequest("invalid_issuer", "issuer: "+err.Error())
	}
	if b.DiscoveryURL == "" {
		b.DiscoveryURL = b.Issuer + "/.well-known/openid-configuration"
	} else if err := checkURL(b.DiscoveryURL); err != nil {
		return nil, problem.BadRequest("invalid_discovery_url", "discovery_url: "+err.Error())
	}
	if b.JITPolicy != "allow" && b.JITPolicy != "deny" {
		return nil, problem.BadRequest("invalid_jit_policy", "jit_policy must be allow or deny.")
	}
	if in.ClientSecret != "" && in.ClientSecretRef != "" {
		return nil, problem.BadRequest("invalid_client_secret", "Give client_secret or client_secret_ref, not both.")
	}
	if ref := in.ClientSecretRef; ref != "" {
		switch {
		case strings.HasPrefix(ref, "env:") && len(ref) > 4:
		case strings.HasPrefix(ref, "file:") && filepath.IsAbs(strings.TrimPrefix(ref, "file:")):
		default:
			return nil, problem.BadRequest("invalid_client_secret_ref", "client_secret_ref must be env:<VAR> or file:<absolute path>.")
		}
	}
	if b.Alias != "" && !aliasRE.MatchString(b.Alias) {
		return nil, problem.BadRequest("invalid_alias", "alias must be kebab-case.")
	}
	for k, v := range b.ClaimMappings {
		if _, ok := defaultClaims[k]; !ok || !claimNameRE.MatchString(v) {
			return nil, problem.BadRequest("invalid_claim_mappings", "claim_mappings keys are groups, email and display_name; values are claim names.")
		}
	}
	for _, list := range [][]string{b.Scopes, b.RequiredACR, b.RequiredAMR} {
		for _, v := range list {
			if !valueTokenRE.MatchString(v) {
				return nil, problem.BadRequest("invalid_body", "scopes, required_acr and required_amr hold printable tokens without spaces.")
			}
		}
	}
	if b.SpiffeBundleURL != "" {
		if err := checkURL(b.SpiffeBundleURL); err != nil {
			return nil, problem.BadRequest("invalid_body", "spiffe_bundle_url: "+err.Error())
		}
	}
	b.Scopes = withOpenID(b.Scopes)
	for _, p := range []*[]string{&b.RequiredACR, &b.RequiredAMR} {
		if *p == nil {
			*p = []string{}
		}
	}
	if b.ClaimMappings == nil {
		b.ClaimMappings = map[string]string{}
	}
	return b, nil
}

// withOpenID returns scopes with openid first, deduplicated.
func withOpenID(scopes []string) []string {
	out := []string{"openid"}
	seen := map[string]bool{"openid": true}
	if len(scopes) == 0 {
		scopes = []string{"profile", "email", "groups"}
	}
	for _, s := range scopes {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// checkURL accepts https URLs, and http only for loopback hosts (a local
// development issuer).
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return errors.New("want an absolute URL without query, fragment or user info")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return errors.New("http is allowed only for loopback hosts; use https")
	}
	return errors.New("want an https URL")
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
