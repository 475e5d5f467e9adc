package serviceid

import (
	"context"
	"database/sql"
	"errors"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/oauth"
	"github.com/plexsphere/plexsphere/internal/oidc"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/store"
	"time"
)

// Federation kinds: which grant an identity's tokens come from.
const (
	KindClientCredentials = "client_credentials"
	KindJWTBearer         = "jwt_bearer"
)

// Authorizer is the authorization this context needs.
type Authorizer interface {
	Check(ctx context.Context, permission, object string) error
}

// Bindings looks IdP bindings up and lets their IdP verify client
// credentials.
type Bindings interface {
	LookupBinding(ctx context.Context, id string) (oidc.BindingRef, error)
	VerifyClientCredentials(ctx context.Context, bindingID, clientID, secret string) error
}

// Tokens issues and revokes plexsphere's own bearer tokens.
type Tokens interface {
	IssueService(ctx context.Context, tx *sql.Tx, identityID, bindingID, clientID string) (oauth.Issued, error)
	RevokeIdentity(ctx context.Context, tx *sql.Tx, identityID string) error
}

// TupleWriter writes relation tuples inside the caller's transaction.
type TupleWriter interface {
	Write(ctx context.Context, tx *sql.Tx, add, remove []authz.Tuple) error
}

// Config configures the Service.
type Config struct {
	DB       *store.DB
	Audit    *audit.Log
	Authz    Authorizer
	Pages    *page.Codec
	Bindings Bindings
	Tokens   Tokens
	Tuples   TupleWriter
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service serves service identities and their token endpoint.
type Service struct {
	db       *store.DB
	audit    *audit.Log
	authz    Authorizer
	pages    *page.Codec
	bindings Bindings
	tokens   Tokens
	tuples   TupleWriter
	now      func() time.Time
}

// NewService validates cfg and returns the service.
func NewService(cfg Config) (*Service, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("serviceid: Config.DB is required")
	case cfg.Audit == nil:
		return nil, errors.New("serviceid: Config.Audit is required")
	case cfg.Authz == nil:
		return nil, errors.New("serviceid: Config.Authz is required")
	case cfg.Pages == nil:
		return nil, errors.New("serviceid: Config.Pages is required")
	case cfg.Bindings == nil:
		return nil, errors.New("serviceid: Config.Bindings is required")
	case cfg.Tokens == nil:
		return nil, errors.New("serviceid: Config.Tokens is required")
	case cfg.Tuples == nil:
		return nil, errors.New("serviceid: Config.Tuples is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{db: cfg.DB, audit: cfg.Audit, authz: cfg.Authz, pages: cfg.Pages, bindings: cfg.Bindings,
		tokens: cfg.Tokens, tuples: cfg.Tuples, now: cfg.Now}, nil
}
