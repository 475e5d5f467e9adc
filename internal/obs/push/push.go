// Package push delivers node telemetry to an external backend (issue 15):
// a bounded in-memory queue drained by one sender that batches, retries a
// failed batch with exponential backoff and counts what it sent, what it
// gave up on and what it dropped because the queue was full. Prometheus
// remote-write (obs/metrics) and the Loki push API (obs/logs) sit on it.
package push

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults.
const (
	DefaultMaxQueue   = 100_000
	DefaultMaxBatch   = 2_000
	DefaultFlushEvery = time.Second
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 10 * time.Second
	DefaultMaxRetries = 8
	// DefaultTimeout bounds one HTTP request.
	DefaultTimeout = 30 * time.Second
)

// Config configures a Queue.
type Config[T any] struct {
	// Name names the queue in logs ("remote-write", "loki").
	Name string
	// MaxQueue bounds the items waiting (more are dropped and counted);
	// MaxBatch the items one Send gets.
	MaxQueue, MaxBatch int
	// FlushEvery is how long an item may wait for a fuller batch.
	FlushEvery time.Duration
	// MinBackoff, MaxBackoff, MaxRetries shape the retries of one batch.
	MinBackoff, MaxBackoff time.Duration
	MaxRetries             int
	// Send delivers one batch; an error that Retryable reports is retried.
	Send   func(ctx context.Context, batch []T) error
	Logger *slog.Logger
}

// Stats are a queue's counters (items, not batches; Retries counts
// attempts).
type Stats struct {
	Queued                         int
	Sent, Failed, Dropped, Retries int64
}

// Queue is a running sender.
type Queue[T any] struct {
	cfg    Config[T]
	mu     sync.Mutex
	items  []T
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	closed bool

	sent, failed, dropped, retries atomic.Int64
}

// New starts a queue.
func New[T any](cfg Config[T]) *Queue[T] {
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = DefaultMaxQueue
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = DefaultFlushEvery
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	} else if cfg.MaxRetries == 0 {
		cfg.MaxRetries = DefaultMaxRetries
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	q := &Queue[T]{cfg: cfg, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go q.run()
	return q
}

// Enqueue adds items without blocking; what does not fit is dropped and
// counted. It answers how many were dropped.
func (q *Queue[T]) Enqueue(items ...T) int {
	if len(items) == 0 {
		return 0
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		q.dropped.Add(int64(len(items)))
		return len(items)
	}
	room := q.cfg.MaxQueue - len(q.items)
	drop := 0
	if room < len(items) {
		drop = len(items) - max(room, 0)
		items = items[:max(room, 0)]
	}
	q.items = append(q.items, items...)
	full := len(q.items) >= q.cfg.MaxBatch
	q.mu.Unlock()
	if drop > 0 {
		q.dropped.Add(int64(drop))
	}
	if full {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
	return drop
}

// Stats answers the counters.
func (q *Queue[T]) Stats() Stats {
	q.mu.Lock()
	n := len(q.items)
	q.mu.Unlock()
	return Stats{Queued: n, Sent: q.sent.Load(), Failed: q.failed.Load(), Dropped: q.dropped.Load(), Retries: q.retries.Load()}
}

// Close stops taking items, tries once more to deliver what is queued
// (within timeout) and stops the sender. Repeated calls are fine.
func (q *Queue[T]) Close(timeout time.Duration) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		<-q.done
		return
	}
	q.closed = true
	q.mu.Unlock()
	close(q.stop)
	<-q.done
	// A last delivery of what remained, without retries.
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		batch := q.take()
		if len(batch) == 0 {
			return
		}
		if ctx.Err() != nil {
			q.failed.Add(int64(len(batch)))
			continue
		}
		if err := q.cfg.Send(ctx, batch); err != nil {
			q.failed.Add(int64(len(batch)))
			q.cfg.Logger.Warn("telemetry push: last batch failed", "queue", q.cfg.Name, "items", len(batch), "error", err.Error())
			continue
		}
		q.sent.Add(int64(len(batch)))
	}
}

func (q *Queue[T]) take() []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(len(q.items), q.cfg.MaxBatch)
	if n == 0 {
		return nil
	}
	batch := make([]T, n)
	copy(batch, q.items)
	rest := copy(q.items, q.items[n:])
	clear(q.items[rest:])
	q.items = q.items[:rest]
	return batch
}

func (q *Queue[T]) run() {
	defer close(q.done)
	t := time.NewTicker(q.cfg.FlushEvery)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-q.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		select {
		case <-q.stop:
			return
		case <-t.C:
		case <-q.wake:
		}
		for {
			batch := q.take()
			if len(batch) == 0 {
				break
			}
			if !q.deliver(ctx, batch) {
				return // stopping: Close delivers the rest
			}
			if ctx.Err() != nil {
				return
			}
		}
	}
}

