package cpclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

func TestSessionActivity(t *testing.T) {
	c, reqs := recorder(t, 204, "", nil)
	c.SetCredentials("node-1", "nsk-0123456789abcdefghijklmnopqrs")
	a := nodeproto.SessionActivity{TCP: &nodeproto.TCPActivity{Phase: nodeproto.PhaseEnded, BytesIn: 3, TerminatedBy: nodeproto.TerminatedClient}}
	if err := c.SessionActivity(context.Background(), "node-1", "sess/1", a); err != nil {
		t.Fatal(err)
	}
	got := reqs()
	if len(got) != 1 || got[0].method != http.MethodPost || got[0].path != "/api/v1/nodes/node-1/sessions/sess%2F1" {
		t.Fatalf("requests %+v", got)
	}
	if got[0].header.Get("Authorization") != "Bearer nsk-0123456789abcdefghijklmnopqrs" || got[0].header.Get("Content-Type") != nodeproto.ContentTypeJSON {
		t.Errorf("headers %v", got[0].header)
	}
	var back nodeproto.SessionActivity
	if err := json.Unmarshal([]byte(got[0].body), &back); err != nil || back.TCP == nil || back.TCP.BytesIn != 3 {
		t.Errorf("body %s", got[0].body)
	}
	if err := c.SessionActivity(context.Background(), "node-1", "s", nodeproto.SessionActivity{}); err == nil {
		t.Error("an empty activity was sent")
	}
}

func TestSessionRecordingHeadersAndRetry(t *testing.T) {
	var calls atomic.Int32
	type got struct {
		offset, final, ctype, body string
	}
	seenc := make(chan got, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/nodes/n1/sessions/s1/recording" {
			t.Errorf("path %s", r.URL.Path)
		}
		if calls.Add(1) == 1 {
			w.Header().Set(nodeproto.HeaderRetryAfter, "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		buf := make([]byte, 64)
		n, _ := r.Body.Read(buf)
		seenc <- got{r.Header.Get(nodeproto.HeaderRecordingOffset), r.Header.Get(nodeproto.HeaderRecordingFinal), r.Header.Get("Content-Type"), string(buf[:n])}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Options{Server: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	c.SetCredentials("n1", "nsk-0123456789abcdefghijklmnopqrs")
	if err := c.SessionRecording(context.Background(), "n1", "s1", 42, []byte("[1,\"o\",\"x\"]\n"), true); err != nil {
		t.Fatal(err)
	}
	g := <-seenc
	if calls.Load() != 2 || g.offset != "42" || g.final != "1" || g.ctype != "application/octet-stream" || g.body != "[1,\"o\",\"x\"]\n" {
		t.Errorf("after %d calls: %+v", calls.Load(), g)
	}
	if err := c.SessionRecording(context.Background(), "n1", "s1", 0, make([]byte, nodeproto.MaxRecordingChunk+1), false); err == nil {
		t.Error("an oversized chunk was sent")
	}
}
