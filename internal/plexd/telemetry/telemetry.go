package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plexsphere/plexsphere/internal/plexd/clock"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// Interval defaults (§12.7).
const (
	DefaultMetricsInterval = 60 * time.Second
	DefaultLogsInterval    = 30 * time.Second
	DefaultAuditInterval   = 15 * time.Second
)

// bufferBatches is how many batches of logs or audit records wait in
// memory between flushes before the oldest records are dropped.
const bufferBatches = 10

// Options configures Telemetry.
type Options struct {
	// Dir holds the on-disk queue. Required.
	Dir string
	// Client posts the batches. Required.
	Client Poster
	// Collectors produce metric points each MetricsInterval.
	Collectors []MetricCollector
	// Logs and Audit stream records (nil: none); KubeAudit streams a
	// Kubernetes API server's audit records into the same audit batches.
	Logs      LogSource
	Audit     AuditSource
	KubeAudit AuditSource
	// MetricsInterval, LogsInterval and AuditInterval: how often each
	// kind is batched into the queue (defaults 60 s, 30 s, 15 s).
	MetricsInterval, LogsInterval, AuditInterval time.Duration
	// MaxQueueBytes and MaxQueueBatches bound the queue (defaults
	// DefaultQueueBytes, DefaultQueueBatches).
	MaxQueueBytes   int64
	MaxQueueBatches int
	// MinBackoff and MaxBackoff bound the retry of 5xx answers and
	// network errors (defaults DefaultMinBackoff, DefaultMaxBackoff).
	MinBackoff, MaxBackoff time.Duration
	// Rand returns a float in [0,1) for jitter (math/rand/v2 when nil).
	Rand   func() float64
	Clock  clock.Clock
	Logger *slog.Logger
}

// Stats are the pipeline's counters since start and the queue's gauges.
type Stats struct {
	Queue QueueStats `json:"queue"`
	// SentBatches and SentRecords were accepted by the control plane.
	SentBatches int64 `json:"sent_batches"`
	SentRecords int64 `json:"sent_records"`
	// RejectedBatches and RejectedRecords were refused with a 4xx other
	// than 408, 413 and 429 (or a single record was too large) and dropped.
	RejectedBatches int64 `json:"rejected_batches"`
	RejectedRecords int64 `json:"rejected_records"`
	// BufferDropped counts log and audit records dropped in memory
	// because they arrived faster than the queue took them.
	BufferDropped int64 `json:"buffer_dropped"`
	// Limited (429), Splits (413) and Failures (5xx, network) count answers.
	Limited  int64 `json:"rate_limited"`
	Splits   int64 `json:"splits"`
	Failures int64 `json:"failures"`
}

// Dropped is every record lost on the node: evicted from the full queue,
// dropped in memory, or refused by the control plane.
func (s Stats) Dropped() int64 {
	return s.Queue.DroppedRecords + s.BufferDropped + s.RejectedRecords
}

// Telemetry runs the collectors, the queue and the senders.
type Telemetry struct {
	opts  Options
	q     *Queue
	clk   clock.Clock
	log   *slog.Logger
	send  map[string]*sender
	logs  *buffer[LogEntry]
	audit *buffer[AuditEntry]

	sentBatches, sentRecords, rejectedBatches, rejectedRecords atomic.Int64
	limited, splits, failures                                  atomic.Int64
}

// New validates opts and opens the queue.
func New(opts Options) (*Telemetry, error) {
	switch {
	case opts.Dir == "":
		return nil, errors.New("telemetry: Options.Dir is required")
	case opts.Client == nil:
		return nil, errors.New("telemetry: Options.Client is required")
	}
	if opts.MetricsInterval <= 0 {
		opts.MetricsInterval = DefaultMetricsInterval
	}
	if opts.LogsInterval <= 0 {
		opts.LogsInterval = DefaultLogsInterval
	}
	if opts.AuditInterval <= 0 {
		opts.AuditInterval = DefaultAuditInterval
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(DefaultMaxBackoff, opts.MinBackoff)
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	q, err := OpenQueue(QueueOptions{Dir: opts.Dir, MaxBytes: opts.MaxQueueBytes, MaxBatches: opts.MaxQueueBatches})
	if err != nil {
		return nil, err
	}
	t := &Telemetry{opts: opts, q: q, clk: clock.OrReal(opts.Clock), log: opts.Logger, send: map[string]*sender{},
		logs: newBuffer[LogEntry](MaxLogsPerBatch), audit: newBuffer[AuditEntry](MaxAuditPerBatch)}
	for _, k := range Kinds {
		t.send[k] = &sender{kind: k, t: t, wake: make(chan struct{}, 1)}
	}
	return t, nil
}

// Queue is the on-disk queue (for tests and diagnostics).
func (t *Telemetry) Queue() *Queue { return t.q }

// Stats answers the counters.
func (t *Telemetry) Stats() Stats {
	return Stats{
		Queue: t.q.Stats(), SentBatches: t.sentBatches.Load(), SentRecords: t.sentRecords.Load(),
		RejectedBatches: t.rejectedBatches.Load(), RejectedRecords: t.rejectedRecords.Load(),
		BufferDropped: t.logs.droppedCount() + t.audit.droppedCount(),
		Limited:       t.limited.Load(), Splits: t.splits.Load(), Failures: t.failures.Load(),
	}
}

// Run collects and sends until ctx ends; records still buffered in memory
// then go to the queue, to be sent after the next start.
func (t *Telemetry) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, s := range t.send {
		wg.Go(func() { s.run(ctx) })
	}
	wg.Go(func() { t.metricsLoop(ctx) })
	var sources sync.WaitGroup
	if t.opts.Logs != nil {
		sources.Go(func() {
			t.runSource(ctx, "journald", func(ctx context.Context) error { return t.opts.Logs.Run(ctx, t.logs.add) })
		})
		wg.Go(func() { flushLoop(ctx, t, KindLogs, t.logs, t.opts.LogsInterval) })
	}
	if t.opts.Audit != nil {
		sources.Go(func() {
			t.runSource(ctx, "auditd", func(ctx context.Context) error { return t.opts.Audit.Run(ctx, t.audit.add) })
		})
	}
	if t.opts.KubeAudit != nil {
		sources.Go(func() {
			t.runSource(ctx, "kube-audit", func(ctx context.Context) error { return t.opts.KubeAudit.Run(ctx, t.audit.add) })
		})
	}
	if t.opts.Audit != nil || t.opts.KubeAudit != nil {
		wg.Go(func() { flushLoop(ctx, t, KindAudit, t.audit, t.opts.AuditInterval) })
	}
	sources.Wait()
	wg.Wait()
	flush(context.Background(), t, KindLogs, t.logs)
	flush(context.Background(), t, KindAudit, t.audit)
	return nil
}

