package opevents

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
)

// Problem codes.
const (
	CodeInvalidDomainID    = "invalid_domain_id"
	CodeInvalidEventType   = "invalid_event_type"
	CodeInvalidLastEventID = "invalid_last_event_id"
	CodeTooManyStreams     = "too_many_streams"
	CodeUnavailable        = "event_stream_unavailable"
)

const (
	// readBatch is how many events a stream reads at a time.
	readBatch = 128
	// writeTimeout drops a client that does not take its bytes; it resumes
	// with Last-Event-ID.
	writeTimeout = 30 * time.Second
	// decisionTTL is how long a stream reuses one read decision.
	decisionTTL = 5 * time.Second
	// maxDecisions bounds a stream's decision cache.
	maxDecisions = 4096
	// resweep is how often a stream re-reads its log unprompted (a missed
	// wake-up costs at most that; the poller wakes it within Poll).
	resweep = 10 * time.Second
)

// StreamInput is the request of the operator stream.
type StreamInput struct {
	DomainID    string `path:"domainId" doc:"The Domain id."`
	LastEventID string `header:"Last-Event-ID" doc:"Resume strictly after this sequence number; absent starts at the live head."`
	Types       string `query:"types" maxLength:"512" doc:"Comma-separated event types to deliver (default: all)."`
}

// StreamOperation is the OpenAPI operation of the operator stream.
func StreamOperation() huma.Operation {
	op := route.Op(http.MethodGet, "/v1/domains/{domainId}/events", "StreamDomainEvents", "domain.events.stream",
		route.Operator, "Ours: operator event stream of a Domain (server-sent events)", "Events")
	op.Description = "Server-sent events (api.md §3 \"Operator stream\"): `id:` is the Domain's event sequence number, " +
		"`event:` one of " + strings.Join(Types, ", ") + ", `data:` a JSON summary (clients re-read the object). " +
		"An event is delivered only if the caller may read its object. A comment at least every 15 s. " +
		"`Last-Event-ID` resumes strictly after that event (events older than the retention window are gone); " +
		"`types` filters. Requires domain-view on the Domain."
	op.Responses = map[string]*huma.Response{
		"200": {
			Description: "The event stream.",
			Content:     map[string]*huma.MediaType{"text/event-stream": {Schema: &huma.Schema{Type: "string", Description: "SSE frames."}}},
		},
	}
	return op
}

// Register adds the operator stream to api.
func (s *Service) Register(api huma.API) {
	huma.Register(api, StreamOperation(), s.open)
}

