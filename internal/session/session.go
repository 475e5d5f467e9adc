package session

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Cookie and header names (api.md §2.2).
const (
	CookieName     = "plexsphere_session"
	CSRFCookieName = "plexsphere_csrf"
	CSRFHeader     = "X-Plexsphere-CSRF"
	// CookiePath scopes the session cookie to the API.
	CookiePath = "/v1/"
)

// Defaults.
const (
	// DefaultTTL is a session's absolute lifetime.
	DefaultTTL = 12 * time.Hour
	// secretPrefix marks session cookie values (API tokens start psk_).
	secretPrefix  = "pss_"
	lastSeenEvery = time.Minute
)

// Config configures the Service.
type Config struct {
	DB    *store.DB
	Audit *audit.Log
	// CSRFKey derives each session's CSRF token; 32 bytes. Required.
	CSRFKey []byte
	// TTL is the session lifetime; 0 means DefaultTTL.
	TTL time.Duration
	// TrustProxyHeaders takes the scheme from X-Forwarded-Proto.
	TrustProxyHeaders bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service creates, authenticates and ends sessions.
type Service struct {
	db      *store.DB
	audit   *audit.Log
	csrfKey []byte
	ttl     time.Duration
	proxy   bool
	now     func() time.Time
}

// NewService validates cfg and returns the service.
func NewService(cfg Config) (*Service, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("session: Config.DB is required")
	case cfg.Audit == nil:
		return nil, errors.New("session: Config.Audit is required")
	case len(cfg.CSRFKey) < 32:
		return nil, errors.New("session: Config.CSRFKey must hold at least 32 bytes")
	case cfg.TTL < 0:
		return nil, errors.New("session: Config.TTL must not be negative")
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{db: cfg.DB, audit: cfg.Audit, csrfKey: cfg.CSRFKey, ttl: cfg.TTL, proxy: cfg.TrustProxyHeaders, now: cfg.Now}, nil
}

// New is what a sign-in establishes.
type New struct {
	IdentityID   string
	IdPBindingID string
	ACR          string
	AMR          []string
}

// Created is a new session: the cookie value (returned once, never stored)
// and its CSRF token.
type Created struct {
	ID        string
	Value     string
	CSRF      string
	ExpiresAt time.Time
}

func hashValue(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

// Create stores a new session inside tx.
func (s *Service) Create(ctx context.Context, tx *sql.Tx, n New) (Created, error) {
	raw := make([]byte, 32)
	rand.Read(raw)
	value := secretPrefix + base64.RawURLEncoding.EncodeToString(raw)
	amr := n.AMR
	if amr == nil {
		amr = []string{}
	}
	amrJSON, _ := json.Marshal(amr)
	now := s.now()
	c := Created{ID: uuid.Must(uuid.NewV7()).String(), Value: value, ExpiresAt: now.Add(s.ttl).UTC()}
	_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, identity_id, idp_binding_id, secret_hash, acr, amr,
		created_at, expires_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7)`,
		c.ID, n.IdentityID, n.IdPBindingID, hashValue(value), n.ACR, string(amrJSON), store.Micros(now), store.Micros(c.ExpiresAt))
	if err != nil {
		return Created{}, fmt.Errorf("session: create: %w", err)
	}
	c.CSRF = s.CSRFToken(value)
	return c, nil
}

// CSRFToken is the double-submit token bound to a session cookie value.
func (s *Service) CSRFToken(value string) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte("plexsphere-csrf\x00" + hashValue(value)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CSRFMatches reports whether token is the CSRF token of the session value.
func (s *Service) CSRFMatches(value, token string) bool {
	return subtle.ConstantTimeCompare([]byte(s.CSRFToken(value)), []byte(token)) == 1
}

// IsSessionValue reports whether a cookie value has the session form (as
// opposed to a psk_ API token carried in the cookie).
func IsSessionValue(v string) bool { return strings.HasPrefix(v, secretPrefix) && len(v) <= 128 }

// AuthenticateSession turns a session cookie value into its principal. It
// wraps principal.ErrBadCredential for an unknown, expired or revoked
// session, and returns other errors for outages.
func (s *Service) AuthenticateSession(ctx context.Context, value string) (*principal.Principal, error) {
	if !IsSessionValue(value) {
		return nil, principal.ErrBadCredential
	}
	var (
		p                      principal.Principal
		kind, domain, amr      string
		created, expires, seen int64
		revoked                *int64
	)
	err := s.db.QueryRowContext(ctx, `SELECT s.id, s.idp_binding_id, s.acr, s.amr, s.created_at, s.expires_at, s.last_seen_at,
			s.revoked_at, i.id, i.kind, COALESCE(i.domain_id, ''), i.display_name
		FROM sessions s JOIN identities i ON i.id = s.identity_id WHERE s.secret_hash = $1`, hashValue(value)).
		Scan(&p.CredentialID, &p.IdPBindingID, &p.ACR, &amr, &created, &expires, &seen, &revoked, &p.IdentityID, &kind,
			&domain, &p.DisplayName)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, principal.ErrBadCredential
	}
	if err != nil {
		return nil, fmt.Errorf("session: authenticate: %w", err)
	}
	now := s.now()
	if revoked != nil || !now.Before(store.Time(expires)) {
		return nil, principal.ErrBadCredential
	}
	if err := json.Unmarshal([]byte(amr), &p.AMR); err != nil {
		return nil, fmt.Errorf("session: stored amr: %w", err)
	}
	if now.Sub(store.Time(seen)) > lastSeenEvery {
		// Best effort: a failed stamp must not fail the request.
		_, _ = s.db.ExecContext(ctx, `UPDATE sessions SET last_seen_at = $2 WHERE id = $1`, p.CredentialID, store.Micros(now))
	}
	p.Kind, p.DomainID, p.Credential = principal.Kind(kind), domain, principal.CredentialSession
	// A session is created by its sign-in: that is its auth_time.
	p.AuthTime, p.ExpiresAt = store.Time(created), store.Time(expires)
	return &p, nil
}

// revoke ends the session with the cookie value inside tx and returns its
// id and identity ("" when there was no live session).
func (s *Service) revoke(ctx context.Context, tx *sql.Tx, value string) (id, identityID, domainID string, err error) {
	if !IsSessionValue(value) {
		return "", "", "", nil
	}
	err = tx.QueryRowContext(ctx, `SELECT s.id, s.identity_id, COALESCE(i.domain_id, '') FROM sessions s
		JOIN identities i ON i.id = s.identity_id
		WHERE s.secret_hash = $1 AND s.revoked_at IS NULL`+s.db.ForUpdate(), hashValue(value)).Scan(&id, &identityID, &domainID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", "", nil
	}
	if err != nil {
		return "", "", "", err
	}
	_, err = tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = $2 WHERE id = $1`, id, store.Micros(s.now()))
	return id, identityID, domainID, err
}

