package opevents

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/plexsphere/plexsphere/internal/every"
	"github.com/plexsphere/plexsphere/internal/guard"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Defaults.
const (
	DefaultPoll         = 500 * time.Millisecond
	DefaultKeepalive    = 15 * time.Second
	DefaultSweep        = 2 * time.Second
	DefaultMaxPerDomain = 64
	DefaultRetain       = 10000
	DefaultRetainFor    = 24 * time.Hour
	// pruneEvery is how often the log is trimmed.
	pruneEvery = time.Minute
)

// Checker is the request-time authorization check (guard.Guard).
type Checker interface {
	Check(ctx context.Context, permission, object string) error
}

// Decider answers the per-event read checks (guard.Engine). Begin gives a
// context with a fresh memo: a stream takes one per read of its log, so a
// grant or revocation takes effect within a read.
type Decider interface {
	guard.Decider
	Begin(ctx context.Context) context.Context
}

// Config configures a Service.
type Config struct {
	DB *store.DB
	// Authz checks domain-view on the Domain when a stream opens.
	Authz Checker
	// Decider answers the per-event read checks for the subscriber.
	Decider Decider
	Logger  *slog.Logger
	Now     func() time.Time
	// Poll is how often the Domain heads are read for other replicas'
	// events; Keepalive how often an idle stream gets a comment; Sweep how
	// often reachability is projected.
	Poll, Keepalive, Sweep time.Duration
	// MaxPerDomain bounds the open streams of one Domain on this replica.
	MaxPerDomain int
	// Retain and RetainFor bound each Domain's log.
	Retain    int
	RetainFor time.Duration
}

// followUps are when the poller looks again after an event was recorded
// here: the first look may come before the transaction commits.
var followUps = []time.Duration{5 * time.Millisecond, 20 * time.Millisecond, 60 * time.Millisecond}

// Service records operator events and serves the stream.
type Service struct {
	cfg  Config
	poke chan struct{}
	stop chan struct{}
	wg   sync.WaitGroup
	// mu guards subs, heads, closed and started.
	mu      sync.Mutex
	subs    map[string]map[*subscriber]struct{}
	heads   map[string]int64
	closed  bool
	started bool
	sweeper *every.Loop
}

// subscriber is one open stream.
type subscriber struct {
	domainID string
	wake     chan struct{} // capacity 1: wake-ups coalesce
	done     chan struct{} // closed when the service closes
}

// New validates cfg and returns a Service; Start runs its loops.
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Authz == nil || cfg.Decider == nil {
		return nil, errors.New("opevents: Config.DB, Authz and Decider are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Poll, DefaultPoll)
	def(&cfg.Keepalive, DefaultKeepalive)
	def(&cfg.Sweep, DefaultSweep)
	def(&cfg.RetainFor, DefaultRetainFor)
	if cfg.MaxPerDomain <= 0 {
		cfg.MaxPerDomain = DefaultMaxPerDomain
	}
	if cfg.Retain <= 0 {
		cfg.Retain = DefaultRetain
	}
	return &Service{cfg: cfg, poke: make(chan struct{}, 1), stop: make(chan struct{}),
		subs: map[string]map[*subscriber]struct{}{}, heads: map[string]int64{}}, nil
}

// Start runs the poller (wake-ups, pruning) and the reachability sweeper.
func (s *Service) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return
	}
	s.started = true
	s.wg.Add(1)
	go s.pollLoop()
	s.sweeper = every.Start(s.cfg.Sweep, func(ctx context.Context) error {
		_, err := s.SweepReachability(ctx)
		return err
	}, func(err error) { s.cfg.Logger.Warn("operator events: reachability sweep", "error", err) })
}

// Close ends every stream and stops the loops; it is idempotent.
func (s *Service) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.stop)
	for _, set := range s.subs {
		for sub := range set {
			close(sub.done)
		}
	}
	s.subs = map[string]map[*subscriber]struct{}{}
	sweeper := s.sweeper
	s.mu.Unlock()
	sweeper.Stop()
	s.wg.Wait()
}

// nudge asks the poller to look now (an event was recorded here).
func (s *Service) nudge() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// errTooMany is subscribe's answer over MaxPerDomain.
var errTooMany = errors.New("opevents: too many streams")