// ParseTypes parses a types filter: comma-separated known types, blanks
// ignored; nil means every type.
func ParseTypes(v string) ([]string, error) {
	var out []string
	for t := range strings.SplitSeq(v, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if !slices.Contains(Types, t) {
			return nil, problem.BadRequest(CodeInvalidEventType, "Unknown event type "+strconv.Quote(t)+"; known: "+
				strings.Join(Types, ", ")+".")
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

func (s *Service) open(ctx context.Context, in *StreamInput) (*huma.StreamResponse, error) {
	u, err := uuid.Parse(in.DomainID)
	if err != nil || u == uuid.Nil {
		return nil, problem.BadRequest(CodeInvalidDomainID, "The domain id must be a UUID.")
	}
	domainID := u.String()
	if err := s.cfg.Authz.Check(ctx, "domain-view", "domain:"+domainID); err != nil {
		return nil, err
	}
	types, err := ParseTypes(in.Types)
	if err != nil {
		return nil, err
	}
	var after int64 = -1
	if in.LastEventID != "" {
		after, err = strconv.ParseInt(strings.TrimSpace(in.LastEventID), 10, 64)
		if err != nil || after < 0 {
			return nil, problem.BadRequest(CodeInvalidLastEventID, "Last-Event-ID must be a sequence number.")
		}
	}
	p := principal.From(ctx)
	if p == nil {
		return nil, problem.Unauthenticated()
	}
	sub, err := s.subscribe(domainID)
	if errors.Is(err, errTooMany) {
		return nil, problem.New(http.StatusTooManyRequests, CodeTooManyStreams, "Too many open event streams for this Domain.").
			WithHeader("Retry-After", "5")
	}
	head, err := s.head(ctx, domainID)
	if err != nil {
		s.unsubscribe(sub)
		return nil, problem.New(http.StatusServiceUnavailable, CodeUnavailable, "").WithCause(err).WithHeader("Retry-After", "5")
	}
	if after < 0 || after > head {
		after = head
	}
	st := &stream{s: s, sub: sub, principal: p, types: types, last: after, decided: map[string]decision{}}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		defer s.unsubscribe(sub)
		_, w := humago.Unwrap(hctx)
		rc := http.NewResponseController(w)
		h := w.Header()
		h.Set("Content-Type", "text/event-stream; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		hctx.SetStatus(http.StatusOK)
		out := &flusher{w: w, rc: rc}
		if err := st.pump(hctx.Context(), out); err != nil && hctx.Context().Err() == nil {
			s.cfg.Logger.WarnContext(hctx.Context(), "operator event stream ended", "domain_id", domainID, "error", err)
		}
	}}, nil
}

// flusher writes with a deadline per write and flushes.
type flusher struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f *flusher) Write(p []byte) (int, error) {
	_ = f.rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	return f.w.Write(p)
}

func (f *flusher) Flush() error { return f.rc.Flush() }

type flushWriter interface {
	io.Writer
	Flush() error
}

// stream is one subscriber's state.
type stream struct {
	s         *Service
	sub       *subscriber
	principal *principal.Principal
	types     []string
	last      int64
	decided   map[string]decision
}

type decision struct {
	allowed bool
	at      time.Time
}

// pump writes a comment, then every event after last, then live events as
// wake-ups arrive, with a keepalive comment every Keepalive and a re-read
// every resweep.
func (st *stream) pump(ctx context.Context, w flushWriter) error {
	if _, err := io.WriteString(w, ": connected\n\n"); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	keep := time.NewTicker(st.s.cfg.Keepalive)
	defer keep.Stop()
	poll := time.NewTicker(resweep)
	defer poll.Stop()
	for {
		if err := st.drain(ctx, w); err != nil {
			return err
		}
		for waiting := true; waiting; {
			select {
			case <-ctx.Done():
				return nil
			case <-st.sub.done:
				return nil
			case <-st.sub.wake:
				waiting = false
			case <-poll.C:
				waiting = false
			case <-keep.C:
				if _, err := io.WriteString(w, ": keepalive\n\n"); err != nil {
					return err
				}
				if err := w.Flush(); err != nil {
					return err
				}
			}
		}
	}
}

// drain writes every visible event after last.
func (st *stream) drain(ctx context.Context, w flushWriter) error {
	for {
		q := `SELECT seq, event_type, object_type, object_id, project_id, payload FROM operator_events
			WHERE domain_id = $1 AND seq > $2`
		args := []any{st.sub.domainID, st.last}
		if len(st.types) > 0 {
			ph := make([]string, len(st.types))
			for i, t := range st.types {
				args = append(args, t)
				ph[i] = "$" + strconv.Itoa(len(args))
			}
			q += ` AND event_type IN (` + strings.Join(ph, ", ") + `)`
		}
		q += ` ORDER BY seq LIMIT ` + strconv.Itoa(readBatch)
		rows, err := st.s.cfg.DB.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		type row struct {
			seq                                     int64
			typ, objType, objID, projectID, payload string
		}
		var batch []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.seq, &r.typ, &r.objType, &r.objID, &r.projectID, &r.payload); err != nil {
				rows.Close()
				return err
			}
			batch = append(batch, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		wrote, dctx := false, st.s.cfg.Decider.Begin(ctx)
		for _, r := range batch {
			ok, err := st.visible(dctx, r.typ, r.objType, r.objID, r.projectID)
			if err != nil {
				return err
			}
			st.last = r.seq
			if !ok {
				continue
			}
			if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", r.seq, r.typ, r.payload); err != nil {
				return err
			}
			wrote = true
		}
		if wrote {
			if err := w.Flush(); err != nil {
				return err
			}
		}
		if len(batch) < readBatch {
			return nil
		}
	}
}

// visible reports whether the subscriber may read the event's object: the
// Domain's audit (auditor) for audit_appended; otherwise read on the object,
// or read on its Project (which reaches every object in it, and still
// answers for a node whose own grants went with it).
func (st *stream) visible(ctx context.Context, typ, objType, objID, projectID string) (bool, error) {
	if typ == AuditAppended {
		return st.decide(ctx, "auditor", "domain:"+st.sub.domainID)
	}
	ok, err := st.decide(ctx, "read", objType+":"+objID)
	if err != nil || ok || projectID == "" {
		return ok, err
	}
	return st.decide(ctx, "read", "project:"+projectID)
}

func (st *stream) decide(ctx context.Context, permission, object string) (bool, error) {
	key := permission + " " + object
	now := time.Now()
	if d, ok := st.decided[key]; ok && now.Sub(d.at) < decisionTTL {
		return d.allowed, nil
	}
	d, err := st.s.cfg.Decider.Decide(ctx, st.principal, permission, object)
	if err != nil {
		return false, err
	}
	if len(st.decided) >= maxDecisions {
		clear(st.decided)
	}
	st.decided[key] = decision{allowed: d.Allowed, at: now}
	return d.Allowed, nil
}
