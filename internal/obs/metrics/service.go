// Package metrics is the node metrics store (issue 15): the metric points
// nodes send (POST /v1/nodes/{id}/metrics, §12.7 MetricPoint arrays or the
// contract's MetricSample records) become series named
// plexd_<group>_<field> in an embedded Prometheus TSDB, labelled with the
// node, hostname, Project and Domain from the node's row (never from the
// body); the Domain's readers query them with PromQL, every selector
// confined to the Domain and the nodes the caller may read, answering in
// the Prometheus HTTP API format.
package metrics

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/plexsphere/plexsphere/internal/every"
	"github.com/plexsphere/plexsphere/internal/obs/push"
	"github.com/plexsphere/plexsphere/internal/ratelimit"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Defaults.
const (
	DefaultRetention = 15 * 24 * time.Hour
	// DefaultMaxBatchRecords bounds the records of one batch (413 above;
	// the existing agent sends at most 100, 200 with a re-queued batch).
	DefaultMaxBatchRecords = 10000
	// DefaultBatchesPerSecond and DefaultBatchBurst bound each node's
	// batches (the existing agent sends one a minute).
	DefaultBatchesPerSecond = 1
	DefaultBatchBurst       = 30
	// DefaultOutOfOrder is how far behind the newest sample a resent
	// batch's samples are still stored.
	DefaultOutOfOrder = 6 * time.Hour
	// DefaultQueryTimeout and DefaultMaxSamples bound one query.
	DefaultQueryTimeout = 30 * time.Second
	DefaultMaxSamples   = 50_000_000
	// maxFields bounds the fields of one record; dedupeKeys the batch keys
	// and content hashes remembered per node.
	maxFields  = 64
	dedupeKeys = 64
	// nodeCacheTTL is how long a node's labels are cached.
	nodeCacheTTL = time.Minute
	// lookback is the engine's lookback delta (also the federation window).
	lookback = 5 * time.Minute
	// DefaultMaxFederateSeries bounds one federation answer.
	DefaultMaxFederateSeries = 50_000
	// DefaultSweep is how often per-Domain retention runs.
	DefaultSweep = 10 * time.Minute
)

// Problem codes.
const (
	CodeBatchTooLarge   = "batch_too_large"
	CodeRateLimited     = "ingest_rate_limited"
	CodeInvalidPromQL   = "invalid_promql"
	CodeInvalidWindow   = "invalid_query_window"
	CodeInvalidDomainID = "invalid_domain_id"
	CodeInvalidNodeID   = "invalid_node_id"
	CodeNodeNotFound    = "node_not_found"
	CodeUnavailable     = "metrics_unavailable"
)

// Authorizer is the request-time authorization (guard.Guard).
type Authorizer interface {
	Check(ctx context.Context, permission, object string) error
	Visible(ctx context.Context, permission string, objects []string) ([]bool, error)
}

// Config configures a Service.
type Config struct {
	DB    *store.DB
	Authz Authorizer
	// Dir is the TSDB directory (<data-dir>/tsdb).
	Dir string
	// Retention is how long samples are kept (default 15 d).
	Retention time.Duration
	// Logger nil discards.
	Logger *slog.Logger
	Now    func() time.Time
	// MaxBatchRecords: 413 above; BatchesPerSecond, BatchBurst: each
	// node's batch rate (429 with Retry-After above).
	MaxBatchRecords  int
	BatchesPerSecond float64
	BatchBurst       int
	// OutOfOrder is the TSDB's out-of-order window.
	OutOfOrder time.Duration
	// QueryTimeout, MaxSamples bound one query.
	QueryTimeout time.Duration
	MaxSamples   int
	// Remote is the scale-out switch (remote-write, query proxy).
	Remote Remote
	// MaxFederateSeries bounds one federation answer (default
	// DefaultMaxFederateSeries).
	MaxFederateSeries int
	// DomainRetention, when set, answers the Domains whose metrics retention is
	// shorter than Retention (RetentionSweep deletes their older series).
	DomainRetention func(ctx context.Context) (map[string]time.Duration, error)
	// Sweep is how often RetentionSweep runs (default DefaultSweep).
	Sweep time.Duration
}

// Stats are the ingest counters.
type Stats struct {
	// Batches stored; Duplicates: batches recognised as resends.
	Batches, Duplicates int64
	// Samples stored; BadRecords refused by validation; Dropped samples
	// the TSDB refused (too old, conflicting duplicate).
	Samples, BadRecords, Dropped int64
	// Limited batches answered 429 or 413.
	Limited int64
}

