package cpclient

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

func TestActionCalls(t *testing.T) {
	c, reqs := recorder(t, 204, "", nil)
	c.SetCredentials("node-1", "nsk-0123456789abcdefghijklmnopqrs")
	ctx := context.Background()
	ack := nodeproto.ExecutionAck{ExecutionID: "e/1", Status: nodeproto.AckAccepted}
	res := nodeproto.ExecutionResult{ExecutionID: "e/1", Status: nodeproto.ResultError, Stdout: strings.Repeat("x", 2000),
		Error: "hook checksum mismatch", FinishedAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	caps := nodeproto.Capabilities{BuiltinActions: []nodeproto.BuiltinAction{{Name: "ping", Parameters: []nodeproto.ActionParam{}}}}
	v := nodeproto.IntegrityViolation{Type: nodeproto.IntegrityBinary, Path: "/usr/bin/plexd"}
	for name, call := range map[string]func() error{
		"ack":       func() error { return c.ExecutionAck(ctx, "node-1", "e/1", ack) },
		"result":    func() error { return c.ExecutionResult(ctx, "node-1", "e/1", res) },
		"caps":      func() error { return c.PutCapabilities(ctx, "node-1", caps) },
		"violation": func() error { return c.IntegrityViolation(ctx, "node-1", v) },
	} {
		if err := call(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	want := map[string]string{
		"POST /api/v1/nodes/node-1/executions/e%2F1/ack":    `"status":"accepted"`,
		"POST /api/v1/nodes/node-1/executions/e%2F1/result": `"error":"hook checksum mismatch"`,
		"PUT /api/v1/nodes/node-1/capabilities":             `"builtin_actions":[{"name":"ping"`,
		"POST /api/v1/nodes/node-1/integrity/violations":    `"type":"binary"`,
	}
	got := reqs()
	if len(got) != len(want) {
		t.Fatalf("%d requests", len(got))
	}
	for _, r := range got {
		frag, ok := want[r.method+" "+r.path]
		if !ok || !strings.Contains(r.body, frag) {
			t.Errorf("%s %s: %s", r.method, r.path, r.body)
		}
		if r.header.Get("Authorization") != "Bearer nsk-0123456789abcdefghijklmnopqrs" {
			t.Errorf("%s: no NSK", r.path)
		}
	}
	var back nodeproto.ExecutionResult
	for _, r := range got {
		if strings.HasSuffix(r.path, "/result") {
			json.Unmarshal([]byte(r.body), &back)
		}
	}
	if back.Stdout != res.Stdout {
		t.Error("the gzipped result did not round-trip")
	}
}

// TestAckRetriesButResultDoesNot: the ack is retried on 503; the result
// is one attempt (the executor's queue retries it).
func TestAckRetriesButResultDoesNot(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set(nodeproto.HeaderRetryAfter, "0")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Options{Server: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	c.SetCredentials("n1", "nsk-0123456789abcdefghijklmnopqrs")
	err = c.ExecutionResult(context.Background(), "n1", "e1", nodeproto.ExecutionResult{ExecutionID: "e1"})
	if calls.Load() != 1 || Permanent(err) || !IsStatus(err, 503) {
		t.Errorf("result: %d calls, %v", calls.Load(), err)
	}
	calls.Store(0)
	c.ExecutionAck(context.Background(), "n1", "e1", nodeproto.ExecutionAck{ExecutionID: "e1"})
	if calls.Load() != sessionAttempts {
		t.Errorf("ack: %d calls", calls.Load())
	}
}

func TestPermanent(t *testing.T) {
	for err, want := range map[error]bool{
		&StatusError{Status: 409}:      true,
		&StatusError{Status: 401}:      true,
		&StatusError{Status: 404}:      true,
		&StatusError{Status: 429}:      false,
		&StatusError{Status: 408}:      false,
		&StatusError{Status: 502}:      false,
		errors.New("connection reset"): false,
		ErrNoCredentials:               true,
	} {
		if Permanent(err) != want {
			t.Errorf("Permanent(%v) = %v", err, !want)
		}
	}
	if RetryAfter(&StatusError{Status: 429, RetryAfter: 3 * time.Second}) != 3*time.Second || RetryAfter(errors.New("x")) != 0 {
		t.Error("RetryAfter")
	}
}
