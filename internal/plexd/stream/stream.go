// Package stream runs plexd's side of the signed event stream
// (spec/node-protocol.md §6, §7.4): it opens GET …/events with the last
// event id, parses frames with envelope.FrameReader, verifies every
// envelope with envelope.Verifier (signature, ±5 min freshness, previous
// key before its deadline, nonce replay) and hands verified envelopes to a
// Handler. Rejected or malformed input is logged and dropped; the stream
// survives it. On failure it reconnects with exponential backoff and
// jitter, honours Retry-After, stops only on 401 (revocation), and after
// a period of continuous failure also polls state through a callback.
package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/plexsphere/plexsphere/internal/envelope"
	"github.com/plexsphere/plexsphere/internal/plexd/clock"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// Defaults of Options.
const (
	DefaultMinBackoff   = 1 * time.Second
	DefaultMaxBackoff   = 60 * time.Second
	DefaultIdleTimeout  = 45 * time.Second // ≈ 3× the 15 s keepalive (§6.4 level 2)
	DefaultPollAfter    = 5 * time.Minute
	DefaultPollInterval = 60 * time.Second
	// healthyAfter: a connection that lived this long resets the backoff.
	healthyAfter = 10 * time.Second
)

// ErrRevoked: the control plane answered 401; the NSK is revoked (§6.4).
var ErrRevoked = errors.New("stream: node credential revoked (401)")

// Source opens the event stream. *cpclient.Client implements it.
type Source interface {
	OpenEvents(ctx context.Context, lastEventID string) (io.ReadCloser, error)
}

// Handler receives verified envelopes in stream order. It must be
// idempotent: entries are delivered at least once (§6.4 level 2).
type Handler interface {
	HandleEvent(ctx context.Context, env *envelope.Envelope)
}

// Cursor persists the last event id.
type Cursor interface {
	SaveCursor(id string) error
}

// State is the connection state reported to the agent's status.
type State string

// Connection states.
const (
	StateConnecting State = "connecting"
	StateConnected  State = "connected"
	StateBackoff    State = "backoff"
	StatePolling    State = "polling" // failing for longer than PollAfter
	StateRevoked    State = "revoked"
	StateStopped    State = "stopped"
)

// Options configures a Stream.
type Options struct {
	Source   Source             // required
	Verifier *envelope.Verifier // required
	Handler  Handler            // required
	// Cursor persists the last event id; nil keeps it in memory only.
	Cursor Cursor
	// LastEventID resumes the stream (from the persisted cursor).
	LastEventID string
	// Poll fetches and applies state; called every PollInterval once the
	// stream has failed continuously for PollAfter. Nil disables polling.
	Poll func(ctx context.Context) error
	// OnState observes connection state changes; may be nil.
	OnState func(State)
	// OnConnect is called once per established connection with the
	// Last-Event-ID it resumed from ("" = the control plane started at its
	// live head, so events appended before it attached were not sent).
	OnConnect func(lastEventID string)
	Logger    *slog.Logger
	Clock     clock.Clock
	// Rand returns a float in [0,1) for jitter; math/rand/v2 when nil.
	Rand func() float64

	MinBackoff, MaxBackoff, IdleTimeout, PollAfter, PollInterval time.Duration
}

// Stream is one node's event stream consumer.
type Stream struct {
	opts Options
	log  *slog.Logger
	clk  clock.Clock

	// mu guards lastID and the counters.
	mu       sync.Mutex
	lastID   string
	accepted int
	rejected int
}

