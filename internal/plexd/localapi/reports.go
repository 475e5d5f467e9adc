package localapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/clock"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// ErrVersionMismatch: If-Match named another version (409).
var ErrVersionMismatch = errors.New("report version does not match If-Match")

// Push timing (§12.8: 5 s debounce, retried until 2xx; ours caps the
// backoff instead of looping every 5 s forever).
const (
	DefaultDebounce   = 5 * time.Second
	DefaultMaxBackoff = 5 * time.Minute
)

// ReportSink receives report batches. *cpclient.Client implements it.
type ReportSink interface {
	Report(ctx context.Context, r nodeproto.ReportSync) error
}

// Reports holds node-reported entries and pushes changes to the control
// plane (endpoint 8).
type Reports struct {
	sink       ReportSink
	clk        clock.Clock
	log        *slog.Logger
	debounce   time.Duration
	maxBackoff time.Duration
	kick       chan struct{}

	// mu guards entries, versions and the pending sets.
	mu       sync.Mutex
	entries  map[string]nodeproto.ReportEntry
	versions map[string]int64 // last version per key, kept across deletes
	dirty    map[string]bool  // keys put since the last successful push
	deleted  map[string]bool  // keys deleted since the last successful push
	failures int              // consecutive failed pushes, surfaced in logs
}

// NewReports returns an empty store pushing to sink. debounce 0 means
// DefaultDebounce.
func NewReports(sink ReportSink, clk clock.Clock, log *slog.Logger, debounce time.Duration) *Reports {
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reports{
		sink: sink, clk: clock.OrReal(clk), log: log, debounce: debounce, maxBackoff: DefaultMaxBackoff,
		kick: make(chan struct{}, 1), entries: map[string]nodeproto.ReportEntry{}, versions: map[string]int64{},
		dirty: map[string]bool{}, deleted: map[string]bool{},
	}
}

// Keys lists {key, version} sorted by key.
func (r *Reports) Keys() []versionKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]versionKey, 0, len(r.entries))
	for _, k := range slices.Sorted(maps.Keys(r.entries)) {
		out = append(out, versionKey{Key: k, Version: r.entries[k].Version})
	}
	return out
}

// Get returns one entry.
func (r *Reports) Get(key string) (nodeproto.ReportEntry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[key]
	return e, ok
}

// Put stores a new version of key. ifMatch ≥ 0 must equal the current
// version (0: the key must not exist).
func (r *Reports) Put(key, contentType string, payload json.RawMessage, ifMatch int64) (nodeproto.ReportEntry, error) {
	if !nodeproto.ValidReportKey(key) || strings.ContainsAny(key, "\x00") {
		return nodeproto.ReportEntry{}, fmt.Errorf("invalid report key")
	}
	if !json.Valid(payload) {
		return nodeproto.ReportEntry{}, fmt.Errorf("payload is not JSON")
	}
	r.mu.Lock()
	cur := r.entries[key]
	if ifMatch >= 0 && cur.Version != ifMatch {
		r.mu.Unlock()
		return nodeproto.ReportEntry{}, fmt.Errorf("%w: current version %d", ErrVersionMismatch, cur.Version)
	}
	r.versions[key]++
	e := nodeproto.ReportEntry{Key: key, ContentType: contentType, Payload: slices.Clone(payload),
		Version: r.versions[key], UpdatedAt: r.clk.Now().UTC()}
	r.entries[key] = e
	r.dirty[key] = true
	delete(r.deleted, key)
	r.mu.Unlock()
	r.signal()
	return e, nil
}

// Delete removes key (idempotent).
func (r *Reports) Delete(key string) {
	r.mu.Lock()
	_, had := r.entries[key]
	delete(r.entries, key)
	delete(r.dirty, key)
	if had {
		r.deleted[key] = true
	}
	r.mu.Unlock()
	if had {
		r.signal()
	}
}

func (r *Reports) signal() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run pushes changes until ctx ends: after each change it waits the
// debounce, then sends one batch, retrying with capped backoff.
func (r *Reports) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		}
		wait := r.debounce
		for {
			select {
			case <-ctx.Done():
				return
			case <-r.clk.After(wait):
			}
			if err := r.push(ctx); err == nil {
				break
			} else if ctx.Err() != nil {
				return
			} else {
				wait = min(wait*2, r.maxBackoff)
				r.log.LogAttrs(ctx, slog.LevelWarn, "report push failed", slog.String(logkey.Error, err.Error()),
					slog.Int(logkey.ConsecutiveFailures, r.failures), slog.Duration(logkey.RetryIn, wait))
			}
		}
	}
}

// push sends the pending batch once.
func (r *Reports) push(ctx context.Context) error {
	r.mu.Lock()
	batch := nodeproto.ReportSync{Entries: []nodeproto.ReportEntry{}, Deleted: []string{}}
	for _, k := range slices.Sorted(maps.Keys(r.dirty)) {
		batch.Entries = append(batch.Entries, r.entries[k])
	}
	batch.Deleted = slices.Sorted(maps.Keys(r.deleted))
	r.mu.Unlock()
	if len(batch.Entries) == 0 && len(batch.Deleted) == 0 {
		return nil
	}
	if err := r.sink.Report(ctx, batch); err != nil {
		r.mu.Lock()
		r.failures++
		r.mu.Unlock()
		return err
	}
	r.mu.Lock()
	r.failures = 0
	for _, e := range batch.Entries {
		if cur, ok := r.entries[e.Key]; !ok || cur.Version == e.Version {
			delete(r.dirty, e.Key)
		}
	}
	for _, k := range batch.Deleted {
		if _, back := r.entries[k]; !back {
			delete(r.deleted, k)
		}
	}
	r.mu.Unlock()
	return nil
}
