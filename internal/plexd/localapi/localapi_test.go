package localapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
)

type fakeNode struct{}

func (fakeNode) View() agent.View {
	return agent.View{
		Metadata: map[string]string{"team": "blue"},
		Data: []nodeproto.DataEntry{{Key: "cfg", ContentType: "application/json", Payload: json.RawMessage(`{"a":1}`),
			Version: 3, UpdatedAt: time.Unix(1, 0).UTC()}},
		SecretRefs: []nodeproto.SecretRef{{Key: "db", Version: 2}},
	}
}

func (fakeNode) Status() agent.Status {
	return agent.Status{NodeID: "node-1", MeshIP: "10.100.0.2", Backend: "memory", Connection: "connected", Peers: []agent.PeerStatus{}}
}

type fakeSecrets struct{}

func (fakeSecrets) OpenSecret(_ context.Context, key string) ([]byte, int64, error) {
	switch key {
	case "db":
		return []byte("s3cret-value"), 2, nil
	case "gone":
		return nil, 0, &cpclient.StatusError{Status: http.StatusNotFound}
	case "broken":
		return nil, 0, nodeproto.ErrSecretOpen
	case "sealed-elsewhere":
		return nil, 0, fmt.Errorf("%w: sealed to key 0123456789abcdef", nodeproto.ErrSealedSecret)
	}
	return nil, 0, errors.New("control plane down")
}

type chanSink chan nodeproto.ReportSync

func (c chanSink) Report(_ context.Context, r nodeproto.ReportSync) error { c <- r; return nil }

// serve starts the API on a real Unix socket and returns a client for it.
func serve(t *testing.T, allow Authorizer) (*http.Client, string, chanSink) {
	return serveOpts(t, Options{MaySeeSecrets: allow})
}

// serveOpts is serve with more options; Node, Secrets and Reports are
// filled in.
func serveOpts(t *testing.T, opts Options) (*http.Client, string, chanSink) {
	t.Helper()
	dir, err := os.MkdirTemp("", "plexd-api")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "run", "api.sock")
	sink := make(chanSink, 16)
	reports := NewReports(sink, nil, nil, 10*time.Millisecond)
	opts.Node, opts.Secrets, opts.Reports = fakeNode{}, fakeSecrets{}, reports
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(ctx, sock) }()
	go reports.Run(ctx)
	t.Cleanup(func() { cancel(); <-done })
	for range 200 {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	return hc, sock, sink
}

func call(t *testing.T, hc *http.Client, method, path, body string, hdr map[string]string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, "http://plexd"+path, rd)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(raw))
}

func TestReadRoutesOverUnixSocket(t *testing.T) {
	hc, sock, _ := serve(t, nil)
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != SocketMode {
		t.Errorf("socket mode %v, want %v", fi.Mode().Perm(), SocketMode)
	}
	for _, c := range []struct {
		path   string
		status int
		body   string
	}{
		{"/v1/state", 200, `{"data_keys":[{"key":"cfg","version":3,"content_type":"application/json"}],"metadata":{"team":"blue"},"report_keys":[],"secret_keys":[{"key":"db","version":2}]}`},
		{"/v1/state/metadata", 200, `{"team":"blue"}`},
		{"/v1/state/metadata/team", 200, `{"key":"team","value":"blue"}`},
		{"/v1/state/metadata/nope", 404, `{"error":"metadata key not found"}`},
		{"/v1/state/data", 200, `[{"key":"cfg","version":3,"content_type":"application/json"}]`},
		{"/v1/state/data/cfg", 200, `{"key":"cfg","content_type":"application/json","payload":{"a":1},"version":3,"updated_at":"1970-01-01T00:00:01Z"}`},
		{"/v1/state/secrets", 200, `[{"key":"db","version":2}]`},
		{"/v1/state/secrets/db", 200, `{"key":"db","value":"s3cret-value","version":2}`},
		{"/v1/state/secrets/gone", 404, `{"error":"secret not found"}`},
		{"/v1/state/secrets/other", 503, `{"error":"control plane unavailable"}`},
		{"/v1/state/secrets/broken", 500, `{"error":"secret could not be decrypted"}`},
		{"/v1/state/secrets/sealed-elsewhere", 500, `{"error":"secret could not be decrypted"}`},
		{"/v1/agent/status", 200, ""},
		{"/v1/nothing", 404, `{"error":"not found"}`},
	} {
		status, body := call(t, hc, "GET", c.path, "", nil)
		if status != c.status || (c.body != "" && body != c.body) {
			t.Errorf("GET %s = %d %s\n want %d %s", c.path, status, body, c.status, c.body)
		}
	}
	_, body := call(t, hc, "GET", "/v1/agent/status", "", nil)
	var st agent.Status
	if json.Unmarshal([]byte(body), &st) != nil || st.NodeID != "node-1" || st.Connection != "connected" {
		t.Errorf("status %s", body)
	}
}

