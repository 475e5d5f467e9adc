package identity

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

// Authorizer is the authorization the admin token operations need.
type Authorizer interface {
	Check(ctx context.Context, permission, object string) error
	Visible(ctx context.Context, permission string, objects []string) ([]bool, error)
}

// Config configures the Service.
type Config struct {
	DB     *store.DB
	Audit  *audit.Log
	Tuples TupleWriter
	Pages  *page.Codec
	// Authz authorizes the admin token operations (/v1/admin/tokens); nil
	// leaves them unregistered.
	Authz Authorizer
	// AdminTokenMaxTTL is the policy's longest lifetime of a token an
	// admin issues for another principal; 0 means DefaultAdminTokenMaxTTL.
	AdminTokenMaxTTL time.Duration
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
	authz  Authorizer
	maxTTL time.Duration
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
	if cfg.AdminTokenMaxTTL <= 0 {
		cfg.AdminTokenMaxTTL = DefaultAdminTokenMaxTTL
	}
	return &Service{db: cfg.DB, audit: cfg.Audit, tuples: cfg.Tuples, pages: cfg.Pages, now: cfg.Now,
		authz: cfg.Authz, maxTTL: cfg.AdminTokenMaxTTL}, nil
}

// AuthenticateBearer implements api.Authenticator for psk_ tokens. A token
// that descends from a sign-in lives only as long as its IdP binding is
// active; the principal carries that sign-in's acr, amr and auth_time.
func (s *Service) AuthenticateBearer(ctx context.Context, token string) (*principal.Principal, error) {
	if !strings.HasPrefix(token, "psk_") {
		return nil, principal.ErrBadCredential
	}
	h := hashToken(token)
	var (
		p                         principal.Principal
		tokID, kind, domain       string
		secretHash, amr           string
		binding, bindingStatus    *string
		prevNotAfter, expires, lu *int64
		revoked, authTime         *int64
	)
	err := s.db.QueryRowContext(ctx, `SELECT t.id, t.secret_hash, t.prev_not_after, t.expires_at, t.last_used_at,
			t.revoked_at, t.idp_binding_id, b.status, t.acr, t.amr, t.auth_time, t.break_glass,
			i.id, i.kind, COALESCE(i.domain_id, ''), i.display_name
		FROM api_tokens t JOIN identities i ON i.id = t.identity_id
		LEFT JOIN idp_bindings b ON b.id = t.idp_binding_id
		WHERE t.secret_hash = $1 OR t.prev_hash = $1`, h).
		Scan(&tokID, &secretHash, &prevNotAfter, &expires, &lu, &revoked, &binding, &bindingStatus, &p.ACR, &amr,
			&authTime, &p.BreakGlass, &p.IdentityID, &kind, &domain, &p.DisplayName)
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
		binding != nil && (bindingStatus == nil || *bindingStatus != "active"),
		secretHash != h && (prevNotAfter == nil || now.After(store.Time(*prevNotAfter))):
		return nil, principal.ErrBadCredential
	}
	if err := json.Unmarshal([]byte(amr), &p.AMR); err != nil {
		return nil, fmt.Errorf("identity: stored amr: %w", err)
	}
	if lu == nil || now.Sub(store.Time(*lu)) > lastUsedEvery {
		// Best effort: a failed stamp must not fail the request.
		_, _ = s.db.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = $2 WHERE id = $1`, tokID, store.Micros(now))
	}
	p.Kind, p.DomainID, p.Credential, p.CredentialID = principal.Kind(kind), domain, "api_token", tokID
	if binding != nil {
		p.IdPBindingID = *binding
	}
	if authTime != nil {
		p.AuthTime = store.Time(*authTime)
	}
	if expires != nil {
		p.ExpiresAt = store.Time(*expires)
	}
	p.Superseded = secretHash != h
	return &p, nil
}

// lineage is what a new token inherits from the credential that mints it:
// its parent, the sign-in it descends from, and whether it is break-glass.
type lineage struct {
	parentID   string
	bindingID  string
	acr        string
	amr        []string
	authTime   time.Time
	breakGlass bool
}

// lineageOf is the lineage of a token minted by p's credential.
func lineageOf(p *principal.Principal) lineage {
	return lineage{parentID: p.CredentialID, bindingID: p.IdPBindingID, acr: p.ACR, amr: p.AMR,
		authTime: p.AuthTime, breakGlass: p.BreakGlass}
}

// issue stores a new token for identity inside tx. A zero expiry means
// none.
func (s *Service) issue(ctx context.Context, tx store.Querier, identityID, env string, expires time.Time, l lineage) (id, plain string, err error) {
	plain, hash := newTokenSecret(env)
	id = uuid.Must(uuid.NewV7()).String()
	amr := l.amr
	if amr == nil {
		amr = []string{}
	}
	amrJSON, _ := json.Marshal(amr)
	_, err = tx.ExecContext(ctx, `INSERT INTO api_tokens (id, identity_id, env_prefix, display_prefix, secret_hash, created_at,
		expires_at, parent_id, idp_binding_id, acr, amr, auth_time, break_glass)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`, id, identityID, env,
		plain[:len("psk_")+len(env)+1+4], hash, store.Micros(s.now()), nullTime(expires), nullString(l.parentID),
		nullString(l.bindingID), l.acr, string(amrJSON), nullTime(l.authTime), l.breakGlass)
	if err != nil {
		return "", "", fmt.Errorf("identity: issue token: %w", err)
	}
	return id, plain, nil
}

// RevokeDerived revokes, inside tx, every live API token minted by one of
// the credentials parentIDs (API tokens, device logins, service tokens or
// sessions), and the tokens minted by those in turn.
func (s *Service) RevokeDerived(ctx context.Context, tx *sql.Tx, parentIDs ...string) error {
	now := store.Micros(s.now())
	for len(parentIDs) > 0 {
		var next []string
		for _, parent := range parentIDs {
			ids, err := s.revokeChildren(ctx, tx, parent, now)
			if err != nil {
				return err
			}
			next = append(next, ids...)
		}
		parentIDs = next
	}
	return nil
}

// revokeChildren revokes the live tokens minted by parent and returns
// their ids.
func (s *Service) revokeChildren(ctx context.Context, tx *sql.Tx, parent string, now int64) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `UPDATE api_tokens SET revoked_at = $2 WHERE parent_id = $1 AND revoked_at IS NULL
		RETURNING id`, parent, now)
	if err != nil {
		return nil, fmt.Errorf("identity: revoke derived: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("identity: revoke derived: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func nullString(v string) any {
	if v == "" {
		return nil
	}
	return v
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return store.Micros(t)
}
