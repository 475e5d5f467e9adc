package deliver

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/policy/compile"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Emitter appends events to nodes' logs inside the caller's transaction
// (the event plane's Service).
type Emitter interface {
	Emit(ctx context.Context, tx *sql.Tx, nodeIDs []string, eventType string, payload any) error
	EmitEach(ctx context.Context, tx *sql.Tx, eventType string, payloads map[string]any) error
}

// Renderer renders one node as another sees it (internal/mesh), for the
// peer_added a policy change causes.
type Renderer interface {
	Render(ctx context.Context, tx *sql.Tx, viewer, subject string) (nodeproto.Peer, error)
}

// Authorizer checks an operator's permission (the guard).
type Authorizer interface {
	Check(ctx context.Context, permission, object string) error
}

// Config configures the Service.
type Config struct {
	// DB is the store. Required.
	DB *store.DB
	// Events receives policy and peer events; nil emits nothing (tests).
	Events Emitter
	// Mesh renders peers for peer_added; nil sends no peer events.
	Mesh Renderer
	// Authz and Audit guard and record the Domain default operations
	// (needed by Register only).
	Authz Authorizer
	Audit *audit.Log
	// Logger logs what goes wrong outside a request; nil discards.
	Logger *slog.Logger
	// Now is the clock that stamps when a node was sent a new ruleset
	// (time.Now when nil).
	Now func() time.Time
}

// Service delivers compiled policy.
type Service struct {
	cfg Config

	// mu guards domains and every use of a cached index (an Index is not
	// safe for concurrent use).
	mu      sync.Mutex
	domains map[string]*cached
}

// cached is a Domain's index as of a generation.
type cached struct {
	gen int64
	x   *compile.Index
}

// New validates cfg and returns the service.
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil {
		return nil, errors.New("deliver: Config.DB is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg, domains: map[string]*cached{}}, nil
}

// build reads a Domain's mode, policies and nodes through q.
func build(ctx context.Context, q store.Querier, domainID string) (*compile.Index, error) {
	mode, err := loadMode(ctx, q, domainID)
	if err != nil {
		return nil, err
	}
	pols, err := loadPolicies(ctx, q, domainID)
	if err != nil {
		return nil, err
	}
	nodes, err := loadNodes(ctx, q, domainID)
	if err != nil {
		return nil, err
	}
	return compile.NewIndex(mode, pols, nodes), nil
}

// view runs f on the Domain's index as q sees it: the cached one when it
// is at q's generation, else one rebuilt from q (and cached).
func (s *Service) view(ctx context.Context, q store.Querier, domainID string, f func(x *compile.Index) error) error {
	gen, err := readGeneration(ctx, q, domainID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if c, ok := s.domains[domainID]; ok && c.gen == gen {
		defer s.mu.Unlock()
		return f(c.x)
	}
	s.mu.Unlock()
	x, err := build(ctx, q, domainID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.domains[domainID] = &cached{gen: gen, x: x}
	return f(x)
}

// Forget drops the cached indexes (tests; a replica that learns of a
// change made elsewhere).
func (s *Service) Forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.domains)
}