// TestSecretsNeedPeerCredentials: the real SO_PEERCRED check admits this
// process (plexd's own user) and a refusing authorizer gets 403.
func TestSecretsNeedPeerCredentials(t *testing.T) {
	hc, _, _ := serve(t, func(net.Conn) bool { return false })
	if status, _ := call(t, hc, "GET", "/v1/state/secrets/db", "", nil); status != http.StatusForbidden {
		t.Errorf("refused caller got %d, want 403", status)
	}
	if status, _ := call(t, hc, "GET", "/v1/state/secrets", "", nil); status != http.StatusOK {
		t.Errorf("the secret index is not a secret: got %d", status)
	}
	hc, _, _ = serve(t, nil) // the default PeerCredAuthorizer
	if status, _ := call(t, hc, "GET", "/v1/state/secrets/db", "", nil); status != http.StatusOK {
		t.Errorf("own user got %d, want 200", status)
	}
	hc, _, _ = serveOpts(t, Options{SecretsGroup: "vault-readers", MaySeeSecrets: func(net.Conn) bool { return false }})
	if status, body := call(t, hc, "GET", "/v1/state/secrets/db", "", nil); status != http.StatusForbidden || !strings.Contains(body, "vault-readers") {
		t.Errorf("refused caller with a configured group: %d %s, want 403 naming the group", status, body)
	}
}

func TestReportsLifecycleAndPush(t *testing.T) {
	hc, _, sink := serve(t, nil)
	status, body := call(t, hc, "PUT", "/v1/state/report/inventory", `{"content_type":"application/json","payload":{"cpus":4}}`, nil)
	if status != 200 || !strings.Contains(body, `"version":1`) || !strings.Contains(body, `"payload":{"cpus":4}`) {
		t.Fatalf("PUT = %d %s", status, body)
	}
	if status, _ := call(t, hc, "PUT", "/v1/state/report/inventory", `{"content_type":"application/json","payload":1}`, map[string]string{"If-Match": "0"}); status != http.StatusConflict {
		t.Errorf("stale If-Match got %d, want 409", status)
	}
	status, body = call(t, hc, "PUT", "/v1/state/report/inventory", `{"content_type":"application/json","payload":2}`, map[string]string{"If-Match": "1"})
	if status != 200 || !strings.Contains(body, `"version":2`) {
		t.Errorf("matching If-Match = %d %s", status, body)
	}
	for _, bad := range []struct{ path, body string }{
		{"/v1/state/report/a%5Cb", `{"content_type":"x","payload":1}`},
		{"/v1/state/report/k", `{"payload":1}`},
		{"/v1/state/report/k", `not json`},
	} {
		if status, _ := call(t, hc, "PUT", bad.path, bad.body, nil); status != http.StatusBadRequest {
			t.Errorf("PUT %s %s = %d, want 400", bad.path, bad.body, status)
		}
	}
	big := `{"content_type":"x","payload":"` + strings.Repeat("a", maxReportBody) + `"}`
	if status, _ := call(t, hc, "PUT", "/v1/state/report/big", big, nil); status != http.StatusRequestEntityTooLarge && status != http.StatusBadRequest {
		t.Errorf("oversized PUT = %d", status)
	}
	if _, body := call(t, hc, "GET", "/v1/state/report", "", nil); body != `[{"key":"inventory","version":2}]` {
		t.Errorf("report list %s", body)
	}
	batch := waitBatch(t, sink, func(b nodeproto.ReportSync) bool { return len(b.Entries) > 0 && b.Entries[0].Version == 2 })
	if batch.Entries[0].Key != "inventory" {
		t.Errorf("pushed %+v", batch)
	}
	if status, _ := call(t, hc, "DELETE", "/v1/state/report/inventory", "", nil); status != http.StatusNoContent {
		t.Errorf("DELETE = %d", status)
	}
	waitBatch(t, sink, func(b nodeproto.ReportSync) bool { return len(b.Deleted) == 1 && b.Deleted[0] == "inventory" })
	if status, _ := call(t, hc, "GET", "/v1/state/report/inventory", "", nil); status != http.StatusNotFound {
		t.Errorf("deleted entry GET = %d", status)
	}
}

