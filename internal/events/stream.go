package events

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/envelope"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

// readBatch is how many entries a stream reads from its log at a time.
const readBatch = 128

// writeTimeout bounds one write to a stream; a client that does not take
// its bytes for this long is dropped and resumes with Last-Event-ID.
const writeTimeout = 30 * time.Second

// CallerFunc names the node whose NSK authenticated the request, if any.
// The enrollment context provides it; the stream refuses another node's
// path with 403 node_id_mismatch (§3.3).
type CallerFunc func(ctx context.Context) (nodeID string, ok bool)

type streamInput struct {
	ID          string `path:"id" doc:"The node id."`
	LastEventID string `header:"Last-Event-ID" doc:"Resume strictly after this log sequence number (§6.3)."`
	Protocol    string `header:"X-Plexd-Protocol" doc:"The agent's highest protocol level (§1.3)."`
}

// StreamOperation is the OpenAPI operation of the event stream.
func StreamOperation() huma.Operation {
	op := route.Op(http.MethodGet, "/v1/nodes/{id}/events", "streamNodeEvents", "node.events.stream", route.Node,
		"Signed SSE event stream", "Nodes")
	op.Description = "Server-sent events per node-protocol §6: `id:` is the node's log sequence number, " +
		"`event:` the event type, `data:` one SignedEnvelope (§7) signed at emission. A comment at least every 15 s. " +
		"`Last-Event-ID` resumes strictly after that entry; an unusable one starts at the live head and makes the " +
		"next heartbeat answer `reconcile: true`. 503 `event_stream_unavailable` while the stream cannot be served."
	op.Responses = map[string]*huma.Response{
		"200": {
			Description: "The event stream.",
			Headers: map[string]*huma.Param{
				"X-Plexsphere-API-Version": {Schema: &huma.Schema{Type: "string"}, Description: "Always v1."},
			},
			Content: map[string]*huma.MediaType{
				"text/event-stream": {Schema: &huma.Schema{Type: "string", Description: "SSE frames."}},
			},
		},
	}
	return op
}

// Register adds the event stream to api. caller may be nil when the API's
// authentication middleware already binds the NSK to the path's node.
func (s *Service) Register(api huma.API, caller CallerFunc) {
	huma.Register(api, StreamOperation(), func(ctx context.Context, in *streamInput) (*huma.StreamResponse, error) {
		return s.openStream(ctx, in, caller)
	})
}

func (s *Service) openStream(ctx context.Context, in *streamInput, caller CallerFunc) (*huma.StreamResponse, error) {
	if !nodeproto.ValidID(in.ID) {
		return nil, problem.BadRequest("invalid_node_id", "The node id is not valid.")
	}
	if caller != nil {
		if id, ok := caller(ctx); !ok || id != in.ID {
			return nil, problem.New(http.StatusForbidden, "node_id_mismatch", "The credential belongs to another node.")
		}
	}
	if !s.Ready() {
		return nil, unavailable(errors.New("fan-out not ready"))
	}
	sub := s.hub.subscribe(in.ID)
	// A removal that committed before subscribe ended no stream of this
	// one: check now (issue 7 row 18); a later one ends it.
	if gone, err := removedNodes(ctx, s.db, []string{in.ID}); err != nil || len(gone) > 0 {
		s.hub.unsubscribe(sub)
		if err != nil {
			return nil, unavailable(err)
		}
		return nil, errRevoked()
	}
	from, err := s.resume(ctx, in.ID, in.LastEventID)
	if err != nil {
		s.hub.unsubscribe(sub)
		return nil, unavailable(err)
	}
	held, err := s.holdFor(ctx, in.ID, in.LastEventID)
	if err != nil {
		s.hub.unsubscribe(sub)
		return nil, unavailable(err)
	}
	level := 0
	if in.Protocol != "" {
		level = nodeproto.NegotiateLevel(nodeproto.ParseLevel(in.Protocol), nodeproto.MaxLevel)
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		defer s.hub.unsubscribe(sub)
		_, w := humago.Unwrap(hctx)
		rc := http.NewResponseController(w)
		h := w.Header()
		h.Set("Content-Type", "text/event-stream; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Plexsphere-API-Version", "v1")
		h.Set("X-Accel-Buffering", "no")
		if level > 0 {
			h.Set(nodeproto.HeaderPlexsphereProtocol, strconv.Itoa(level))
		}
		hctx.SetStatus(http.StatusOK)
		out := &streamWriter{w: w, rc: rc}
		err := s.pump(hctx.Context(), sub, from, out, held)
		if err != nil && hctx.Context().Err() == nil {
			s.cfg.Logger.WarnContext(hctx.Context(), "event stream ended", "node_id", in.ID, "error", err)
		}
	}}, nil
}

func unavailable(cause error) error {
	return problem.New(http.StatusServiceUnavailable, "event_stream_unavailable", "").
		WithCause(cause).WithHeader(nodeproto.HeaderRetryAfter, "5")
}

// streamWriter writes to the client with a deadline per write and flushes.
type streamWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (sw *streamWriter) Write(p []byte) (int, error) {
	_ = sw.rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	return sw.w.Write(p)
}

func (sw *streamWriter) Flush() error { return sw.rc.Flush() }

// flushWriter is where a stream writes: frames, then a flush.
type flushWriter interface {
	io.Writer
	Flush() error
}

