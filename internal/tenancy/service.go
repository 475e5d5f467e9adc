package tenancy

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/store"
	"github.com/plexsphere/plexsphere/internal/tuples"
)

// Authorizer is the authorization this context needs: a check before any
// read, and per-row visibility for lists.
type Authorizer interface {
	Check(ctx context.Context, permission, object string) error
	Visible(ctx context.Context, permission string, objects []string) ([]bool, error)
}

// Tuples writes the structural relation tuples (a Domain's platform, a
// Project's Domain, a Resource's Project) in the object's transaction.
type Tuples interface {
	WriteRows(ctx context.Context, tx *sql.Tx, add []tuples.Row, remove []authz.Tuple, strict bool) ([]tuples.Row, error)
	RemoveObject(ctx context.Context, tx *sql.Tx, resource authz.ObjectRef) error
	Sync(ctx context.Context) error
}

// Config configures the Service.
type Config struct {
	DB     *store.DB
	Audit  *audit.Log
	Authz  Authorizer
	Tuples Tuples
	Pages  *page.Codec
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service serves Domains, Projects and Resources.
type Service struct {
	db     *store.DB
	audit  *audit.Log
	authz  Authorizer
	tuples Tuples
	pages  *page.Codec
	now    func() time.Time
}

// NewService validates cfg and returns the service.
func NewService(cfg Config) (*Service, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("tenancy: Config.DB is required")
	case cfg.Audit == nil:
		return nil, errors.New("tenancy: Config.Audit is required")
	case cfg.Authz == nil:
		return nil, errors.New("tenancy: Config.Authz is required")
	case cfg.Tuples == nil:
		return nil, errors.New("tenancy: Config.Tuples is required")
	case cfg.Pages == nil:
		return nil, errors.New("tenancy: Config.Pages is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{db: cfg.DB, audit: cfg.Audit, authz: cfg.Authz, tuples: cfg.Tuples, pages: cfg.Pages, now: cfg.Now}, nil
}

// Register adds every tenancy operation to api.
func (s *Service) Register(api huma.API) {
	s.registerDomains(api)
	s.registerProjects(api)
	s.registerResources(api)
}

// stamp is the current time, truncated to what the database keeps.
func (s *Service) stamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// link writes the object-graph tuple child#relation@parent in tx, marked
// structural so delete guards and the relation-tuple API ignore it.
func (s *Service) link(ctx context.Context, tx *sql.Tx, child authz.ObjectRef, relation string, parent authz.ObjectRef, domainID string) error {
	_, err := s.tuples.WriteRows(ctx, tx, []tuples.Row{{
		Tuple:    authz.Tuple{Resource: child, Relation: relation, Subject: parent.Subject()},
		DomainID: domainID, Structural: true,
	}}, nil, false)
	return err
}

// synced makes a committed tuple change visible on this replica now; if it
// fails, the change-log poller applies it shortly.
func (s *Service) synced(ctx context.Context, err error) error {
	if err == nil {
		_ = s.tuples.Sync(ctx)
	}
	return err
}

// caller is the request's principal as a ReBAC subject (false when
// anonymous).
func caller(ctx context.Context) (authz.SubjectRef, bool) {
	p := principal.From(ctx)
	if p == nil {
		return authz.SubjectRef{}, false
	}
	return authz.SubjectRef{Object: authz.ObjectRef{Type: string(p.Kind), ID: p.IdentityID}}, true
}
