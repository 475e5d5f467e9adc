package labels

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Limits of api.md §2.10 and §3.4.
const (
	// MaxAssignments is the number of label assignments one object may hold.
	MaxAssignments = 64
	// MaxCardinality is the number of values a multi-valued key may hold on
	// one object; a Definition's cardinality 0 means this many.
	MaxCardinality = 64
)

// Authorizer is the authorization this context needs: a check before any
// read. Definition lists cover one scope, which the list checks as a whole,
// so no per-row visibility is needed.
type Authorizer interface {
	Check(ctx context.Context, permission, object string) error
}

// Config configures the Service.
type Config struct {
	DB    *store.DB
	Audit *audit.Log
	Authz Authorizer
	Pages *page.Codec
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Nodes is told, inside the transaction, of every assignment or
	// removal of a node's label (the policy delivery recompiles); nil:
	// none.
	Nodes NodeWatcher
}

// NodeWatcher learns that a node's labels changed.
type NodeWatcher interface {
	NodeLabelsChanged(ctx context.Context, tx *sql.Tx, nodeID string) error
}

// Service serves label Definitions, Assignments and the selector preview.
type Service struct {
	db    *store.DB
	audit *audit.Log
	authz Authorizer
	pages *page.Codec
	now   func() time.Time
	nodes NodeWatcher
}

// NewService validates cfg and returns the service.
func NewService(cfg Config) (*Service, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("labels: Config.DB is required")
	case cfg.Audit == nil:
		return nil, errors.New("labels: Config.Audit is required")
	case cfg.Authz == nil:
		return nil, errors.New("labels: Config.Authz is required")
	case cfg.Pages == nil:
		return nil, errors.New("labels: Config.Pages is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{db: cfg.DB, audit: cfg.Audit, authz: cfg.Authz, pages: cfg.Pages, now: cfg.Now, nodes: cfg.Nodes}, nil
}

// Register adds every label operation to api.
func (s *Service) Register(api huma.API) {
	s.registerDefinitions(api)
	s.registerDefinitionChanges(api)
	s.registerAssignments(api)
	s.registerPreview(api)
}

// stamp is the current time, truncated to what the database keeps.
func (s *Service) stamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// caller is the ReBAC subject of the request, recorded as assigned_by.
func caller(ctx context.Context) string {
	if p := principal.From(ctx); p != nil {
		return p.Ref()
	}
	return "system"
}

// SetNodeWatcher installs the watcher after construction, for a
// composition root whose watcher needs this Service first. Call it before
// serving.
func (s *Service) SetNodeWatcher(w NodeWatcher) { s.nodes = w }

// nodeChanged tells the watcher, if any, that t's labels changed.
func (s *Service) nodeChanged(ctx context.Context, tx *sql.Tx, t target) error {
	if s.nodes == nil || t.kind != "node" {
		return nil
	}
	return s.nodes.NodeLabelsChanged(ctx, tx, t.id)
}
