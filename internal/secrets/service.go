package secrets

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
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/ratelimit"
	"github.com/plexsphere/plexsphere/internal/secrets/backend"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Authorizer checks a permission on an object before any read.
type Authorizer interface {
	Check(ctx context.Context, permission, object string) error
}

// Projects reads a Project (tenancy), for its Domain.
type Projects interface {
	GetProject(ctx context.Context, q store.Querier, id string) (apiv1.Project, error)
}

// Emitter appends per-node events inside a transaction (the event plane).
type Emitter interface {
	EmitEach(ctx context.Context, tx *sql.Tx, eventType string, payloads map[string]any) error
}

// NSKs opens a node's NSK in memory for level-1 delivery (enrolment).
type NSKs interface {
	OpenNSK(ctx context.Context, nodeID string) (string, error)
}

// Config configures the Service.
type Config struct {
	DB       *store.DB
	Audit    *audit.Log
	Authz    Authorizer
	Projects Projects
	Pages    *page.Codec
	Backend  backend.Backend
	Events   Emitter
	NSKs     NSKs
	Logger   *slog.Logger
	// WatchInterval is how often the watcher reads the backend's metadata
	// of every secret for versions written outside plexsphere; 0 means 30 s,
	// negative disables the watcher.
	WatchInterval time.Duration
	// NodeFetchRate and DomainFetchRate bound node secret fetches per
	// second per node and per Domain (bursts of 4× the rate); 0 means 20
	// and 2,000.
	NodeFetchRate, DomainFetchRate float64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service serves the secrets context.
type Service struct {
	cfg Config
	// perNode and perDomain bound node fetches.
	perNode, perDomain *ratelimit.Limiter

	// mu guards stop.
	mu   sync.Mutex
	stop context.CancelFunc
	done chan struct{}
}

// NewService validates cfg, fills its defaults and returns the service.
func NewService(cfg Config) (*Service, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("secrets: Config.DB is required")
	case cfg.Audit == nil:
		return nil, errors.New("secrets: Config.Audit is required")
	case cfg.Authz == nil:
		return nil, errors.New("secrets: Config.Authz is required")
	case cfg.Projects == nil:
		return nil, errors.New("secrets: Config.Projects is required")
	case cfg.Pages == nil:
		return nil, errors.New("secrets: Config.Pages is required")
	case cfg.Backend == nil:
		return nil, errors.New("secrets: Config.Backend is required")
	case cfg.Events == nil:
		return nil, errors.New("secrets: Config.Events is required")
	case cfg.NSKs == nil:
		return nil, errors.New("secrets: Config.NSKs is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.WatchInterval == 0 {
		cfg.WatchInterval = 30 * time.Second
	}
	if cfg.NodeFetchRate <= 0 {
		cfg.NodeFetchRate = 20
	}
	if cfg.DomainFetchRate <= 0 {
		cfg.DomainFetchRate = 2000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg,
		perNode:   ratelimit.New(cfg.NodeFetchRate, int(4*cfg.NodeFetchRate), cfg.Now),
		perDomain: ratelimit.New(cfg.DomainFetchRate, int(4*cfg.DomainFetchRate), cfg.Now),
	}, nil
}

// Register adds the operator operations to api. The node-facing fetch and
// sealing-key registration are served through the event plane's agent
// surface (events.AgentOptions.Secrets).
func (s *Service) Register(api huma.API) {
	s.registerSecrets(api)
	s.registerBindings(api)
}

// BackendName names the backend for logs and health ("openbao",
// "embedded").
func (s *Service) BackendName() string {
	if n, ok := s.cfg.Backend.(backend.Named); ok {
		return n.Name()
	}
	return "custom"
}

// stamp is the current time, truncated to what the database keeps.
func (s *Service) stamp() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }
