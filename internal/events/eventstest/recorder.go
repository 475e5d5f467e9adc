// Package eventstest records the events a bounded context asks the event
// plane to append, for tests that check what each node would receive
// without running the event plane.
package eventstest

import (
	"context"
	"database/sql"
	"encoding/json"
	"sync"
)

// Sent is one recorded event: its type and its payload as JSON.
type Sent struct {
	Type    string
	Payload json.RawMessage
}

// Recorder is an emitter (Emit, EmitEach) keeping every event it was asked
// to append, by node id, in order. The zero value is ready to use.
type Recorder struct {
	mu     sync.Mutex
	events map[string][]Sent
}

func (r *Recorder) add(id, typ string, payload any) error {
	raw, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.events == nil {
		r.events = map[string][]Sent{}
	}
	r.events[id] = append(r.events[id], Sent{typ, raw})
	return nil
}

// Emit records payload for every node of ids.
func (r *Recorder) Emit(_ context.Context, _ *sql.Tx, ids []string, typ string, payload any) error {
	for _, id := range ids {
		if err := r.add(id, typ, payload); err != nil {
			return err
		}
	}
	return nil
}

// EmitEach records each node's own payload.
func (r *Recorder) EmitEach(_ context.Context, _ *sql.Tx, typ string, payloads map[string]any) error {
	for id, p := range payloads {
		if err := r.add(id, typ, p); err != nil {
			return err
		}
	}
	return nil
}

// Of returns what was recorded for one node.
func (r *Recorder) Of(id string) []Sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Sent(nil), r.events[id]...)
}

// Take returns and forgets everything recorded.
func (r *Recorder) Take() map[string][]Sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	if out == nil {
		out = map[string][]Sent{}
	}
	return out
}
