package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxDomainEventLine bounds one line of the operator event stream (its
// events are summaries).
const maxDomainEventLine = 64 << 10

// DomainEvent is one event of a Domain's operator stream: Type is one of
// node_registered, node_deleted, node_reachability_changed,
// policy_revision_created, execution_updated, session_updated,
// audit_appended; Data its JSON summary.
type DomainEvent struct {
	ID   int64           `json:"id"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// DomainEventsOptions narrows and positions a Domain event stream.
type DomainEventsOptions struct {
	// Types delivers only these event types (none: all).
	Types []string
	// LastEventID resumes strictly after this sequence number; nil starts
	// at the live head.
	LastEventID *int64
}

// DomainEventStream reads GET /v1/domains/{domainId}/events. It is not safe
// for concurrent use. Close it when done.
type DomainEventStream struct{ *sseReader }

// StreamDomainEvents opens a Domain's operator event stream. The stream
// is bounded by ctx only, not by the client timeout.
func (c *Client) StreamDomainEvents(ctx context.Context, domainID string, opts DomainEventsOptions) (*DomainEventStream, error) {
	if err := requireID("domain id", domainID); err != nil {
		return nil, err
	}
	r := request{method: http.MethodGet, path: pathf("/v1/domains/", domainID, "/events"),
		accept: "text/event-stream, " + mediaProblem}
	if len(opts.Types) > 0 {
		r.query = url.Values{"types": {strings.Join(opts.Types, ",")}}
	}
	req, err := c.newRequest(ctx, r)
	if err != nil {
		return nil, err
	}
	if opts.LastEventID != nil {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(*opts.LastEventID, 10))
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("apiclient: %s %s: %w", r.method, r.path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, readError(resp, r.method, r.path)
	}
	return NewDomainEventStream(resp.Body), nil
}

// NewDomainEventStream reads operator events as server-sent events from r.
func NewDomainEventStream(r io.ReadCloser) *DomainEventStream {
	return &DomainEventStream{newSSEReader(r, maxDomainEventLine, "domain event stream")}
}

// Next returns the next event, or io.EOF once the server ended the stream.
// Comments are skipped; an event whose id or data does not parse is an
// error.
func (s *DomainEventStream) Next() (DomainEvent, error) {
	f, err := s.next()
	if err != nil {
		return DomainEvent{}, err
	}
	n, err := strconv.ParseInt(f.id, 10, 64)
	if err != nil || !json.Valid(f.data) {
		return DomainEvent{}, s.fail(fmt.Errorf("apiclient: domain event stream: malformed %s event (id %q)", f.event, f.id))
	}
	return DomainEvent{ID: n, Type: f.event, Data: json.RawMessage(f.data)}, nil
}
