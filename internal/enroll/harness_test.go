package enroll_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/app"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/config"
	"github.com/plexsphere/plexsphere/internal/oidc/oidctest"
)

// env is a running control plane whose log (debug level) is captured.
type env struct {
	*apptest.Env
	logs *oidctest.SyncBuffer
	// handler is the control plane's root handler (Handler builds it once).
	handler http.Handler
}

// start assembles and serves a control plane on b like apptest.Start, but
// keeps the slog output so tests can grep it for secrets.
func start(t *testing.T, b apptest.Backend) *env {
	t.Helper()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = apptest.DatabaseURL(t, b)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &oidctest.SyncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	srv, err := app.Open(ctx, cfg, log)
	if err != nil {
		t.Fatalf("open control plane: %v", err)
	}
	tok, err := srv.Bootstrap(ctx)
	if err != nil || tok == "" {
		t.Fatalf("bootstrap: %v", err)
	}
	handler := srv.Handler()
	hs := httptest.NewServer(handler)
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return &env{Env: &apptest.Env{Server: srv, URL: hs.URL, Token: tok, DataDir: cfg.DataDir, Config: cfg}, logs: logs,
		handler: handler}
}

// raw sends one HTTP request with exact headers and body and returns the
// response with its body read.
func (e *env) raw(t *testing.T, method, path string, headers map[string]string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		req.Body = http.NoBody
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

// agentHeaders are the headers the existing agent sends with a JSON body
// (node-protocol.md §2.2).
func agentHeaders(bearer string) map[string]string {
	h := map[string]string{"Content-Type": "application/json", "Accept": "application/json",
		"Accept-Encoding": "gzip", "User-Agent": "plexd/dev"}
	if bearer != "" {
		h["Authorization"] = "Bearer " + bearer
	}
	return h
}

// registerAgent plays the existing agent's registration request.
func (e *env) registerAgent(t *testing.T, token, publicKey, hostname string) (*http.Response, []byte) {
	t.Helper()
	body := `{"token":` + quote(token) + `,"public_key":` + quote(publicKey) + `,"hostname":` + quote(hostname) + `}`
	return e.raw(t, "POST", "/v1/register", agentHeaders(token), []byte(body))
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// newKey returns a random WireGuard public key (Key32).
func newKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// wantProblem asserts a problem+json body with the given status and code.
func wantProblem(t *testing.T, status int, raw []byte, wantStatus int, wantCode string) {
	t.Helper()
	var p apiv1.Problem
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatalf("not a problem body (%d): %s", status, raw)
	}
	if status != wantStatus || p.Code != wantCode || p.Status != wantStatus {
		t.Fatalf("got %d %q (%s), want %d %q", status, p.Code, raw, wantStatus, wantCode)
	}
	if p.Type != "https://plexsphere.com/errors/"+strings.ReplaceAll(wantCode, "_", "-") || p.Title == "" {
		t.Fatalf("incomplete problem: %s", raw)
	}
}

// fixture is a Domain with a Project.
type fixture struct {
	domain  apiv1.Domain
	project apiv1.Project
}

func (e *env) fixture(t *testing.T, slug, meshCIDR, subRange string) fixture {
	t.Helper()
	var f fixture
	if st, raw := e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: slug, Slug: slug, MeshCIDR: meshCIDR}, &f.domain); st != 201 {
		t.Fatalf("create domain: %d %s", st, raw)
	}
	e.AllowAll(t, f.domain.ID) // a full mesh without policies
	if st, raw := e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: f.domain.ID, Name: slug, Slug: slug,
		SubRangeCIDR: subRange}, &f.project); st != 201 {
		t.Fatalf("create project: %d %s", st, raw)
	}
	return f
}

// issue mints a bootstrap token in the fixture's project.
func (e *env) issue(t *testing.T, projectID string, body apiv1.IssueBootstrapToken) apiv1.IssuedBootstrapToken {
	t.Helper()
	var out apiv1.IssuedBootstrapToken
	if st, raw := e.Do(t, "POST", "/v1/projects/"+projectID+"/bootstrap-tokens", body, &out); st != 201 {
		t.Fatalf("issue token: %d %s", st, raw)
	}
	return out
}

// registered is the agent-form view of a registration answer.
type registered struct {
	NodeID           string            `json:"node_id"`
	MeshIP           string            `json:"mesh_ip"`
	SigningPublicKey string            `json:"signing_public_key"`
	SigningKeyID     string            `json:"signing_key_id"`
	NodeSecretKey    string            `json:"node_secret_key"`
	NSK              string            `json:"nsk"`
	Peers            []json.RawMessage `json:"peers"`
	PeerSnapshot     []json.RawMessage `json:"peer_snapshot"`
	DomainMeshCIDR   string            `json:"domain_mesh_cidr"`
}

func decodeRegistered(t *testing.T, raw []byte) registered {
	t.Helper()
	var r registered
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("decode registration: %v: %s", err, raw)
	}
	return r
}
