package oauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/oidc"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Defaults.
const (
	DefaultDeviceTTL    = 10 * time.Minute
	DefaultPollInterval = 5 * time.Second
	DefaultAccessTTL    = 15 * time.Minute
	DefaultRefreshTTL   = 30 * 24 * time.Hour
	// DefaultServiceTTL is the lifetime of a service identity's token.
	DefaultServiceTTL = 15 * time.Minute
	// slowDownStep is what RFC 8628 §3.5 adds to the interval on slow_down.
	slowDownStep = 5 * time.Second
)

// Token prefixes: opaque to clients, recognisable to secret scanners.
const (
	AccessPrefix  = "psa_"
	RefreshPrefix = "psr_"
)

// Credential kinds recorded on principals.
const (
	CredentialDevice  = "device_token"
	CredentialService = "service_token"
)

// Grant types recorded on token families.
const (
	grantDevice  = "device_code"
	grantService = "client_credentials"
)

// Bindings resolves the IdP binding a device login signs in through.
type Bindings interface {
	ResolveBinding(ctx context.Context, domainID, bindingID, alias string) (oidc.BindingRef, error)
}

// DerivedTokens revokes the API tokens minted by a credential, and theirs
// in turn (package identity).
type DerivedTokens interface {
	RevokeDerived(ctx context.Context, tx *sql.Tx, parentIDs ...string) error
}