// RevokeAll ends every live session of identityID inside tx and returns
// their ids.
func (s *Service) RevokeAll(ctx context.Context, tx *sql.Tx, identityID string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `UPDATE sessions SET revoked_at = $2 WHERE identity_id = $1 AND revoked_at IS NULL
		RETURNING id`, identityID, store.Micros(s.now()))
	if err != nil {
		return nil, fmt.Errorf("session: revoke all: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("session: revoke all: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Secure reports whether cookies set in answer to r must be Secure: the
// request came over TLS, or X-Forwarded-Proto says so when proxy headers are
// trusted.
func (s *Service) Secure(isTLS bool, forwardedProto string) bool {
	if isTLS {
		return true
	}
	return s.proxy && strings.EqualFold(strings.TrimSpace(strings.Split(forwardedProto, ",")[0]), "https")
}

// Cookies returns the Set-Cookie values that establish a session.
func (s *Service) Cookies(c Created, secure bool) []http.Cookie {
	return []http.Cookie{
		{Name: CookieName, Value: c.Value, Path: CookiePath, Expires: c.ExpiresAt, MaxAge: int(time.Until(c.ExpiresAt).Seconds()),
			HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode},
		{Name: CSRFCookieName, Value: c.CSRF, Path: "/", Expires: c.ExpiresAt, MaxAge: int(time.Until(c.ExpiresAt).Seconds()),
			Secure: secure, SameSite: http.SameSiteStrictMode},
	}
}

// ClearCookies returns the Set-Cookie values that end a session in the
// browser: the session cookie deleted and a fresh, unbound CSRF value.
func ClearCookies(secure bool) []http.Cookie {
	raw := make([]byte, 32)
	rand.Read(raw)
	return []http.Cookie{
		{Name: CookieName, Value: "", Path: CookiePath, MaxAge: -1, Expires: time.Unix(0, 0),
			HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode},
		{Name: CSRFCookieName, Value: base64.RawURLEncoding.EncodeToString(raw), Path: "/",
			Secure: secure, SameSite: http.SameSiteStrictMode},
	}
}
