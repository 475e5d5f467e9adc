package oauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/hex"
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

// Config configures the Service.
type Config struct {
	DB       *store.DB
	Audit    *audit.Log
	Bindings Bindings
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
	return &Service{db: cfg.DB, audit: cfg.Audit, bindings: cfg.Bindings, publicURL: strings.TrimRight(cfg.PublicURL, "/"),
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

// issue stores a new token family for identityID, which authenticated
// through bindingID, inside tx.
func (s *Service) issue(ctx context.Context, tx *sql.Tx, identityID, bindingID, grant, clientID string, withRefresh bool) (Issued, error) {
	now := s.now()
	out := Issued{FamilyID: uuid.Must(uuid.NewV7()).String(), AccessToken: newSecret(AccessPrefix), ExpiresIn: s.accessTTL}
	var refreshHash, refreshExp any
	if withRefresh {
		out.RefreshToken = newSecret(RefreshPrefix)
		refreshHash, refreshExp = hash(out.RefreshToken), store.Micros(now.Add(s.refresh))
	} else {
		out.ExpiresIn = s.service
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO oauth_tokens (id, identity_id, idp_binding_id, grant_type, client_id,
		access_hash, access_expires_at, refresh_hash, refresh_expires_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		out.FamilyID, identityID, bindingID, grant, clientID, hash(out.AccessToken), store.Micros(now.Add(out.ExpiresIn)),
		refreshHash, refreshExp, store.Micros(now))
	if err != nil {
		return Issued{}, fmt.Errorf("oauth: issue: %w", err)
	}
	return out, nil
}

// IssueService mints a service identity's short-lived access token inside
// tx (no refresh token: the workload repeats its client_credentials grant).
// bindingID is the IdP binding that verified the client.
func (s *Service) IssueService(ctx context.Context, tx *sql.Tx, identityID, bindingID, clientID string) (Issued, error) {
	return s.issue(ctx, tx, identityID, bindingID, grantService, clientID, false)
}

// RevokeIdentity revokes every token family of an identity inside tx.
func (s *Service) RevokeIdentity(ctx context.Context, tx *sql.Tx, identityID string) error {
	_, err := tx.ExecContext(ctx, `UPDATE oauth_tokens SET revoked_at = $2 WHERE identity_id = $1 AND revoked_at IS NULL`,
		identityID, store.Micros(s.now()))
	if err != nil {
		return fmt.Errorf("oauth: revoke identity: %w", err)
	}
	return nil
}

// AuthenticateBearer implements api.Authenticator for the access tokens
// this service issued (psa_…); anything else is a bad credential. A token
// whose IdP binding was deleted or deactivated is no longer valid.
func (s *Service) AuthenticateBearer(ctx context.Context, token string) (*principal.Principal, error) {
	if !strings.HasPrefix(token, AccessPrefix) {
		return nil, principal.ErrBadCredential
	}
	var (
		p               principal.Principal
		id, grant, kind string
		expires         int64
		revoked         *int64
	)
	err := s.db.QueryRowContext(ctx, `SELECT t.id, t.grant_type, t.access_expires_at, t.revoked_at,
			i.id, i.kind, COALESCE(i.domain_id, ''), i.display_name
		FROM oauth_tokens t JOIN identities i ON i.id = t.identity_id
		JOIN idp_bindings b ON b.id = t.idp_binding_id AND b.status = 'active'
		WHERE t.access_hash = $1`, hash(token)).
		Scan(&id, &grant, &expires, &revoked, &p.IdentityID, &kind, &p.DomainID, &p.DisplayName)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, principal.ErrBadCredential
	}
	if err != nil {
		return nil, fmt.Errorf("oauth: authenticate: %w", err)
	}
	if revoked != nil || !s.now().Before(store.Time(expires)) {
		return nil, principal.ErrBadCredential
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