// Config configures the Service.
type Config struct {
	DB       *store.DB
	Audit    *audit.Log
	Bindings Bindings
	// Tokens revokes the API tokens a token family minted when the family
	// is revoked.
	Tokens DerivedTokens
	// PublicURL is the server's external base URL; verification_uri is
	// <PublicURL>/device. Empty derives it from each request.
	PublicURL string
	// TrustProxyHeaders takes the scheme from X-Forwarded-Proto.
	TrustProxyHeaders bool
	DeviceTTL         time.Duration
	PollInterval      time.Duration
	AccessTTL         time.Duration
	RefreshTTL        time.Duration
	ServiceTTL        time.Duration
	Logger            *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service is the device flow, token refresh and revocation, and bearer
// authentication of the tokens it issues.
type Service struct {
	db        *store.DB
	audit     *audit.Log
	bindings  Bindings
	tokens    DerivedTokens
	publicURL string
	proxy     bool
	deviceTTL time.Duration
	interval  time.Duration
	accessTTL time.Duration
	refresh   time.Duration
	service   time.Duration
	log       *slog.Logger
	now       func() time.Time
}

// NewService validates cfg, fills its defaults and returns the service.
func NewService(cfg Config) (*Service, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("oauth: Config.DB is required")
	case cfg.Audit == nil:
		return nil, errors.New("oauth: Config.Audit is required")
	case cfg.Bindings == nil:
		return nil, errors.New("oauth: Config.Bindings is required")
	case cfg.Tokens == nil:
		return nil, errors.New("oauth: Config.Tokens is required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.DeviceTTL, DefaultDeviceTTL)
	def(&cfg.PollInterval, DefaultPollInterval)
	def(&cfg.AccessTTL, DefaultAccessTTL)
	def(&cfg.RefreshTTL, DefaultRefreshTTL)
	def(&cfg.ServiceTTL, DefaultServiceTTL)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{db: cfg.DB, audit: cfg.Audit, bindings: cfg.Bindings, tokens: cfg.Tokens, publicURL: strings.TrimRight(cfg.PublicURL, "/"),
		proxy: cfg.TrustProxyHeaders, deviceTTL: cfg.DeviceTTL, interval: cfg.PollInterval, accessTTL: cfg.AccessTTL,
		refresh: cfg.RefreshTTL, service: cfg.ServiceTTL, log: cfg.Logger, now: cfg.Now}, nil
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// newSecret returns prefix + 52 lowercase base32 characters (256 bits).
func newSecret(prefix string) string {
	raw := make([]byte, 32)
	rand.Read(raw)
	return prefix + strings.ToLower(b32.EncodeToString(raw))
}

func hash(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

// Issued is a freshly minted token pair; the plaintexts exist only here.
type Issued struct {
	FamilyID     string
	AccessToken  string
	RefreshToken string // "" for service tokens
	ExpiresIn    time.Duration
}

// signIn is the browser sign-in a device login was approved by: its acr,
// amr and auth_time, which the family carries for step-up (zero for
// service tokens).
type signIn struct {
	acr      string
	amr      string // JSON array
	authTime *int64
}

// issue stores a new token family for identityID, which authenticated
// through bindingID, inside tx.
func (s *Service) issue(ctx context.Context, tx *sql.Tx, identityID, bindingID, grant, clientID string, withRefresh bool, si signIn) (Issued, error) {
	now := s.now()
	out := Issued{FamilyID: uuid.Must(uuid.NewV7()).String(), AccessToken: newSecret(AccessPrefix), ExpiresIn: s.accessTTL}
	var refreshHash, refreshExp any
	if withRefresh {
		out.RefreshToken = newSecret(RefreshPrefix)
		refreshHash, refreshExp = hash(out.RefreshToken), store.Micros(now.Add(s.refresh))
	} else {
		out.ExpiresIn = s.service
	}
	if si.amr == "" {
		si.amr = "[]"
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO oauth_tokens (id, identity_id, idp_binding_id, grant_type, client_id,
		access_hash, access_expires_at, refresh_hash, refresh_expires_at, created_at, acr, amr, auth_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		out.FamilyID, identityID, bindingID, grant, clientID, hash(out.AccessToken), store.Micros(now.Add(out.ExpiresIn)),
		refreshHash, refreshExp, store.Micros(now), si.acr, si.amr, si.authTime)
	if err != nil {
		return Issued{}, fmt.Errorf("oauth: issue: %w", err)
	}
	return out, nil
}

// IssueService mints a service identity's short-lived access token inside
// tx (no refresh token: the workload repeats its client_credentials grant).
// bindingID is the IdP binding that verified the client.
func (s *Service) IssueService(ctx context.Context, tx *sql.Tx, identityID, bindingID, clientID string) (Issued, error) {
	return s.issue(ctx, tx, identityID, bindingID, grantService, clientID, false, signIn{})
}

// RevokeIdentity revokes every token family of an identity, and the API
// tokens they minted, inside tx.
func (s *Service) RevokeIdentity(ctx context.Context, tx *sql.Tx, identityID string) error {
	return s.revokeFamilies(ctx, tx, `identity_id = $1`, identityID)
}

// RevokeDeviceLogins ends every device login of an identity, and the API
// tokens they minted, inside tx (global sign-out).
func (s *Service) RevokeDeviceLogins(ctx context.Context, tx *sql.Tx, identityID string) error {
	return s.revokeFamilies(ctx, tx, `identity_id = $1 AND grant_type = '`+grantDevice+`'`, identityID)
}

// revokeFamily revokes one token family and what it minted inside tx.
func (s *Service) revokeFamily(ctx context.Context, tx *sql.Tx, id string) error {
	return s.revokeFamilies(ctx, tx, `id = $1`, id)
}

// revokeFamilies revokes the live families matching where (with $1 = arg)
// and cascades to the API tokens they minted.
func (s *Service) revokeFamilies(ctx context.Context, tx *sql.Tx, where, arg string) error {
	rows, err := tx.QueryContext(ctx, `UPDATE oauth_tokens SET revoked_at = $2 WHERE `+where+` AND revoked_at IS NULL
		RETURNING id`, arg, store.Micros(s.now()))
	if err != nil {
		return fmt.Errorf("oauth: revoke: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("oauth: revoke: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("oauth: revoke: %w", err)
	}
	return s.tokens.RevokeDerived(ctx, tx, ids...)
}

// AuthenticateBearer implements api.Authenticator for the access tokens
// this service issued (psa_…); anything else is a bad credential. A token
// whose IdP binding was deleted or deactivated is no longer valid.
func (s *Service) AuthenticateBearer(ctx context.Context, token string) (*principal.Principal, error) {
	if !strings.HasPrefix(token, AccessPrefix) {
		return nil, principal.ErrBadCredential
	}
	var (
		p                    principal.Principal
		id, grant, kind, amr string
		expires              int64
		refreshExp, revoked  *int64
		authTime             *int64
	)
	err := s.db.QueryRowContext(ctx, `SELECT t.id, t.grant_type, t.access_expires_at, t.refresh_expires_at, t.revoked_at,
			t.idp_binding_id, t.acr, t.amr, t.auth_time, i.id, i.kind, COALESCE(i.domain_id, ''), i.display_name
		FROM oauth_tokens t JOIN identities i ON i.id = t.identity_id
		JOIN idp_bindings b ON b.id = t.idp_binding_id AND b.status = 'active'
		WHERE t.access_hash = $1`, hash(token)).
		Scan(&id, &grant, &expires, &refreshExp, &revoked, &p.IdPBindingID, &p.ACR, &amr, &authTime, &p.IdentityID, &kind,
			&p.DomainID, &p.DisplayName)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, principal.ErrBadCredential
	}
	if err != nil {
		return nil, fmt.Errorf("oauth: authenticate: %w", err)
	}
	if revoked != nil || !s.now().Before(store.Time(expires)) {
		return nil, principal.ErrBadCredential
	}
	if err := json.Unmarshal([]byte(amr), &p.AMR); err != nil {
		return nil, fmt.Errorf("oauth: stored amr: %w", err)
	}
	if authTime != nil {
		p.AuthTime = store.Time(*authTime)
	}
	// The family lives as long as its refresh window (service tokens: the
	// access token); tokens it mints expire no later.
	p.ExpiresAt = store.Time(expires)
	if refreshExp != nil && *refreshExp > expires {
		p.ExpiresAt = store.Time(*refreshExp)
	}
	p.Kind, p.CredentialID, p.Credential = principal.Kind(kind), id, CredentialDevice
	if grant == grantService {
		p.Credential = CredentialService
	}
	return &p, nil
}

// chainOf is the audit chain of a Domain id ("" = platform).
func chainOf(domainID string) string {
	if domainID != "" {
		return domainID
	}
	return audit.PlatformChain
}