func (s *Service) subscribe(domainID string) (*subscriber, error) {
	sub := &subscriber{domainID: domainID, wake: make(chan struct{}, 1), done: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		close(sub.done)
		return sub, nil
	}
	set := s.subs[domainID]
	if len(set) >= s.cfg.MaxPerDomain {
		return nil, errTooMany
	}
	if set == nil {
		set = map[*subscriber]struct{}{}
		s.subs[domainID] = set
	}
	set[sub] = struct{}{}
	return sub, nil
}

func (s *Service) unsubscribe(sub *subscriber) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if set := s.subs[sub.domainID]; set != nil {
		delete(set, sub)
		if len(set) == 0 {
			delete(s.subs, sub.domainID)
			delete(s.heads, sub.domainID)
		}
	}
}

// Count is the number of open streams on this replica.
func (s *Service) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, set := range s.subs {
		n += len(set)
	}
	return n
}

func (s *Service) pollLoop() {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	t := time.NewTimer(s.cfg.Poll)
	defer t.Stop()
	follow, pending := 0, false
	lastPrune := time.Time{}
	for {
		select {
		case <-s.stop:
			return
		case <-s.poke:
			follow = 0
			pending = true
		case <-t.C:
		}
		s.checkHeads(ctx)
		if now := time.Now(); now.Sub(lastPrune) >= pruneEvery {
			lastPrune = now
			if err := s.Prune(ctx); err != nil && ctx.Err() == nil {
				s.cfg.Logger.Warn("operator events: prune", "error", err)
			}
		}
		d := s.cfg.Poll
		if pending {
			d = followUps[follow]
			if follow++; follow == len(followUps) {
				pending = false
			}
		}
		t.Reset(d)
	}
}

// checkHeads wakes the streams of every Domain whose head moved.
func (s *Service) checkHeads(ctx context.Context) {
	s.mu.Lock()
	n := len(s.subs)
	s.mu.Unlock()
	if n == 0 {
		return
	}
	rows, err := s.cfg.DB.QueryContext(ctx, `SELECT domain_id, last_seq FROM operator_event_heads`)
	if err != nil {
		if ctx.Err() == nil {
			s.cfg.Logger.Warn("operator events: read heads", "error", err)
		}
		return
	}
	defer rows.Close()
	heads := map[string]int64{}
	for rows.Next() {
		var (
			id  string
			seq int64
		)
		if err := rows.Scan(&id, &seq); err != nil {
			return
		}
		heads[id] = seq
	}
	if rows.Err() != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, set := range s.subs {
		if seq, ok := heads[id]; ok && seq != s.heads[id] {
			s.heads[id] = seq
			for sub := range set {
				select {
				case sub.wake <- struct{}{}:
				default:
				}
			}
		}
	}
}

// Prune trims every Domain's log to the newest Retain events and to
// RetainFor, and forgets the reachability of removed nodes.
func (s *Service) Prune(ctx context.Context) error {
	cut := store.Micros(s.cfg.Now().Add(-s.cfg.RetainFor))
	if _, err := s.cfg.DB.ExecContext(ctx, `DELETE FROM operator_events WHERE created_at < $1`, cut); err != nil {
		return err
	}
	if _, err := s.cfg.DB.ExecContext(ctx, `DELETE FROM operator_events WHERE seq <= (SELECT h.last_seq - $1
		FROM operator_event_heads h WHERE h.domain_id = operator_events.domain_id)`, s.cfg.Retain); err != nil {
		return err
	}
	_, err := s.cfg.DB.ExecContext(ctx, `DELETE FROM operator_reachability WHERE NOT EXISTS
		(SELECT 1 FROM nodes n WHERE n.id = operator_reachability.node_id AND n.revoked_at IS NULL)`)
	return err
}

// head returns a Domain's last sequence number (0: none yet).
func (s *Service) head(ctx context.Context, domainID string) (int64, error) {
	var seq int64
	err := s.cfg.DB.QueryRowContext(ctx, `SELECT last_seq FROM operator_event_heads WHERE domain_id = $1`, domainID).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return seq, err
}