func waitBatch(t *testing.T, sink chanSink, ok func(nodeproto.ReportSync) bool) nodeproto.ReportSync {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case b := <-sink:
			if ok(b) {
				return b
			}
		case <-deadline:
			t.Fatal("report batch never pushed")
		}
	}
}

// failingSink fails n times, then records.
type failingSink struct {
	fails int
	got   chan nodeproto.ReportSync
}

func (f *failingSink) Report(_ context.Context, r nodeproto.ReportSync) error {
	if f.fails > 0 {
		f.fails--
		return errors.New("503")
	}
	f.got <- r
	return nil
}

func TestReportPushRetriesUntilAccepted(t *testing.T) {
	sink := &failingSink{fails: 3, got: make(chan nodeproto.ReportSync, 1)}
	r := NewReports(sink, nil, nil, time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	if _, err := r.Put("k", "text/plain", json.RawMessage(`"v"`), -1); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-sink.got:
		if len(b.Entries) != 1 || b.Entries[0].Key != "k" {
			t.Errorf("batch %+v", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a failed batch was never resent")
	}
}

func TestStaleSocketReplacedButNotOtherFiles(t *testing.T) {
	dir, _ := os.MkdirTemp("", "plexd-api")
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "f")
	os.WriteFile(p, []byte("x"), 0o600)
	if _, err := Listen(p); err == nil {
		t.Fatal("Listen replaced a regular file")
	}
	sock := filepath.Join(dir, "s")
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	ln, err = Listen(sock)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	ln.Close()
}

// TestTCPNeedsTheBearerToken serves the API on loopback TCP: requests
// without the token get 401, with it the routes and secret values answer.
func TestTCPNeedsTheBearerToken(t *testing.T) {
	reports := NewReports(make(chanSink, 4), nil, nil, time.Hour)
	s, err := New(Options{Node: fakeNode{}, Secrets: fakeSecrets{}, Reports: reports, MaySeeSecrets: func(net.Conn) bool { return false }})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ServeTCP(context.Background(), "0.0.0.0:0", strings.Repeat("t", 32)); err == nil {
		t.Fatal("a non-loopback address was accepted")
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	token := strings.Repeat("k", 32)
	go func() { done <- s.ServeTCP(ctx, addr, token) }()
	t.Cleanup(func() { cancel(); <-done })
	get := func(path, bearer string) (int, string) {
		var resp *http.Response
		for range 100 {
			req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
			if bearer != "" {
				req.Header.Set("Authorization", "Bearer "+bearer)
			}
			if resp, err = http.DefaultClient.Do(req); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(raw))
	}
	if st, _ := get("/v1/state/metadata", ""); st != 401 {
		t.Errorf("no token: %d", st)
	}
	if st, _ := get("/v1/state/metadata", "wrong"); st != 401 {
		t.Errorf("wrong token: %d", st)
	}
	if st, body := get("/v1/state/metadata", token); st != 200 || body != `{"team":"blue"}` {
		t.Errorf("with token: %d %s", st, body)
	}
	if st, body := get("/v1/state/secrets/db", token); st != 200 || !strings.Contains(body, "s3cret-value") {
		t.Errorf("secret with token: %d %s", st, body)
	}
}
