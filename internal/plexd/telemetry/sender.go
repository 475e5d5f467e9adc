package telemetry

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
	"github.com/plexsphere/plexsphere/internal/plexd/stream"
)

// Poster posts one batch of kind under its Idempotency-Key;
// *cpclient.Client implements it. A refusal is a *cpclient.StatusError.
type Poster interface {
	PostTelemetry(ctx context.Context, kind, key string, body []byte) error
}

// Sender timing defaults.
const (
	// DefaultRetryAfter is the wait after a 429 without Retry-After.
	DefaultRetryAfter = 5 * time.Second
	// DefaultMinBackoff and DefaultMaxBackoff bound the backoff after
	// 5xx answers and network errors (doubling, ±25 % jitter).
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 5 * time.Minute
)

// sender posts one kind's batches, oldest first, one at a time.
type sender struct {
	kind string
	t    *Telemetry
	wake chan struct{} // a batch was queued; buffered 1
	// failures counts consecutive 5xx and network failures.
	failures int
}

// run sends until ctx ends, waiting for batches when the queue is empty.
func (s *sender) run(ctx context.Context) {
	for ctx.Err() == nil {
		b, ok := s.t.q.Oldest(s.kind)
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
			}
			continue
		}
		if wait := s.send(ctx, b); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-s.t.clk.After(wait):
			}
		}
	}
}

// send posts b once and handles the answer; it answers how long to wait
// before the next attempt.
func (s *sender) send(ctx context.Context, b Batch) time.Duration {
	err := s.t.opts.Client.PostTelemetry(ctx, b.Kind, b.Key, b.Body)
	if err == nil {
		s.t.q.Remove(b)
		s.t.sentBatches.Add(1)
		s.t.sentRecords.Add(int64(b.Records))
		s.failures = 0
		return 0
	}
	if ctx.Err() != nil {
		return 0
	}
	var se *cpclient.StatusError
	if !errors.As(err, &se) {
		return s.backoff(ctx, b, err)
	}
	switch {
	case se.Status == http.StatusTooManyRequests:
		s.t.limited.Add(1)
		wait := se.RetryAfter
		if wait <= 0 {
			wait = DefaultRetryAfter
		}
		s.t.log.LogAttrs(ctx, slog.LevelDebug, "telemetry batch rate limited; keeping it", slog.String(logkey.Kind, b.Kind),
			slog.Duration(logkey.RetryIn, wait))
		return wait
	case se.Status == http.StatusRequestEntityTooLarge:
		return s.split(ctx, b)
	case se.Status >= 500 || se.Status == http.StatusRequestTimeout:
		return s.backoff(ctx, b, err)
	default:
		// Refused for good: repeating the same batch cannot change the
		// answer. The answer's body is not logged (it may echo records).
		s.t.q.Remove(b)
		s.t.rejectedBatches.Add(1)
		s.t.rejectedRecords.Add(int64(b.Records))
		s.t.log.LogAttrs(ctx, slog.LevelWarn, "telemetry batch refused; dropped", slog.String(logkey.Kind, b.Kind),
			slog.Int(logkey.HTTPStatus, se.Status), slog.Int(logkey.Records, b.Records))
		return 0
	}
}

// split replaces a batch the control plane found too large by its halves;
// a single record too large is dropped.
func (s *sender) split(ctx context.Context, b Batch) time.Duration {
	ok, err := s.t.q.Split(b)
	if err != nil {
		return s.backoff(ctx, b, err)
	}
	if ok {
		s.t.splits.Add(1)
		return 0
	}
	s.t.q.Remove(b)
	s.t.rejectedBatches.Add(1)
	s.t.rejectedRecords.Add(int64(b.Records))
	s.t.log.LogAttrs(ctx, slog.LevelWarn, "telemetry record too large to send; dropped", slog.String(logkey.Kind, b.Kind),
		slog.Int(logkey.Records, b.Records))
	return 0
}

// backoff keeps the batch and waits min·2ⁿ (capped, jittered).
func (s *sender) backoff(ctx context.Context, b Batch, err error) time.Duration {
	s.t.failures.Add(1)
	wait := stream.Backoff(s.failures, s.t.opts.MinBackoff, s.t.opts.MaxBackoff, s.t.opts.Rand)
	s.failures++
	s.t.log.LogAttrs(ctx, slog.LevelDebug, "telemetry batch not delivered; keeping it", slog.String(logkey.Kind, b.Kind),
		slog.Duration(logkey.RetryIn, wait), slog.String(logkey.Error, err.Error()))
	return wait
}