// pump serves one stream: a comment at once, every entry after from, then
// live entries as wake-ups arrive, a keepalive comment every Keepalive, and
// an unprompted re-read every Sweep. With h set it writes no entry while
// the hold lasts (K6). It returns when ctx ends, a newer stream of the node
// replaces this one, or a write or read fails.
func (s *Service) pump(ctx context.Context, sub *subscriber, from int64, w flushWriter, h *hold) error {
	if err := envelope.WriteComment(w, "connected"); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	keep := time.NewTicker(s.cfg.Keepalive)
	defer keep.Stop()
	sweep := time.NewTicker(s.cfg.Sweep)
	defer sweep.Stop()
	var release <-chan time.Time
	if h != nil {
		t := time.NewTimer(time.Until(h.until))
		defer t.Stop()
		release = t.C
	}
	last := from
	for {
		if h != nil && s.states.servedSince(sub.nodeID, h.stateAfter) {
			h, release = nil, nil
		}
		if h == nil {
			var err error
			if last, err = s.drain(ctx, sub.nodeID, last, w); err != nil {
				return err
			}
		}
		for waiting := true; waiting; {
			select {
			case <-ctx.Done():
				return nil
			case <-sub.done:
				return nil
			case <-sub.wake:
				waiting = false
			case <-sweep.C:
				waiting = false
			case <-release:
				h, release, waiting = nil, nil, false
			case <-keep.C:
				if _, err := io.WriteString(w, envelope.KeepaliveComment); err != nil {
					return err
				}
				if err := w.Flush(); err != nil {
					return err
				}
			}
		}
	}
}

// drain writes every committed entry of nodeID after last, signed now, and
// returns the new last sequence number.
func (s *Service) drain(ctx context.Context, nodeID string, last int64, w flushWriter) (int64, error) {
	for {
		recs, err := s.source(ctx, nodeID, last, readBatch)
		if err != nil {
			return last, err
		}
		for _, r := range recs {
			if err := s.emitOne(ctx, r, w); err != nil {
				return last, err
			}
			last = r.seq
		}
		if len(recs) > 0 {
			if err := w.Flush(); err != nil {
				return last, err
			}
		}
		if len(recs) < readBatch {
			return last, nil
		}
	}
}

// emitOne signs r afresh (L4: new issued_at and nonce; id, event_id and
// payload unchanged) with its entry key per K5 and writes its frame. A void
// entry (L7) is skipped.
//
// The envelope is written as §7.3 prescribes: the canonical bytes are
// already the wire form of the five signed members (every value is stored
// and rendered canonically), so the data line is those bytes with the
// signature member added before the closing brace; no second marshal.
func (s *Service) emitOne(ctx context.Context, r record, w io.Writer) error {
	now := s.cfg.Now()
	if r.voidAfter.Valid && store.Micros(now) > r.voidAfter.Int64 {
		return nil
	}
	key, err := s.cfg.Keys.EmissionKey(ctx, r.domainID, r.keyID)
	if err != nil {
		return fmt.Errorf("events: emission key: %w", err)
	}
	var raw [envelope.NonceBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return fmt.Errorf("events: nonce: %w", err)
	}
	var nonce [24]byte
	base64.RawURLEncoding.Encode(nonce[:], raw[:])
	issued := now.UTC().Truncate(time.Millisecond)
	msg, err := envelope.CanonicalBytes(r.eventType, r.eventID, issued, string(nonce[:base64.RawURLEncoding.EncodedLen(len(raw))]), r.payload)
	if err != nil {
		return err
	}
	sig, err := key.Sign(ctx, msg)
	if err != nil {
		return fmt.Errorf("events: sign: %w", err)
	}
	if len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("events: signer returned %d bytes", len(sig))
	}
	buf := make([]byte, 0, len(msg)+len(r.eventType)+160)
	buf = append(buf, "id: "...)
	buf = strconv.AppendInt(buf, r.seq, 10)
	buf = append(buf, "\nevent: "...)
	buf = append(buf, r.eventType...)
	buf = append(buf, "\ndata: "...)
	dataStart := len(buf) - len("data: ")
	buf = append(buf, msg[:len(msg)-1]...)
	buf = append(buf, `,"signature":"`...)
	buf = base64.StdEncoding.AppendEncode(buf, sig)
	buf = append(buf, `"}`...)
	if n := len(buf) - dataStart; n > envelope.MaxLineBytes {
		return fmt.Errorf("events: entry %d: %w", r.seq, envelope.ErrTooLarge)
	}
	buf = append(buf, "\n\n"...)
	if _, err = w.Write(buf); err != nil {
		return err
	}
	s.observeFanout(r.eventID, now)
	return nil
}

// observeFanout reports how long an event took from its creation (its
// UUIDv7 id's clock) to a stream write, for live deliveries only (a
// replay of an old entry is not fan-out).
func (s *Service) observeFanout(eventID string, now time.Time) {
	if s.cfg.Fanout == nil {
		return
	}
	u, err := uuid.Parse(eventID)
	if err != nil || u.Version() != 7 {
		return
	}
	sec, nsec := u.Time().UnixTime()
	if d := now.Sub(time.Unix(sec, nsec)); d >= 0 && d < time.Minute {
		s.cfg.Fanout(d)
	}
}
