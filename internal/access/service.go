package access

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/every"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/ratelimit"
	"github.com/plexsphere/plexsphere/internal/signing"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Authorizer checks a permission on an object.
type Authorizer interface {
	Check(ctx context.Context, permission, object string) error
}

// Tenancy reads Projects and Resources.
type Tenancy interface {
	GetProject(ctx context.Context, q store.Querier, id string) (apiv1.Project, error)
	GetResource(ctx context.Context, q store.Querier, id string) (apiv1.Resource, error)
}

// Emitter appends events to nodes' logs inside a transaction.
type Emitter interface {
	Emit(ctx context.Context, tx *sql.Tx, nodeIDs []string, eventType string, payload any) error
}

// Keys are the Domain signing keys (signing.Local).
type Keys interface {
	ActiveKey(ctx context.Context, q store.Querier, domainID string) (signing.Key, error)
	SignWith(ctx context.Context, kid string, msg []byte) ([]byte, error)
	PublicKeys(ctx context.Context, domainID string) ([]signing.Key, error)
}

// StepUp decides whether the caller meets its IdP binding's step-up
// requirement (the OIDC service); nil checks nothing.
type StepUp interface {
	RequireStepUp(ctx context.Context, p *principal.Principal) error
}

// Gateway is the session plane's way into a Project's mesh: a peer of its
// own (docs/design/0008-access.md). Source brings the Project's gateway up
// if needed and returns its mesh IP; Dial connects through it.
type Gateway interface {
	Source(ctx context.Context, projectID string) (string, error)
	Dial(ctx context.Context, projectID, addr string) (net.Conn, error)
}

// Config configures the Service.
type Config struct {
	DB      *store.DB
	Audit   *audit.Log
	Authz   Authorizer
	Tenancy Tenancy
	Pages   *page.Codec
	Events  Emitter
	Keys    Keys
	StepUp  StepUp
	Gateway Gateway
	Logger  *slog.Logger
	// Caller names the node of an NSK-authenticated request (the node
	// callbacks); nil trusts the API middleware alone.
	Caller CallerFunc
	// PublicURL prefixes the callback_url of session_setup ("" leaves it
	// a path).
	PublicURL string
	// DefaultTTL is a session's lifetime when the request names none (10
	// min); MaxTTL clamps requests (15 min, never above 30 min, A1).
	DefaultTTL, MaxTTL time.Duration
	// MaxLive bounds a Domain's live sessions (100); IssueRate its
	// issuances per second (1, bursts of 60).
	MaxLive   int
	IssueRate float64
	// RecordingMax bounds one recording (64 MiB).
	RecordingMax int64
	// SweepInterval is how often expired sessions are closed (5 s).
	SweepInterval time.Duration
	// AccessPort is the nodes' access listener port (7480).
	AccessPort int
	// TerminalKey derives the browser terminal sessions' SSH keys (a
	// server secret of at least 32 bytes, shared by replicas); nil
	// refuses terminal sessions.
	TerminalKey []byte
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Service serves the access context.
type Service struct {
	cfg    Config
	issues *ratelimit.Limiter
	// issueMu serialises the cap check and the insert of one Domain's
	// sessions on this replica.
	issueMu sync.Mutex

	mu      sync.Mutex
	live    map[string]map[*attachment]struct{} // session id → attached connections
	sweeper *every.Loop
}

// NewService checks cfg and fills its defaults.
func NewService(cfg Config) (*Service, error) {
	switch {
	case cfg.DB == nil || cfg.Audit == nil || cfg.Authz == nil || cfg.Tenancy == nil || cfg.Pages == nil:
		return nil, errors.New("access: DB, Audit, Authz, Tenancy and Pages are required")
	case cfg.Events == nil || cfg.Keys == nil:
		return nil, errors.New("access: Events and Keys are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxTTL <= 0 {
		cfg.MaxTTL = 15 * time.Minute
	}
	cfg.MaxTTL = min(cfg.MaxTTL, 30*time.Minute)
	if cfg.DefaultTTL <= 0 {
		cfg.DefaultTTL = 10 * time.Minute
	}
	cfg.DefaultTTL = min(cfg.DefaultTTL, cfg.MaxTTL)
	if cfg.MaxLive <= 0 {
		cfg.MaxLive = 100
	}
	if cfg.IssueRate <= 0 {
		cfg.IssueRate = 1
	}
	if cfg.RecordingMax <= 0 {
		cfg.RecordingMax = 64 << 20
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = 5 * time.Second
	}
	if cfg.AccessPort == 0 {
		cfg.AccessPort = 7480
	}
	return &Service{cfg: cfg, issues: ratelimit.New(cfg.IssueRate, 60, cfg.Now),
		live: map[string]map[*attachment]struct{}{}}, nil
}

// Register adds the operator and node operations.
func (s *Service) Register(api huma.API) {
	s.registerSessions(api)
	s.registerNode(api)
	s.registerAttach(api)
	s.registerTerminal(api)
}

// Start runs the sweeper that expires sessions past their TTL or idle
// timeout.
func (s *Service) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweeper = every.Start(s.cfg.SweepInterval, func(ctx context.Context) error {
		_, err := s.Sweep(ctx)
		return err
	}, func(err error) { s.cfg.Logger.Warn("session sweep failed", slog.String("error", err.Error())) })
}

// Close stops the sweeper and closes every attached connection.
func (s *Service) Close() {
	s.mu.Lock()
	sweeper := s.sweeper
	s.sweeper = nil
	live := s.live
	s.live = map[string]map[*attachment]struct{}{}
	s.mu.Unlock()
	sweeper.Stop()
	for _, as := range live {
		for a := range as {
			a.end("server_shutdown")
		}
	}
}

// attachment is one attached operator connection and its way to the node.
type attachment struct {
	once sync.Once
	// ended receives why the session was ended from outside ("" when it
	// ended by itself).
	reason chan string
	node   net.Conn
}

func newAttachment(node net.Conn) *attachment {
	return &attachment{reason: make(chan string, 1), node: node}
}

// end records why and closes the node's side, which ends the splice.
func (a *attachment) end(reason string) {
	a.once.Do(func() {
		a.reason <- reason
		a.node.Close()
	})
}

// endedBy is the outside reason, if any.
func (a *attachment) endedBy() string {
	select {
	case r := <-a.reason:
		return r
	default:
		return ""
	}
}

// track registers an attachment of a session; the returned func forgets
// it.
func (s *Service) track(sessionID string, a *attachment) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live[sessionID] == nil {
		s.live[sessionID] = map[*attachment]struct{}{}
	}
	s.live[sessionID][a] = struct{}{}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.live[sessionID], a)
		if len(s.live[sessionID]) == 0 {
			delete(s.live, sessionID)
		}
	}
}

// hangUp ends the attached connections of a session on this replica.
func (s *Service) hangUp(sessionID, reason string) {
	s.mu.Lock()
	as := s.live[sessionID]
	delete(s.live, sessionID)
	s.mu.Unlock()
	for a := range as {
		a.end(reason)
	}
}

// publicKeys are a Domain's verification keys (for tokens presented to the
// Kubernetes path).
func (s *Service) publicKeys(ctx context.Context, domainID string) ([]ed25519.PublicKey, error) {
	ks, err := s.cfg.Keys.PublicKeys(ctx, domainID)
	if err != nil {
		return nil, err
	}
	out := make([]ed25519.PublicKey, 0, len(ks))
	for _, k := range ks {
		if k.Status != "retired" {
			out = append(out, k.Public)
		}
	}
	return out, nil
}
