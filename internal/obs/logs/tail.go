package logs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
)

const (
	tailKeepalive = 15 * time.Second
	tailBatch     = 500
	// tailRescope is how often a tail re-resolves what the caller may read.
	tailRescope   = 30 * time.Second
	tailWriteWait = 30 * time.Second
)

// TailInput is the request of the live tail.
type TailInput struct {
	DomainID string `path:"domainId" doc:"The Domain id."`
	Query    string `query:"query" required:"true" maxLength:"4096" doc:"The LogQL expression (the documented subset)."`
}

// TailOperation is the OpenAPI operation of the live tail.
func TailOperation() huma.Operation {
	op := route.Op(http.MethodGet, "/v1/domains/{domainId}/logs/tail", "TailDomainLogs", "domain.logs.tail",
		route.Operator, "Ours: follow a LogQL query's new lines live (server-sent events)", "Observability")
	op.Description = "Server-sent events: each `data:` is a Loki tail frame `{\"streams\":[{\"stream\":{…},\"values\":" +
		"[[\"<unix ns>\",\"<line>\"]]}]}` with the lines stored after the stream opened that match the query, " +
		"confined like QueryDomainLogs; `id:` is the Domain's stream sequence number. A comment at least every 15 s."
	op.Responses = map[string]*huma.Response{"200": {Description: "The tail.",
		Content: map[string]*huma.MediaType{"text/event-stream": {Schema: &huma.Schema{Type: "string"}}}}}
	return op
}

func (s *Service) subscribe(domainID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.tails[domainID] >= s.cfg.MaxTails {
		return false
	}
	s.tails[domainID]++
	return true
}

func (s *Service) unsubscribe(domainID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tails[domainID]--; s.tails[domainID] <= 0 {
		delete(s.tails, domainID)
	}
}

func (s *Service) head(ctx context.Context, domainID, stream string) (int64, error) {
	var last int64
	err := s.cfg.DB.QueryRowContext(ctx, `SELECT COALESCE(MAX(last_seq), 0) FROM node_log_heads WHERE domain_id = $1 AND stream = $2`,
		domainID, stream).Scan(&last)
	return last, err
}

func (s *Service) tail(ctx context.Context, in *TailInput) (*huma.StreamResponse, error) {
	domainID, err := parseDomain(in.DomainID)
	if err != nil {
		return nil, err
	}
	q, err := parseQuery(in.Query)
	if err != nil {
		return nil, err
	}
	sc, err := s.readable(ctx, domainID)
	if err != nil {
		return nil, err
	}
	last, err := s.head(ctx, domainID, q.Stream)
	if err != nil {
		return nil, problem.Unavailable(CodeUnavailable, err).WithHeader("Retry-After", "5")
	}
	if !s.subscribe(domainID) {
		return nil, problem.New(http.StatusTooManyRequests, CodeTooManyTails, "Too many open log tails for this Domain.").
			WithHeader("Retry-After", "5")
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		defer s.unsubscribe(domainID)
		_, w := humago.Unwrap(hctx)
		rc := http.NewResponseController(w)
		h := w.Header()
		h.Set("Content-Type", "text/event-stream; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		hctx.SetStatus(http.StatusOK)
		rctx := hctx.Context()
		write := func(str string) error {
			_ = rc.SetWriteDeadline(time.Now().Add(tailWriteWait))
			if _, err := io.WriteString(w, str); err != nil {
				return err
			}
			return rc.Flush()
		}
		if write(": connected\n\n") != nil {
			return
		}
		poll := time.NewTicker(s.cfg.TailPoll)
		defer poll.Stop()
		lastWrite, lastScope := time.Now(), time.Now()
		for {
			select {
			case <-rctx.Done():
				return
			case <-s.stop:
				return
			case <-poll.C:
			}
			if time.Since(lastScope) > tailRescope {
				nsc, err := s.readable(rctx, domainID)
				if err != nil {
					return // rights withdrawn or the Domain gone: end the tail
				}
				sc, lastScope = nsc, time.Now()
			}
			entries, next, err := s.after(rctx, domainID, sc, q, last)
			if err != nil {
				if rctx.Err() == nil {
					s.cfg.Logger.WarnContext(rctx, "node logs: tail read", "domain_id", domainID, "error", err)
				}
				return
			}
			last = next
			if len(entries) > 0 {
				frame, _ := json.Marshal(map[string]any{"streams": lokiStreams(entries)})
				if write(fmt.Sprintf("id: %d\ndata: %s\n\n", last, frame)) != nil {
					return
				}
				lastWrite = time.Now()
			} else if time.Since(lastWrite) >= tailKeepalive {
				if write(": keepalive\n\n") != nil {
					return
				}
				lastWrite = time.Now()
			}
		}
	}}, nil
}

// after reads the matching entries stored after seq (by sequence number),
// at most tailBatch rows read; it returns the new cursor.
func (s *Service) after(ctx context.Context, domainID string, sc scope, q *Query, seq int64) ([]Entry, int64, error) {
	table, labels := q.table()
	args := []any{}
	where := q.sqlWhere(domainID, sc, &args)
	args = append(args, seq)
	// Confinement and equality matchers narrow the rows, so the cursor is
	// the Domain's head when nothing matched (read separately below).
	sqlq := `SELECT seq, ts, line, ` + strings.Join(labels, ", ") + ` FROM ` + table + ` WHERE ` + where +
		` AND seq > $` + strconv.Itoa(len(args)) + ` ORDER BY seq LIMIT ` + strconv.Itoa(tailBatch)
	rows, err := s.cfg.DB.QueryContext(ctx, sqlq, args...)
	if err != nil {
		return nil, seq, err
	}
	defer rows.Close()
	var out []Entry
	n := 0
	for rows.Next() {
		e := Entry{Labels: make(map[string]string, len(labels)+1)}
		vals := make([]string, len(labels))
		dest := []any{&e.Seq, &e.TS, &e.Line}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, seq, err
		}
		n++
		seq = e.Seq
		for i, l := range labels {
			e.Labels[l] = vals[i]
		}
		if q.Stream == StreamAudit {
			e.Labels[labelStream] = StreamAudit
		}
		if q.match(&e) {
			out = append(out, e)
		}
	}
	return out, seq, rows.Err()
}