// deliver sends one batch with retries; false when the queue is stopping
// (the batch is put back for Close's last attempt).
func (q *Queue[T]) deliver(ctx context.Context, batch []T) bool {
	backoff := q.cfg.MinBackoff
	for attempt := 0; ; attempt++ {
		err := q.cfg.Send(ctx, batch)
		if err == nil {
			q.sent.Add(int64(len(batch)))
			return true
		}
		if ctx.Err() != nil {
			q.requeue(batch)
			return false
		}
		if !Retryable(err) || attempt >= q.cfg.MaxRetries {
			q.failed.Add(int64(len(batch)))
			q.cfg.Logger.Warn("telemetry push: batch given up", "queue", q.cfg.Name, "items", len(batch),
				"attempts", attempt+1, "error", err.Error())
			return true
		}
		q.retries.Add(1)
		wait := backoff
		var se *StatusError
		if errors.As(err, &se) && se.RetryAfter > wait {
			wait = min(se.RetryAfter, q.cfg.MaxBackoff)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			q.requeue(batch)
			return false
		}
		backoff = min(2*backoff, q.cfg.MaxBackoff)
	}
}

// requeue puts a batch back at the head (bounded: the excess is dropped).
func (q *Queue[T]) requeue(batch []T) {
	q.mu.Lock()
	defer q.mu.Unlock()
	keep := min(len(batch), q.cfg.MaxQueue)
	if d := len(batch) - keep; d > 0 {
		q.dropped.Add(int64(d))
	}
	q.items = append(batch[:keep:keep], q.items...)
	if over := len(q.items) - q.cfg.MaxQueue; over > 0 {
		q.dropped.Add(int64(over))
		q.items = q.items[:q.cfg.MaxQueue]
	}
}

// StatusError is a non-2xx answer of the backend.
type StatusError struct {
	Status int
	// RetryAfter is the backend's Retry-After (seconds form), if any.
	RetryAfter time.Duration
	// Detail is the start of the answer's body.
	Detail string
}

func (e *StatusError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("backend answered %d", e.Status)
	}
	return fmt.Sprintf("backend answered %d: %s", e.Status, e.Detail)
}

// Retryable reports whether a Send error is worth retrying: a network
// error, a 5xx or a 429; another 4xx will not get better.
func Retryable(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status >= 500 || se.Status == http.StatusTooManyRequests
	}
	return err != nil
}

// Target is an HTTP endpoint with its credential.
type Target struct {
	URL string
	// Bearer, when set, answers the bearer token (read per request, so a
	// rotated token file is picked up).
	Bearer func() (string, error)
	Client *http.Client
}

// Post sends body to the target with the given headers; a non-2xx answer
// is a *StatusError.
func (t Target) Post(ctx context.Context, header http.Header, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if err := t.authorize(req); err != nil {
		return err
	}
	c := t.Client
	if c == nil {
		c = &http.Client{Timeout: DefaultTimeout}
	}
	resp, err := c.Do(req)
	if err != nil {
		return scrub(err)
	}
	defer resp.Body.Close()
	detail, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	se := &StatusError{Status: resp.StatusCode, Detail: strings.TrimSpace(string(detail))}
	if d, err := time.ParseDuration(resp.Header.Get("Retry-After") + "s"); err == nil && d > 0 {
		se.RetryAfter = d
	}
	return se
}

func (t Target) authorize(req *http.Request) error {
	if t.Bearer == nil {
		return nil
	}
	tok, err := t.Bearer()
	if err != nil {
		return err
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return nil
}

// Do sends req (a read, e.g. a proxied query) with the target's
// credential.
func (t Target) Do(req *http.Request) (*http.Response, error) {
	if err := t.authorize(req); err != nil {
		return nil, err
	}
	c := t.Client
	if c == nil {
		c = &http.Client{Timeout: DefaultTimeout}
	}
	resp, err := c.Do(req)
	return resp, scrub(err)
}

// scrub drops the URL from a transport error (it names the endpoint, not
// a credential, but keeps messages short and uniform).
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// BearerFile answers a function that reads a bearer token from path (the
// file's content, trimmed) on every call; "" answers nil.
func BearerFile(path string) func() (string, error) {
	if path == "" {
		return nil
	}
	return func() (string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("read the bearer token file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
}

// CheckURL validates an endpoint URL: http(s), a host, no credentials in
// it (they belong in the token file).
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return err
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("want an http:// or https:// URL")
	case u.Host == "":
		return errors.New("the URL has no host")
	case u.User != nil:
		return errors.New("no credentials in the URL: use the bearer token file")
	}
	return nil
}