// Service is the metrics store.
type Service struct {
	cfg     Config
	db      *tsdb.DB
	engine  *promql.Engine
	parser  parser.Parser
	limiter *ratelimit.Limiter
	// private is the TSDB directory of a replica that found Dir locked.
	private string
	// remote is the remote-write queue (nil when off).
	remote  *push.Queue[sample]
	sweeper *every.Loop

	mu    sync.Mutex
	nodes map[string]*nodeState

	batches, duplicates, samples, bad, dropped, limited atomic.Int64
}

// New opens the TSDB under cfg.Dir.
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Authz == nil {
		return nil, errors.New("metrics: Config.DB and Authz are required")
	}
	return open(cfg)
}

// open opens the TSDB and the engine (the store part of New).
func open(cfg Config) (*Service, error) {
	if cfg.Dir == "" {
		return nil, errors.New("metrics: Config.Dir is required")
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
	if cfg.MaxBatchRecords <= 0 {
		cfg.MaxBatchRecords = DefaultMaxBatchRecords
	}
	if cfg.BatchesPerSecond <= 0 {
		cfg.BatchesPerSecond = DefaultBatchesPerSecond
	}
	if cfg.BatchBurst <= 0 {
		cfg.BatchBurst = DefaultBatchBurst
	}
	if cfg.OutOfOrder <= 0 {
		cfg.OutOfOrder = DefaultOutOfOrder
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = DefaultQueryTimeout
	}
	if cfg.MaxSamples <= 0 {
		cfg.MaxSamples = DefaultMaxSamples
	}
	if cfg.MaxFederateSeries <= 0 {
		cfg.MaxFederateSeries = DefaultMaxFederateSeries
	}
	if cfg.Sweep <= 0 {
		cfg.Sweep = DefaultSweep
	}
	dir := filepath.Clean(cfg.Dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	opts := tsdb.DefaultOptions()
	opts.RetentionDuration = cfg.Retention.Milliseconds()
	opts.OutOfOrderTimeWindow = cfg.OutOfOrder.Milliseconds()
	db, err := tsdb.Open(dir, cfg.Logger, nil, opts, nil)
	private := ""
	if err != nil && strings.Contains(err.Error(), "lock DB directory") {
		// Another control plane on this data directory (a replica started
		// on the same disk, as tests do) holds the TSDB: this one keeps a
		// private store it removes on Close. Replicas meant to share
		// metrics have data directories of their own.
		if private, err = os.MkdirTemp(filepath.Dir(dir), filepath.Base(dir)+"-replica-"); err != nil {
			return nil, err
		}
		cfg.Logger.Warn("node metrics: the TSDB directory is in use by another process; using a private one",
			"dir", dir, "private", private)
		db, err = tsdb.Open(private, cfg.Logger, nil, opts, nil)
	}
	if err != nil {
		return nil, err
	}
	p := parser.NewParser(parser.Options{})
	s := &Service{cfg: cfg, db: db, parser: p, nodes: map[string]*nodeState{}, private: private,
		limiter: ratelimit.New(cfg.BatchesPerSecond, cfg.BatchBurst, cfg.Now)}
	s.engine = promql.NewEngine(promql.EngineOpts{
		Logger: cfg.Logger, MaxSamples: cfg.MaxSamples, Timeout: cfg.QueryTimeout,
		LookbackDelta: lookback, EnableAtModifier: true, EnableNegativeOffset: true, Parser: p,
	})
	if err := s.startRemote(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close stops the retention sweeper, delivers what the remote-write queue
// holds (for up to 5 s), flushes and closes the TSDB.
func (s *Service) Close() error {
	s.sweeper.Stop()
	if s.remote != nil {
		s.remote.Close(5 * time.Second)
	}
	err := s.db.Close()
	if s.private != "" {
		if rerr := os.RemoveAll(s.private); err == nil {
			err = rerr
		}
	}
	return err
}

// Stats answers the ingest counters.
func (s *Service) Stats() Stats {
	return Stats{Batches: s.batches.Load(), Duplicates: s.duplicates.Load(), Samples: s.samples.Load(),
		BadRecords: s.bad.Load(), Dropped: s.dropped.Load(), Limited: s.limited.Load()}
}
