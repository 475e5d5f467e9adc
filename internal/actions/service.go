package actions

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/every"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Authorizer checks a permission on an object.
type Authorizer interface {
	Check(ctx context.Context, permission, object string) error
}

// Visibility filters objects by a permission without failing (the guard).
type Visibility interface {
	Visible(ctx context.Context, permission string, objects []string) ([]bool, error)
}

// Projects reads a Project (tenancy).
type Projects interface {
	GetProject(ctx context.Context, q store.Querier, id string) (apiv1.Project, error)
}

// Emitter appends events to nodes' logs inside a transaction.
type Emitter interface {
	Emit(ctx context.Context, tx *sql.Tx, nodeIDs []string, eventType string, payload any) error
}

// CallerFunc names the node of an NSK-authenticated request.
type CallerFunc func(ctx context.Context) (string, bool)

// Config configures the Service.
type Config struct {
	DB       *store.DB
	Audit    *audit.Log
	Authz    Authorizer
	Projects Projects
	Pages    *page.Codec
	Events   Emitter
	Caller   CallerFunc
	Logger   *slog.Logger
	// DefaultTimeout is a target's timeout when the dispatch names none
	// (5 min; at most 10 min, the agent's cap).
	DefaultTimeout time.Duration
	// Margin is added to a target's timeout before the control plane
	// times it out itself (AC3; 15 s).
	Margin time.Duration
	// SweepInterval is how often deadlines are checked and rollouts
	// topped up (1 s).
	SweepInterval time.Duration
	// MaxLive bounds a Domain's live executions (1,000; 429
	// capacity_exceeded beyond).
	MaxLive int
	// DriftAfter is how long a level-2 node may report enforcing another
	// policy ruleset than the one it was last sent before it counts as
	// drifted (5 min).
	DriftAfter time.Duration
	Now        func() time.Time
}

// Service serves executions, capabilities, hooks and integrity.
type Service struct {
	cfg Config

	mu      sync.Mutex
	sweeper *every.Loop
}

// NewService checks cfg and fills its defaults.
func NewService(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Audit == nil || cfg.Authz == nil || cfg.Projects == nil || cfg.Pages == nil || cfg.Events == nil {
		return nil, errors.New("actions: DB, Audit, Authz, Projects, Pages and Events are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DefaultTimeout <= 0 {
		cfg.DefaultTimeout = 5 * time.Minute
	}
	if cfg.Margin <= 0 {
		cfg.Margin = 15 * time.Second
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = time.Second
	}
	if cfg.MaxLive <= 0 {
		cfg.MaxLive = 1000
	}
	if cfg.DriftAfter <= 0 {
		cfg.DriftAfter = 5 * time.Minute
	}
	return &Service{cfg: cfg}, nil
}

// Register adds the operator and node operations.
func (s *Service) Register(api huma.API) {
	s.registerExecutions(api)
	s.registerNode(api)
	s.registerIntegrity(api)
	s.registerInventory(api)
	s.registerStream(api)
}

// Start runs the sweeper: timeouts on the control plane's clock and the
// top-up of rollouts whose events were lost.
func (s *Service) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweeper = every.Start(s.cfg.SweepInterval, func(ctx context.Context) error {
		_, err := s.Sweep(ctx)
		return err
	}, func(err error) { s.cfg.Logger.Warn("execution sweep failed", "error", err.Error()) })
}

// Close stops the sweeper.
func (s *Service) Close() {
	s.mu.Lock()
	l := s.sweeper
	s.sweeper = nil
	s.mu.Unlock()
	l.Stop()
}
