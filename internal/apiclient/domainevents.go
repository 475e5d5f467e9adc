package apiclient

import (
	"bufio"
	"bytes"
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
type DomainEventStream struct {
	body io.ReadCloser
	sc   *bufio.Scanner
	err  error
}

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
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 16<<10), maxDomainEventLine)
	return &DomainEventStream{body: r, sc: sc}
}

// Next returns the next event, or io.EOF once the server ended the stream.
// Comments are skipped; an event whose id or data does not parse is an
// error.
func (s *DomainEventStream) Next() (DomainEvent, error) {
	if s.err != nil {
		return DomainEvent{}, s.err
	}
	var (
		ev   DomainEvent
		id   string
		data bytes.Buffer
	)
	for s.sc.Scan() {
		line := s.sc.Bytes()
		if len(line) == 0 { // dispatch
			if ev.Type == "" {
				id, data = "", bytes.Buffer{}
				continue
			}
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil || !json.Valid(data.Bytes()) {
				s.err = fmt.Errorf("apiclient: domain event stream: malformed %s event (id %q)", ev.Type, id)
				return DomainEvent{}, s.err
			}
			ev.ID, ev.Data = n, json.RawMessage(bytes.Clone(data.Bytes()))
			return ev, nil
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(name) {
		case "event":
			ev.Type = string(value)
		case "id":
			id = string(value)
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.Write(value)
		}
	}
	s.err = io.EOF
	if err := s.sc.Err(); err != nil {
		s.err = fmt.Errorf("apiclient: domain event stream: %w", err)
	}
	return DomainEvent{}, s.err
}

// Close releases the connection.
func (s *DomainEventStream) Close() error { return s.body.Close() }
