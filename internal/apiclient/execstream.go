package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// maxEventLine bounds one line of an execution progress stream (a target
// event carries its capped stdout and stderr).
const maxEventLine = 1 << 20

// Event types of StreamExecution.
const (
	EventTarget    = "target"    // a target's status changed: Target is set
	EventExecution = "execution" // the aggregate status changed: Execution is set (without targets)
)

// ExecutionEvent is one event of an execution's progress stream.
type ExecutionEvent struct {
	Type      string
	ID        string // the SSE id, when the server sent one
	Target    *ExecutionTarget
	Execution *Execution
}

// ExecutionStream reads the server-sent events of GET
// …/executions/{execution_id}/events. It is not safe for concurrent use.
// Close it when done.
type ExecutionStream struct{ *sseReader }

// StreamExecution opens the progress stream of an execution: one target
// event per target status change, an execution event when the aggregate
// status changes; the server ends it once every target is final. The
// stream is bounded by ctx only, not by the client timeout.
func (c *Client) StreamExecution(ctx context.Context, projectID, executionID string) (*ExecutionStream, error) {
	p, err := executionPath(projectID, executionID, "/events")
	if err != nil {
		return nil, err
	}
	resp, err := c.send(ctx, request{method: http.MethodGet, path: p, accept: "text/event-stream, " + mediaProblem})
	if err != nil {
		return nil, err
	}
	return NewExecutionStream(resp.Body), nil
}

// NewExecutionStream reads execution events as server-sent events from r.
func NewExecutionStream(r io.ReadCloser) *ExecutionStream {
	return &ExecutionStream{newSSEReader(r, maxEventLine, "execution stream")}
}

// Next returns the next target or execution event, or io.EOF once the
// server ended the stream. Comments and events of other types are
// skipped; an event whose data does not decode is an error.
func (s *ExecutionStream) Next() (ExecutionEvent, error) {
	for {
		f, err := s.next()
		if err != nil {
			return ExecutionEvent{}, err
		}
		out, ok, err := decodeEvent(ExecutionEvent{Type: f.event, ID: f.id}, f.data)
		if err != nil {
			return out, s.fail(err)
		}
		if ok {
			return out, nil
		}
	}
}

// decodeEvent decodes a dispatched event; ok is false for one to skip.
func decodeEvent(ev ExecutionEvent, data []byte) (ExecutionEvent, bool, error) {
	var dst any
	switch ev.Type {
	case EventTarget:
		ev.Target = &ExecutionTarget{}
		dst = ev.Target
	case EventExecution:
		ev.Execution = &Execution{}
		dst = ev.Execution
	default:
		return ev, false, nil
	}
	if err := json.Unmarshal(data, dst); err != nil {
		return ev, false, fmt.Errorf("apiclient: execution stream: %s event: %w", ev.Type, err)
	}
	return ev, true, nil
}