// New validates opts and fills defaults.
func New(opts Options) (*Stream, error) {
	switch {
	case opts.Source == nil:
		return nil, errors.New("stream: Options.Source is required")
	case opts.Verifier == nil:
		return nil, errors.New("stream: Options.Verifier is required")
	case opts.Handler == nil:
		return nil, errors.New("stream: Options.Handler is required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.MinBackoff, DefaultMinBackoff)
	def(&opts.MaxBackoff, DefaultMaxBackoff)
	def(&opts.IdleTimeout, DefaultIdleTimeout)
	def(&opts.PollAfter, DefaultPollAfter)
	def(&opts.PollInterval, DefaultPollInterval)
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Stream{opts: opts, log: opts.Logger, clk: clock.OrReal(opts.Clock), lastID: opts.LastEventID}, nil
}

// LastEventID is the id the next connection resumes after.
func (s *Stream) LastEventID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastID
}

// Counts returns how many envelopes were accepted and rejected.
func (s *Stream) Counts() (accepted, rejected int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted, s.rejected
}

func (s *Stream) setState(st State) {
	if s.opts.OnState != nil {
		s.opts.OnState(st)
	}
}

// Run consumes the stream until ctx ends (nil) or the credential is
// revoked (ErrRevoked).
func (s *Stream) Run(ctx context.Context) error {
	attempt := 0
	var failingSince time.Time
	var nextPoll time.Time
	for {
		if ctx.Err() != nil {
			s.setState(StateStopped)
			return nil
		}
		s.setState(StateConnecting)
		started := s.clk.Now()
		err := s.connect(ctx)
		if ctx.Err() != nil {
			s.setState(StateStopped)
			return nil
		}
		if errors.Is(err, ErrRevoked) {
			s.setState(StateRevoked)
			return err
		}
		now := s.clk.Now()
		if now.Sub(started) >= healthyAfter {
			attempt, failingSince = 0, time.Time{}
		}
		if failingSince.IsZero() {
			failingSince = now
		}
		wait := Backoff(attempt, s.opts.MinBackoff, s.opts.MaxBackoff, s.opts.Rand)
		var se *cpclient.StatusError
		if errors.As(err, &se) && se.RetryAfter > 0 && (se.Status == http.StatusTooManyRequests || se.Status == http.StatusServiceUnavailable) {
			wait = se.RetryAfter
		}
		attempt++
		s.log.LogAttrs(ctx, slog.LevelWarn, "event stream ended",
			slog.String(logkey.Error, errString(err)), slog.Duration(logkey.RetryIn, wait))
		state := StateBackoff
		if s.opts.Poll != nil && now.Sub(failingSince) >= s.opts.PollAfter {
			state = StatePolling
			if !now.Before(nextPoll) {
				nextPoll = now.Add(s.opts.PollInterval)
				if perr := s.opts.Poll(ctx); perr != nil {
					s.log.LogAttrs(ctx, slog.LevelWarn, "state poll failed", slog.String(logkey.Error, perr.Error()))
				}
			}
		}
		s.setState(state)
		select {
		case <-ctx.Done():
			s.setState(StateStopped)
			return nil
		case <-s.clk.After(wait):
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "closed by server"
	}
	return err.Error()
}

// Backoff is the wait before reconnect attempt n (0-based): min·2ⁿ capped
// at max, with ±25 % jitter (§6.4). r returns a float in [0,1).
func Backoff(n int, minD, maxD time.Duration, r func() float64) time.Duration {
	d := minD
	for i := 0; i < n && d < maxD; i++ {
		d *= 2
	}
	d = min(d, maxD)
	jitter := (r()*0.5 - 0.25) * float64(d)
	return d + time.Duration(jitter)
}

// connect runs one connection until it fails. A 401 is ErrRevoked;
// 403 and 404 are retried with capped backoff (§6.4 level 2).
func (s *Stream) connect(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resumeFrom := s.LastEventID()
	body, err := s.opts.Source.OpenEvents(ctx, resumeFrom)
	if cpclient.IsStatus(err, http.StatusUnauthorized) {
		return fmt.Errorf("%w: %v", ErrRevoked, err)
	}
	if err != nil {
		return err
	}
	closeBody := sync.OnceFunc(func() { body.Close() })
	defer closeBody()
	s.setState(StateConnected)
	s.log.LogAttrs(ctx, slog.LevelInfo, "event stream connected", slog.String(logkey.LastEventID, resumeFrom))
	if s.opts.OnConnect != nil {
		s.opts.OnConnect(resumeFrom)
	}
	return s.Consume(ctx, s.watchIdle(ctx, cancel, body, closeBody))
}

// watchIdle cancels the connection when no byte arrives for IdleTimeout.
func (s *Stream) watchIdle(ctx context.Context, cancel context.CancelFunc, body io.Reader, closeBody func()) io.Reader {
	kick := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-kick:
			case <-s.clk.After(s.opts.IdleTimeout):
				s.log.LogAttrs(ctx, slog.LevelWarn, "event stream idle; reconnecting",
					slog.Duration(logkey.IdleTimeout, s.opts.IdleTimeout))
				cancel()
				closeBody() // unblocks a Read that ignores the context
				return
			}
		}
	}()
	return readFunc(func(p []byte) (int, error) {
		n, err := body.Read(p)
		if n > 0 {
			select {
			case kick <- struct{}{}:
			default:
			}
		}
		return n, err
	})
}

