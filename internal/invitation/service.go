package invitation

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/store"
	"github.com/plexsphere/plexsphere/internal/tuples"
)

// Limits of an invitation (the contract's).
const (
	DefaultTTL = 24 * time.Hour
	MinTTL     = time.Minute
	MaxTTL     = 7 * 24 * time.Hour
	MaxTuples  = 32
)

// Authorizer is the authorization this context needs.
type Authorizer interface {
	Check(ctx context.Context, permission, object string) error
}

// TupleWriter writes scoped relation tuples inside the caller's
// transaction (the ReBAC store).
type TupleWriter interface {
	WriteRows(ctx context.Context, tx *sql.Tx, add []tuples.Row, remove []authz.Tuple, strict bool) ([]tuples.Row, error)
}

// Config configures the Service.
type Config struct {
	DB     *store.DB
	Audit  *audit.Log
	Authz  Authorizer
	Pages  *page.Codec
	Tuples TupleWriter
	// Schema validates the staged tuples.
	Schema *authz.Schema
	// PublicURL prefixes the sign-in link; empty leaves it a path.
	PublicURL string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service serves invitations and redeems them at sign-in.
type Service struct {
	db        *store.DB
	audit     *audit.Log
	authz     Authorizer
	pages     *page.Codec
	tuples    TupleWriter
	schema    *authz.Schema
	publicURL string
	now       func() time.Time
}

// NewService validates cfg and returns the service.
func NewService(cfg Config) (*Service, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("invitation: Config.DB is required")
	case cfg.Audit == nil:
		return nil, errors.New("invitation: Config.Audit is required")
	case cfg.Authz == nil:
		return nil, errors.New("invitation: Config.Authz is required")
	case cfg.Pages == nil:
		return nil, errors.New("invitation: Config.Pages is required")
	case cfg.Tuples == nil:
		return nil, errors.New("invitation: Config.Tuples is required")
	case cfg.Schema == nil:
		return nil, errors.New("invitation: Config.Schema is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{db: cfg.DB, audit: cfg.Audit, authz: cfg.Authz, pages: cfg.Pages, tuples: cfg.Tuples,
		schema: cfg.Schema, publicURL: strings.TrimRight(cfg.PublicURL, "/"), now: cfg.Now}, nil
}

// pseudonym is the per-Domain pseudonym of an invited address: the audit
// pseudonym of its lower-cased, trimmed form, so matching is
// case-insensitive and the address is never stored.
func (s *Service) pseudonym(domainID, email string) string {
	return s.audit.Pseudonym(domainID, "email:"+strings.ToLower(strings.TrimSpace(email)))
}
