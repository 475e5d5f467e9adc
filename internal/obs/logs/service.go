// Package logs is the node logs and host audit store (issue 15): the log
// lines and audit events nodes send (POST /v1/nodes/{id}/logs and …/audit,
// §12.7 JSON arrays or the contract's NDJSON LogLine / AuditEvent lines)
// are validated per record, stamped with the node's Project and Domain
// server-side, deduplicated per batch and kept in SQLite/PostgreSQL; the
// Domain's readers query them with a documented LogQL subset (answering in
// the Loki HTTP API format), follow them live over SSE, and a sweeper
// deletes what is older than the retention in bounded batches.
package logs

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/events"
	"github.com/plexsphere/plexsphere/internal/every"
	"github.com/plexsphere/plexsphere/internal/obs/push"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/ratelimit"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Defaults.
const (
	DefaultRetention = 7 * 24 * time.Hour
	// DefaultMaxBatchBytes is the largest inflated batch (§12.7 O1 asks
	// for at least 10 MiB).
	DefaultMaxBatchBytes = 10 << 20
	// DefaultMaxBatchRecords bounds the records of one batch.
	DefaultMaxBatchRecords = 10000
	// DefaultBatchesPerSecond and DefaultBatchBurst bound each node's
	// batches (the existing agent sends one per 15–30 s per kind).
	DefaultBatchesPerSecond = 2
	DefaultBatchBurst       = 20
	// DefaultDeleteBatch is how many rows one retention delete removes.
	DefaultDeleteBatch = 5000
	// DefaultSweep is how often retention runs.
	DefaultSweep = 10 * time.Minute
	// DefaultMaxTails bounds the open live tails of one Domain.
	DefaultMaxTails = 32
	// dedupeWindow is how long a batch key is remembered.
	dedupeWindow = 24 * time.Hour
)

// Problem codes.
const (
	CodeBatchTooLarge   = "batch_too_large"
	CodeRateLimited     = "ingest_rate_limited"
	CodeInvalidLogQL    = "invalid_logql"
	CodeInvalidWindow   = "invalid_query_window"
	CodeInvalidDomainID = "invalid_domain_id"
	CodeInvalidNodeID   = "invalid_node_id"
	CodeTooManyTails    = "too_many_tails"
	CodeUnavailable     = "logs_unavailable"
	CodeNodeNotFound    = "node_not_found"
)

// Authorizer is the request-time authorization (guard.Guard).
type Authorizer interface {
	Check(ctx context.Context, permission, object string) error
	Visible(ctx context.Context, permission string, objects []string) ([]bool, error)
}

// Config configures a Service.
type Config struct {
	DB    *store.DB
	Audit *audit.Log
	Authz Authorizer
	Pages *page.Codec
	// Logger nil discards.
	Logger *slog.Logger
	Now    func() time.Time
	// Retention is how long lines and audit events are kept (default 7 d).
	Retention time.Duration
	// MaxBatchBytes, MaxBatchRecords: 413 above; BatchesPerSecond,
	// BatchBurst: 429 above (per node); ≤ 0 takes the defaults.
	MaxBatchBytes, MaxBatchRecords int
	BatchesPerSecond               float64
	BatchBurst                     int
	// DeleteBatch is the retention delete size; Sweep its period.
	DeleteBatch int
	Sweep       time.Duration
	// MaxTails bounds a Domain's open live tails on this replica;
	// TailPoll is how often a tail reads new lines.
	MaxTails int
	TailPoll time.Duration
	// Loki, when its URL is set, also pushes node log lines to a Loki.
	Loki Loki
	// DomainRetention, when set, answers the Domains whose logs retention
	// differs from Retention (bounded by it: a longer one counts as
	// Retention).
	DomainRetention func(ctx context.Context) (map[string]time.Duration, error)
}

// Service ingests, stores and serves node logs and audit events.
type Service struct {
	cfg     Config
	limiter *ratelimit.Limiter
	stop    chan struct{}
	mu      sync.Mutex
	tails   map[string]int
	sweeper *every.Loop
	closed  bool
	// loki is the Loki push queue (nil when off).
	loki *push.Queue[lokiEntry]
	// sweepStatements counts retention deletes (tests).
	sweepStatements atomic.Int64
}

