package policy

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/store"
	"github.com/plexsphere/plexsphere/internal/tuples"
)

// Authorizer is the authorization this context needs: a check before any
// read, and per-row visibility for lists and dry-run node ids.
type Authorizer interface {
	Check(ctx context.Context, permission, object string) error
	Visible(ctx context.Context, permission string, objects []string) ([]bool, error)
}

// Tuples writes a Policy's structural tuple (policy#project) in the
// Policy's transaction and removes its tuples on delete.
type Tuples interface {
	WriteRows(ctx context.Context, tx *sql.Tx, add []tuples.Row, remove []authz.Tuple, strict bool) ([]tuples.Row, error)
	RemoveObject(ctx context.Context, tx *sql.Tx, resource authz.ObjectRef) error
	Sync(ctx context.Context) error
}

// Projects reads a Project (tenancy), for its Domain.
type Projects interface {
	GetProject(ctx context.Context, q store.Querier, id string) (apiv1.Project, error)
}

// Notifier learns of every change of a Domain's policies inside the
// change's transaction (the delivery recompiles the affected nodes and
// emits policy_updated). policyID names the Policy created, patched or
// deleted.
type Notifier interface {
	PolicyChanged(ctx context.Context, tx *sql.Tx, domainID, policyID string) error
}

// Config configures the Service.
type Config struct {
	DB       *store.DB
	Audit    *audit.Log
	Authz    Authorizer
	Tuples   Tuples
	Pages    *page.Codec
	Projects Projects
	// Notifier is told of every change; nil means nobody listens.
	Notifier Notifier
	// Inventory loads a Domain's nodes and default for tests and dry-run;
	// nil means DBInventory.
	Inventory Inventory
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service serves the policy operations.
type Service struct {
	cfg Config
}

// NewService validates cfg, fills its defaults and returns the service.
func NewService(cfg Config) (*Service, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("policy: Config.DB is required")
	case cfg.Audit == nil:
		return nil, errors.New("policy: Config.Audit is required")
	case cfg.Authz == nil:
		return nil, errors.New("policy: Config.Authz is required")
	case cfg.Tuples == nil:
		return nil, errors.New("policy: Config.Tuples is required")
	case cfg.Pages == nil:
		return nil, errors.New("policy: Config.Pages is required")
	case cfg.Projects == nil:
		return nil, errors.New("policy: Config.Projects is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Inventory == nil {
		cfg.Inventory = DBInventory{}
	}
	return &Service{cfg: cfg}, nil
}

// Register adds the nine policy operations to api.
func (s *Service) Register(api huma.API) {
	s.registerPolicies(api)
	s.registerRevisions(api)
}

// ForDomain returns the head revision of every Policy of the Domain in
// policy id order; for the delivery.
func (s *Service) ForDomain(ctx context.Context, q store.Querier, domainID string) ([]HeadRevision, error) {
	return ForDomain(ctx, q, domainID)
}

// stamp is the current time, truncated to what the database keeps.
func (s *Service) stamp() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// notify tells the Notifier, if any, of a change.
func (s *Service) notify(ctx context.Context, tx *sql.Tx, domainID, policyID string) error {
	if s.cfg.Notifier == nil {
		return nil
	}
	return s.cfg.Notifier.PolicyChanged(ctx, tx, domainID, policyID)
}

// synced makes a committed tuple change visible on this replica now; if it
// fails, the change-log poller applies it shortly.
func (s *Service) synced(ctx context.Context, err error) error {
	if err == nil {
		_ = s.cfg.Tuples.Sync(ctx)
	}
	return err
}
