package apiclient

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestDomainEventStreamParses(t *testing.T) {
	raw := ": connected\n\nid: 7\nevent: node_registered\ndata: {\"node_id\":\"n1\"}\n\n: keepalive\n\n" +
		"id: 9\nevent: audit_appended\ndata: {\"seq\":3}\n\n"
	s := NewDomainEventStream(io.NopCloser(strings.NewReader(raw)))
	ev, err := s.Next()
	if err != nil || ev.ID != 7 || ev.Type != "node_registered" || string(ev.Data) != `{"node_id":"n1"}` {
		t.Fatalf("first: %+v %v", ev, err)
	}
	ev, err = s.Next()
	if err != nil || ev.ID != 9 || ev.Type != "audit_appended" {
		t.Fatalf("second: %+v %v", ev, err)
	}
	if _, err := s.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("end: %v", err)
	}
	bad := NewDomainEventStream(io.NopCloser(strings.NewReader("id: x\nevent: node_deleted\ndata: {}\n\n")))
	if _, err := bad.Next(); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("a malformed id must fail: %v", err)
	}
}

// FuzzDomainEventStream: whatever the server sends, Next returns events
// with valid JSON data and a type, or an error, and terminates.
func FuzzDomainEventStream(f *testing.F) {
	f.Add("id: 1\nevent: node_registered\ndata: {}\n\n")
	f.Add(": c\n\nid: 2\nevent: audit_appended\ndata: {\"seq\":\ndata: 1}\n\n")
	f.Add("event: x\n\nid: -3\nevent: y\ndata: null\n\n")
	f.Fuzz(func(t *testing.T, raw string) {
		s := NewDomainEventStream(io.NopCloser(strings.NewReader(raw)))
		for range len(raw) + 1 {
			ev, err := s.Next()
			if err != nil {
				return
			}
			if ev.Type == "" || len(ev.Data) == 0 {
				t.Fatalf("event without type or data: %+v", ev)
			}
		}
		t.Fatal("Next did not end")
	})
}
