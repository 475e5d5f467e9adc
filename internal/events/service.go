package events

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/plexsphere/plexsphere/internal/envelope"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Defaults of Config.
const (
	// DefaultMaxEntries keeps the newest 10,000 entries per node.
	DefaultMaxEntries = 10_000
	// DefaultMaxAge keeps entries for 7 days (L7 asks for at least 24 h).
	DefaultMaxAge = 7 * 24 * time.Hour
	// DefaultPruneInterval is how often retention runs.
	DefaultPruneInterval = time.Minute
	// DefaultKeepalive is the comment interval on an idle stream (F3: at
	// most 15 s).
	DefaultKeepalive = 15 * time.Second
	// DefaultSweep is how often a connected stream re-reads its log even
	// without a wake-up, the safety net for a lost notification.
	DefaultSweep = 15 * time.Second
)

// Config configures the event plane.
type Config struct {
	// DB holds the log. Required.
	DB *store.DB
	// Directory resolves nodes to Domains. Required.
	Directory Directory
	// Keys signs envelopes. Required.
	Keys Keys
	// PostgresURL is the database URL, used for the LISTEN connection when
	// DB is PostgreSQL. Required then.
	PostgresURL string
	// MaxEntries bounds each node's log by count (DefaultMaxEntries).
	MaxEntries int
	// MaxAge bounds each node's log by age (DefaultMaxAge).
	MaxAge time.Duration
	// PruneInterval is how often retention runs (DefaultPruneInterval).
	PruneInterval time.Duration
	// Keepalive is the comment interval on an idle stream; at most 15 s
	// (DefaultKeepalive).
	Keepalive time.Duration
	// Sweep is how often a stream re-reads its log unprompted
	// (DefaultSweep).
	Sweep time.Duration
	// Reports bounds what each node stores through POST …/report
	// (zero fields take the Default* values of ReportLimits).
	Reports ReportLimits
	// Now is the clock (time.Now).
	Now func() time.Time
	// Logger receives operational messages (discarded when nil).
	Logger *slog.Logger
	// Fanout, when set, receives each live event's delay from creation to
	// its write on a node's stream.
	Fanout func(time.Duration)
}

// Service is the event plane: the log, the fan-out and the stream.
type Service struct {
	cfg   Config
	db    *store.DB
	hub   *hub
	sizer *envelope.Signer // checks F2 at append; never signs
	// source reads a node's log after a sequence number (s.read; tests
	// replace it).
	source func(ctx context.Context, nodeID string, after int64, limit int) ([]record, error)
	states stateLog // K6: when each node was last served state here

	// mu guards the fields below.
	mu      sync.Mutex
	cancel  context.CancelFunc
	stopped chan struct{}
}

// New validates cfg and fills defaults. Call Start before serving streams.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("events: Config.DB is required")
	case cfg.Directory == nil:
		return nil, errors.New("events: Config.Directory is required")
	case cfg.Keys == nil:
		return nil, errors.New("events: Config.Keys is required")
	case cfg.DB.Dialect() == store.Postgres && cfg.PostgresURL == "":
		return nil, errors.New("events: Config.PostgresURL is required on PostgreSQL")
	case cfg.Keepalive > 15*time.Second:
		return nil, fmt.Errorf("events: Config.Keepalive %s exceeds 15s (F3)", cfg.Keepalive)
	case cfg.MaxEntries < 0 || cfg.MaxAge < 0:
		return nil, errors.New("events: Config.MaxEntries and MaxAge must not be negative")
	}
	var err error
	if cfg.Reports, err = cfg.Reports.withDefaults(); err != nil {
		return nil, err
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.PruneInterval <= 0 {
		cfg.PruneInterval = DefaultPruneInterval
	}
	if cfg.Keepalive <= 0 {
		cfg.Keepalive = DefaultKeepalive
	}
	if cfg.Sweep <= 0 {
		cfg.Sweep = DefaultSweep
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	dummy, err := envelope.NewLocalKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	if err != nil {
		return nil, err
	}
	sizer, err := envelope.NewSigner(envelope.SignerOptions{Key: dummy})
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, db: cfg.DB, sizer: sizer}
	s.source = s.read
	s.hub = newHub(cfg.DB, cfg.PostgresURL, cfg.Logger)
	return s, nil
}

// Start runs the fan-out (and, on PostgreSQL, its LISTEN connection) and
// the retention loop until Close or ctx ends. Streams answer 503 until the
// fan-out is ready.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return errors.New("events: already started")
	}
	if err := s.hub.init(ctx); err != nil {
		return err
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.stopped = make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.hub.run(ctx) }()
	go func() { defer wg.Done(); s.pruneLoop(ctx) }()
	go func() { wg.Wait(); close(s.stopped) }()
	return nil
}

// Close stops the fan-out and retention and ends every open stream.
func (s *Service) Close() error {
	s.mu.Lock()
	cancel, stopped := s.cancel, s.stopped
	s.mu.Unlock()
	if cancel == nil {
		return nil
	}
	s.hub.ready.Store(false)
	cancel()
	<-stopped
	s.hub.ready.Store(false)
	s.hub.closeAll()
	return nil
}

// Ready reports whether streams can be served: the fan-out is running and,
// on PostgreSQL, listening.
func (s *Service) Ready() bool { return s.hub.ready.Load() }

func (s *Service) pruneLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.PruneInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := s.Prune(ctx); err != nil {
				s.cfg.Logger.WarnContext(ctx, "event log retention failed", "error", err)
			} else if n > 0 {
				s.cfg.Logger.InfoContext(ctx, "event log pruned", "entries", n)
			}
		}
	}
}
