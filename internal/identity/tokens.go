package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Token lifetimes.
const (
	DefaultTokenTTL = 90 * 24 * time.Hour
	RotationGrace   = time.Hour
	lastUsedEvery   = time.Minute
	displayLen      = 12
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// newTokenSecret returns a psk_<env>_<52 base32> plaintext and its hash.
func newTokenSecret(env string) (plain, hash string) {
	raw := make([]byte, 32)
	rand.Read(raw)
	plain = "psk_" + env + "_" + strings.ToLower(b32.EncodeToString(raw))
	return plain, hashToken(plain)
}

func hashToken(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(sum[:])
}

// TupleWriter writes relation tuples inside the caller's transaction (the
// tuples context is the only writer of relation_tuples).
type TupleWriter interface {
	Write(ctx context.Context, tx *sql.Tx, add, remove []authz.Tuple) error
}

// Config configures the Service.
type Config struct {
	DB     *store.DB
	Audit  *audit.Log
	Tuples TupleWriter
	Pages  *page.Codec
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service owns identities and tokens.
type Service struct {
	db     *store.DB
	audit  *audit.Log
	tuples TupleWriter
	pages  *page.Codec
	now    func() time.Time
}

// NewService validates cfg and returns the identity service.
func NewService(cfg Config) (*Service, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("identity: Config.DB is required")
	case cfg.Audit == nil:
		return nil, errors.New("identity: Config.Audit is required")
	case cfg.Pages == nil:
		return nil, errors.New("identity: Config.Pages is required")
	case cfg.Tuples == nil:
		return nil, errors.New("identity: Config.Tuples is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{db: cfg.DB, audit: cfg.Audit, tuples: cfg.Tuples, pages: cfg.Pages, now: cfg.Now}, nil
}

// AuthenticateBearer implements api.Authenticator for psk_ tokens.
func (s *Service) AuthenticateBearer(ctx context.Context, token string) (*principal.Principal, error) {
	if !strings.HasPrefix(token, "psk_") {
		return nil, principal.ErrBadCredential
	}
	h := hashToken(token)
	var (
		p                         principal.Principal
		tokID, kind, domain       string
		secretHash                string
		prevNotAfter, expires, lu *int64
		revoked                   *int64
	)
	err := s.db.QueryRowContext(ctx, `SELECT t.id, t.secret_hash, t.prev_not_after, t.expires_at, t.last_used_at,
			t.revoked_at, i.id, i.kind, COALESCE(i.domain_id, ''), i.display_name
		FROM api_tokens t JOIN identities i ON i.id = t.identity_id
		WHERE t.secret_hash = $1 OR t.prev_hash = $1`, h).
		Scan(&tokID, &secretHash, &prevNotAfter, &expires, &lu, &revoked, &p.IdentityID, &kind, &domain, &p.DisplayName)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, principal.ErrBadCredential
	}
	if err != nil {
		return nil, fmt.Errorf("identity: authenticate: %w", err)
	}
	now := s.now()
	switch {
	case revoked != nil,
		expires != nil && now.After(store.Time(*expires)),
		secretHash != h && (prevNotAfter == nil || now.After(store.Time(*prevNotAfter))):
		return nil, principal.ErrBadCredential
	}
	if lu == nil || now.Sub(store.Time(*lu)) > lastUsedEvery {
		// Best effort: a failed stamp must not fail the request.
		_, _ = s.db.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = $2 WHERE id = $1`, tokID, store.Micros(now))
	}
	p.Kind, p.DomainID, p.Credential, p.CredentialID = principal.Kind(kind), domain, "api_token", tokID
	return &p, nil
}

// issue stores a new token for identity inside tx.
func (s *Service) issue(ctx context.Context, tx store.Querier, identityID, env string, ttl time.Duration) (id, plain string, expires *time.Time, err error) {
	plain, hash := newTokenSecret(env)
	id = uuid.Must(uuid.NewV7()).String()
	now := s.now()
	if ttl > 0 {
		t := now.Add(ttl).UTC()
		expires = &t
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO api_tokens (id, identity_id, env_prefix, display_prefix, secret_hash, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, identityID, env, plain[:len("psk_")+len(env)+1+4], hash,
		store.Micros(now), store.NullMicros(expires))
	if err != nil {
		return "", "", nil, fmt.Errorf("identity: issue token: %w", err)
	}
	return id, plain, expires, nil
}