// New validates cfg and returns a Service; Start runs the retention sweeper.
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Authz == nil {
		return nil, errors.New("logs: Config.DB and Authz are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.MaxBatchBytes <= 0 {
		cfg.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if cfg.MaxBatchRecords <= 0 {
		cfg.MaxBatchRecords = DefaultMaxBatchRecords
	}
	if cfg.BatchesPerSecond <= 0 {
		cfg.BatchesPerSecond = DefaultBatchesPerSecond
	}
	if cfg.BatchBurst <= 0 {
		cfg.BatchBurst = DefaultBatchBurst
	}
	if cfg.DeleteBatch <= 0 {
		cfg.DeleteBatch = DefaultDeleteBatch
	}
	if cfg.Sweep <= 0 {
		cfg.Sweep = DefaultSweep
	}
	if cfg.MaxTails <= 0 {
		cfg.MaxTails = DefaultMaxTails
	}
	if cfg.TailPoll <= 0 {
		cfg.TailPoll = 500 * time.Millisecond
	}
	s := &Service{cfg: cfg, limiter: ratelimit.New(cfg.BatchesPerSecond, cfg.BatchBurst, cfg.Now),
		stop: make(chan struct{}), tails: map[string]int{}}
	if err := s.startLoki(); err != nil {
		return nil, err
	}
	return s, nil
}

// Start runs the retention sweeper.
func (s *Service) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sweeper != nil || s.closed {
		return
	}
	s.sweeper = every.Start(s.cfg.Sweep, func(ctx context.Context) error {
		_, err := s.Sweep(ctx)
		return err
	}, func(err error) { s.cfg.Logger.Warn("node logs: retention sweep", "error", err) })
}

// Close stops the sweeper and ends the tails; it is idempotent.
func (s *Service) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.stop)
	l := s.sweeper
	s.mu.Unlock()
	l.Stop()
	if s.loki != nil {
		s.loki.Close(5 * time.Second)
	}
}

// Sweep deletes the lines, audit events and batch keys older than the
// retention (the Domain's own when it has a shorter one), Domain by Domain in batches of DeleteBatch rows (each its own
// statement, so no delete holds a long lock). It returns the rows deleted.
func (s *Service) Sweep(ctx context.Context) (int64, error) {
	now := s.cfg.Now()
	domains, err := store.Strings(ctx, s.cfg.DB, `SELECT domain_id FROM node_log_heads GROUP BY domain_id ORDER BY domain_id`)
	if err != nil {
		return 0, err
	}
	var per map[string]time.Duration
	if s.cfg.DomainRetention != nil {
		if per, err = s.cfg.DomainRetention(ctx); err != nil {
			return 0, err
		}
	}
	var total int64
	for _, d := range domains {
		ret := s.cfg.Retention
		if r, ok := per[d]; ok && r > 0 && r < ret {
			ret = r
		}
		cut := store.Micros(now.Add(-ret))
		for _, table := range []string{"node_log_lines", "node_audit_events"} {
			for {
				res, err := s.cfg.DB.ExecContext(ctx, `DELETE FROM `+table+` WHERE domain_id = $1 AND seq IN
					(SELECT seq FROM `+table+` WHERE domain_id = $1 AND received_at < $2 LIMIT `+
					strconv.Itoa(s.cfg.DeleteBatch)+`)`, d, cut)
				if err != nil {
					return total, err
				}
				n, _ := res.RowsAffected()
				total += n
				s.sweepStatements.Add(1)
				if n < int64(s.cfg.DeleteBatch) {
					break
				}
				if ctx.Err() != nil {
					return total, ctx.Err()
				}
			}
		}
	}
	keyCut := store.Micros(s.cfg.Now().Add(-min(dedupeWindow, s.cfg.Retention)))
	_, err = s.cfg.DB.ExecContext(ctx, `DELETE FROM node_log_batches WHERE received_at < $1`, keyCut)
	return total, err
}

// Ingest stores a logs or audit batch (events.Ingester); a metrics batch
// is counted and not stored (the metrics backend takes those).
func (s *Service) Ingest(ctx context.Context, b events.IngestBatch) (int, error) {
	if b.Kind != "logs" && b.Kind != "audit" {
		return countRecords(b.ContentType, b.Body), nil
	}
	if len(b.Body) > s.cfg.MaxBatchBytes {
		return 0, problem.New(http.StatusRequestEntityTooLarge, CodeBatchTooLarge,
			"The batch is larger than "+strconv.Itoa(s.cfg.MaxBatchBytes)+" bytes inflated; split it.")
	}
	if ok, wait := s.limiter.Allow(b.NodeID); !ok {
		secs := int(wait.Round(time.Second) / time.Second)
		return 0, problem.New(http.StatusTooManyRequests, CodeRateLimited, "Too many batches from this node; retry later.").
			WithHeader("Retry-After", strconv.Itoa(max(secs, 1)))
	}
	return s.store(ctx, b)
}