// runSource runs one streaming source; a source the host lacks is
// disabled with one info line.
func (t *Telemetry) runSource(ctx context.Context, name string, run func(context.Context) error) {
	err := run(ctx)
	switch {
	case errors.Is(err, ErrUnavailable):
		t.log.LogAttrs(ctx, slog.LevelInfo, "telemetry collector disabled", slog.String(logkey.Collector, name), slog.String(logkey.Reason, err.Error()))
	case err != nil && ctx.Err() == nil:
		t.log.LogAttrs(ctx, slog.LevelWarn, "telemetry collector stopped", slog.String(logkey.Collector, name), slog.String(logkey.Error, err.Error()))
	}
}

// metricsLoop collects every MetricsInterval, the first time at once.
func (t *Telemetry) metricsLoop(ctx context.Context) {
	for {
		t.CollectMetrics(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.clk.After(t.opts.MetricsInterval):
		}
	}
}

// CollectMetrics runs every collector once and queues the points, plus
// the pipeline's own "agent" point (telemetry_dropped and friends).
func (t *Telemetry) CollectMetrics(ctx context.Context) {
	now := t.clk.Now().UTC()
	var points []MetricPoint
	for _, c := range t.opts.Collectors {
		ps, err := c.Collect(ctx, now)
		if err != nil {
			t.log.LogAttrs(ctx, slog.LevelDebug, "telemetry collector incomplete", slog.String(logkey.Collector, c.Name()), slog.String(logkey.Error, err.Error()))
		}
		points = append(points, ps...)
	}
	st := t.Stats()
	points = append(points, MetricPoint{Timestamp: now, Group: GroupAgent, Data: map[string]any{
		"telemetry_dropped": st.Dropped(), "telemetry_rejected": st.RejectedRecords,
		"telemetry_queue_batches": st.Queue.Batches, "telemetry_queue_bytes": st.Queue.Bytes,
		"telemetry_sent_batches": st.SentBatches,
	}})
	push(ctx, t, KindMetrics, points, MaxMetricsPerBatch)
}

// push queues records in batches of at most per and wakes the sender.
func push[T any](ctx context.Context, t *Telemetry, kind string, records []T, per int) {
	for chunk := range slices.Chunk(records, per) {
		body, err := json.Marshal(chunk)
		if err == nil {
			err = t.q.Push(kind, len(chunk), body)
		}
		if err != nil {
			t.log.LogAttrs(ctx, slog.LevelWarn, "queueing telemetry failed", slog.String(logkey.Kind, kind), slog.String(logkey.Error, err.Error()))
		}
	}
	if len(records) > 0 {
		select {
		case t.send[kind].wake <- struct{}{}:
		default:
		}
	}
}

// flushLoop queues a buffer's records every interval, or at once when a
// batch is full.
func flushLoop[T any](ctx context.Context, t *Telemetry, kind string, b *buffer[T], every time.Duration) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.full:
		case <-t.clk.After(every):
		}
		flush(ctx, t, kind, b)
	}
}

func flush[T any](ctx context.Context, t *Telemetry, kind string, b *buffer[T]) {
	push(ctx, t, kind, b.take(), b.batch)
}

// buffer holds streamed records between flushes, dropping the oldest
// beyond bufferBatches batches.
type buffer[T any] struct {
	batch int
	full  chan struct{} // a batch is ready; buffered 1

	// mu guards items and dropped.
	mu      sync.Mutex
	items   []T
	dropped int64
}

func newBuffer[T any](batch int) *buffer[T] {
	return &buffer[T]{batch: batch, full: make(chan struct{}, 1)}
}

func (b *buffer[T]) add(x T) {
	b.mu.Lock()
	if len(b.items) >= b.batch*bufferBatches {
		var zero T
		b.items[0] = zero
		b.items = b.items[1:] // append reallocates now and then: O(1) amortised
		b.dropped++
	}
	b.items = append(b.items, x)
	ready := len(b.items) >= b.batch
	b.mu.Unlock()
	if ready {
		select {
		case b.full <- struct{}{}:
		default:
		}
	}
}

func (b *buffer[T]) take() []T {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.items
	b.items = nil
	return out
}

func (b *buffer[T]) droppedCount() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped
}
