package cpclient

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

type seen struct {
	method, path, body string
	header             http.Header
}

// recorder answers every request with status/body and records it.
func recorder(t *testing.T, status int, body string, hdr map[string]string) (*Client, func() []seen) {
	var mu sync.Mutex
	var reqs []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rd io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				t.Errorf("bad gzip body: %v", err)
				return
			}
			rd = zr
		}
		raw, _ := io.ReadAll(rd)
		mu.Lock()
		reqs = append(reqs, seen{r.Method, r.URL.EscapedPath(), string(raw), r.Header.Clone()})
		mu.Unlock()
		for k, v := range hdr {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Options{Server: srv.URL + "/api/"})
	if err != nil {
		t.Fatal(err)
	}
	return c, func() []seen { mu.Lock(); defer mu.Unlock(); return append([]seen(nil), reqs...) }
}

func TestRequestsCarryTheAgentHeaders(t *testing.T) {
	c, reqs := recorder(t, 200, `{"reconcile":true,"rotate_keys":false}`, map[string]string{nodeproto.HeaderPlexsphereProtocol: "2"})
	c.SetCredentials("node/1", "nsk-0123456789abcdefghijklmnopqrs")
	resp, err := c.Heartbeat(context.Background(), nodeproto.Heartbeat{NodeID: "node/1"})
	if err != nil || !resp.Reconcile {
		t.Fatalf("heartbeat: %+v %v", resp, err)
	}
	r := reqs()[0]
	if r.method != "POST" || r.path != "/api/v1/nodes/node%2F1/heartbeat" {
		t.Errorf("request %s %s: want the base prefix kept and the node id escaped", r.method, r.path)
	}
	for k, want := range map[string]string{
		"Authorization": "Bearer nsk-0123456789abcdefghijklmnopqrs", "Content-Type": "application/json",
		"Accept": "application/json", "X-Plexd-Protocol": "2", "User-Agent": "plexd/dev", "Accept-Encoding": "gzip",
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if c.Level() != 2 {
		t.Errorf("negotiated level %d, want 2", c.Level())
	}
}

func TestLevelFallsBackToOne(t *testing.T) {
	for _, h := range []string{"", "abc", "-2", "1"} {
		c, _ := recorder(t, 204, "", map[string]string{nodeproto.HeaderPlexsphereProtocol: h})
		c.SetCredentials("n", "x")
		c.negotiated.Store(2)
		if err := c.Drift(context.Background(), nodeproto.DriftReport{}); err != nil {
			t.Fatal(err)
		}
		if c.Level() != 1 {
			t.Errorf("header %q: level %d, want 1 (N5)", h, c.Level())
		}
	}
}

func TestLargeBodiesAreGzipped(t *testing.T) {
	c, reqs := recorder(t, 204, "", nil)
	c.SetCredentials("n", "x")
	small := nodeproto.DriftReport{Timestamp: time.Unix(0, 0).UTC()}
	big := nodeproto.DriftReport{Timestamp: time.Unix(0, 0).UTC()}
	for range 50 {
		big.Corrections = append(big.Corrections, nodeproto.DriftCorrection{Type: "peer_added", Detail: "peer 0123456789"})
	}
	c.Drift(context.Background(), small)
	c.Drift(context.Background(), big)
	rs := reqs()
	if rs[0].header.Get("Content-Encoding") != "" {
		t.Error("a small body was gzipped")
	}
	if rs[1].header.Get("Content-Encoding") != "gzip" {
		t.Error("a body over 1 KiB was not gzipped (C1)")
	}
	var got nodeproto.DriftReport
	if err := json.Unmarshal([]byte(rs[1].body), &got); err != nil || len(got.Corrections) != 50 {
		t.Errorf("gzipped body does not round-trip: %v", err)
	}
}

func TestDeregisterSendsNoBody(t *testing.T) {
	c, reqs := recorder(t, 204, "", nil)
	c.SetCredentials("n", "x")
	if err := c.Deregister(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := reqs()[0]
	if r.body != "" || r.header.Get("Content-Type") != "" {
		t.Errorf("deregister sent body %q Content-Type %q", r.body, r.header.Get("Content-Type"))
	}
}

func TestRegisterSendsTokenTwice(t *testing.T) {
	c, reqs := recorder(t, 201, `{"node_id":"n1","mesh_ip":"10.100.0.2","signing_public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=","node_secret_key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYX","peers":[]}`, nil)
	resp, err := c.Register(context.Background(), "psb_tok", nodeproto.RegisterRequest{PublicKey: "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", Hostname: "h"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.NodeID != "n1" || resp.NodeSecretKey == "" {
		t.Errorf("response %+v", resp)
	}
	r := reqs()[0]
	var body map[string]any
	json.Unmarshal([]byte(r.body), &body)
	if r.header.Get("Authorization") != "Bearer psb_tok" || body["token"] != "psb_tok" || r.path != "/api/v1/register" {
		t.Errorf("register request %+v", r)
	}
}

func TestInvalidRegisterResponseIsAnError(t *testing.T) {
	c, _ := recorder(t, 201, `{"node_id":"n1","mesh_ip":"10.100.0.2/32","signing_public_key":"","node_secret_key":"short","peers":[]}`, nil)
	if _, err := c.Register(context.Background(), "psb_tok", nodeproto.RegisterRequest{PublicKey: "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="}); err == nil {
		t.Fatal("a response with a malformed key and NSK was accepted")
	}
}

func TestStatusErrors(t *testing.T) {
	c, _ := recorder(t, 503, `{"type":"x","title":"x","status":503,"code":"unavailable"}`, map[string]string{"Retry-After": "7"})
	c.SetCredentials("n", "x")
	_, err := c.State(context.Background())
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 503 || se.RetryAfter != 7*time.Second || se.Code != "unavailable" {
		t.Fatalf("error %#v", err)
	}
	c, _ = recorder(t, 429, `not json`, map[string]string{"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"})
	c.SetCredentials("n", "x")
	_, err = c.State(context.Background())
	if !errors.As(err, &se) || se.RetryAfter != 0 {
		t.Fatalf("an HTTP-date Retry-After must be ignored (R3): %#v", err)
	}
	if !IsStatus(err, 429) || IsStatus(err, 401) {
		t.Error("IsStatus")
	}
}

func TestEventStreamRequest(t *testing.T) {
	c, reqs := recorder(t, 200, ": hi\n\n", map[string]string{"Content-Type": nodeproto.ContentTypeEventStream})
	c.SetCredentials("n", "x")
	body, err := c.OpenEvents(context.Background(), "17")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(body)
	body.Close()
	if string(raw) != ": hi\n\n" {
		t.Errorf("body %q", raw)
	}
	r := reqs()[0]
	for k, want := range map[string]string{"Accept": "text/event-stream", "Cache-Control": "no-cache", "Last-Event-ID": "17",
		"Accept-Encoding": "", "X-Plexd-Protocol": "2"} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if _, err := New(Options{Server: "ftp://x"}); err == nil || !strings.Contains(err.Error(), "Server") {
		t.Errorf("New with a bad URL: %v", err)
	}
}