type readFunc func([]byte) (int, error)

func (f readFunc) Read(p []byte) (int, error) { return f(p) }

// Consume reads frames from r until it ends and handles each. It returns
// the read error (io.EOF on a clean close, envelope.ErrLineTooLong on an
// oversized line); bad frames never end it.
func (s *Stream) Consume(ctx context.Context, r io.Reader) error {
	fr := envelope.NewFrameReader(r)
	for {
		f, err := fr.Next()
		if err != nil {
			if errors.Is(err, envelope.ErrLineTooLong) {
				s.skipOversized(ctx, fr.LastEventID())
			}
			return err
		}
		s.HandleFrame(ctx, f)
	}
}

// skipOversized handles a line over the limit (F2). The existing agent
// reconnects with the same Last-Event-ID and loops on the event forever;
// ours advances past the id the frame announced, so the next connection
// resumes after it, and pulls state, which carries everything lasting.
func (s *Stream) skipOversized(ctx context.Context, frameID string) {
	s.count(false)
	attrs := []slog.Attr{slog.String(logkey.Reason, "oversized_line"), slog.String(logkey.SSEID, frameID)}
	if frameID != "" && frameID != s.LastEventID() {
		s.advance(ctx, frameID)
		s.log.LogAttrs(ctx, slog.LevelWarn, "event rejected; skipping it and resyncing through state", attrs...)
	} else {
		s.log.LogAttrs(ctx, slog.LevelWarn, "event stream line over the limit; reconnecting", attrs...)
	}
	if s.opts.Poll != nil {
		if err := s.opts.Poll(ctx); err != nil && ctx.Err() == nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "state poll failed", slog.String(logkey.Error, err.Error()))
		}
	}
}

// HandleFrame verifies one frame and dispatches it. The last event id
// advances whether or not the envelope verifies: a rejected event is
// never requested again (L8), and state carries everything lasting.
func (s *Stream) HandleFrame(ctx context.Context, f envelope.Frame) {
	defer func() {
		// The handler is ours, but network input must never take the
		// agent down (issue 4 item 7): log and survive.
		if p := recover(); p != nil {
			s.count(false)
			s.log.LogAttrs(ctx, slog.LevelError, "event handler panicked", slog.Any(logkey.Panic, p))
		}
	}()
	if f.ID != "" {
		s.advance(ctx, f.ID)
	}
	env, err := s.opts.Verifier.VerifyJSON(f.Data)
	if err != nil {
		s.count(false)
		attrs := []slog.Attr{slog.String(logkey.SSEID, f.ID), slog.String(logkey.Reason, reason(err)), slog.String(logkey.Error, err.Error())}
		if env != nil {
			attrs = append(attrs, slog.String(logkey.EventType, env.EventType), slog.String(logkey.EventID, env.EventID))
		}
		s.log.LogAttrs(ctx, slog.LevelWarn, "event rejected", attrs...)
		return
	}
	s.count(true)
	s.log.LogAttrs(ctx, slog.LevelDebug, "event accepted", slog.String(logkey.SSEID, f.ID),
		slog.String(logkey.EventType, env.EventType), slog.String(logkey.EventID, env.EventID))
	s.opts.Handler.HandleEvent(ctx, env)
}

func (s *Stream) count(ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		s.accepted++
	} else {
		s.rejected++
	}
}

func (s *Stream) advance(ctx context.Context, id string) {
	s.mu.Lock()
	s.lastID = id
	s.mu.Unlock()
	if s.opts.Cursor != nil {
		if err := s.opts.Cursor.SaveCursor(id); err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "persisting the event cursor failed", slog.String(logkey.Error, err.Error()))
		}
	}
}

// reason names the rejection class for logs and metrics.
func reason(err error) string {
	for _, c := range []struct {
		err  error
		name string
	}{
		{envelope.ErrStale, "stale"},
		{envelope.ErrFuture, "future"},
		{envelope.ErrReplay, "replayed_nonce"},
		{envelope.ErrKeyExpired, "key_expired"},
		{envelope.ErrUnknownKey, "unknown_key"},
		{envelope.ErrBadSignature, "bad_signature"},
		{envelope.ErrReplayCacheFull, "replay_cache_full"},
		{envelope.ErrMalformed, "malformed"},
	} {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	return "invalid"
}

// Reason is the rejection class of a verification error, for tests and logs.
func Reason(err error) string { return reason(err) }
