// Package oidctest is test support for the OpenID Connect, OAuth and
// service-identity tests: the real development OpenID Provider
// (internal/devidp) wired to a whole control plane (internal/app,
// internal/apptest) whose logs are captured, plus a cookie-jar browser that
// stops at each redirect. It is imported only by _test.go files.
package oidctest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/app"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/config"
	"github.com/plexsphere/plexsphere/internal/devidp"
)

// SeedUsers are the users every test issuer knows.
var SeedUsers = []devidp.User{
	{ID: "alice", Name: "Alice Example", Email: "alice@example.test", Groups: []string{"ops", "dev team"}},
	{ID: "bob", Name: "Bob Example", Email: "bob@example.test"},
}

// ClientSecret is the secret of the issuers' "plexsphere" client, used by
// Bind unless the binding names its own.
const ClientSecret = "dev-client-secret-7f3a9c"

// swap is a handler that can be set after its server has an address.
type swap struct{ h atomic.Value }

func (s *swap) set(h http.Handler) { s.h.Store(h) }
func (s *swap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.h.Load().(http.Handler).ServeHTTP(w, r)
}

// SyncBuffer collects log output from concurrent handlers.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p under the lock.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Fixture is a real control plane (with allowed_origins set to its own
// origin unless told otherwise) and a helper for admin calls.
type Fixture struct {
	*apptest.Env
	// Logs holds the control plane's slog output at debug level.
	Logs *SyncBuffer
}

// Start opens a control plane on b, bootstraps it and serves it on
// loopback; allowOwnOrigin puts its own origin into allowed_origins. Its
// log output is captured in Fixture.Logs.
func Start(t *testing.T, b apptest.Backend, allowOwnOrigin bool) *Fixture {
	t.Helper()
	sw := &swap{}
	ts := httptest.NewUnstartedServer(sw)
	base := "http://" + ts.Listener.Addr().String()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = apptest.DatabaseURL(t, b)
	if allowOwnOrigin {
		cfg.AllowedOrigins = []string{base}
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &SyncBuffer{}
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
	sw.set(srv.Handler())
	ts.Start()
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	return &Fixture{Env: &apptest.Env{Server: srv, URL: base, Token: tok, DataDir: cfg.DataDir, Config: cfg}, Logs: logs}
}

// Issuer starts a development OpenID Provider on loopback whose client is
// registered with the fixture's callback.
func (f *Fixture) Issuer(t *testing.T, tweak func(*devidp.Config)) *devidp.Provider {
	t.Helper()
	return f.IssuerWith(t, tweak, nil)
}

// IssuerWith is Issuer with the provider's handler wrapped by wrap (nil:
// unwrapped), so that a test can watch what reaches the IdP or play a
// malicious one.
func (f *Fixture) IssuerWith(t *testing.T, tweak func(*devidp.Config), wrap func(http.Handler) http.Handler) *devidp.Provider {
	t.Helper()
	sw := &swap{}
	ts := httptest.NewServer(sw)
	t.Cleanup(ts.Close)
	cfg := devidp.Config{
		Issuer: ts.URL, Users: SeedUsers,
		Clients: []devidp.Client{{ID: "plexsphere", Secret: ClientSecret, RedirectURIs: []string{f.URL + "/v1/auth/callback"}}},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if tweak != nil {
		tweak(&cfg)
	}
	p, err := devidp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := p.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	sw.set(h)
	return p
}

// Domain creates a Domain and returns its id.
func (f *Fixture) Domain(t *testing.T, slug, cidr string) string {
	t.Helper()
	var d apiv1.Domain
	if st, raw := f.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: slug, Slug: slug, MeshCIDR: cidr}, &d); st != 201 {
		t.Fatalf("create domain: %d %s", st, raw)
	}
	return d.ID
}

// Bind creates an IdP binding for idp and returns it.
func (f *Fixture) Bind(t *testing.T, idp *devidp.Provider, in apiv1.CreateIdPBinding) apiv1.IdPBinding {
	t.Helper()
	in.Issuer, in.ClientID = idp.Issuer(), "plexsphere"
	if in.ClientSecret == "" && in.ClientSecretRef == "" {
		in.ClientSecret = ClientSecret
	}
	if in.JITPolicy == "" {
		in.JITPolicy = "allow"
	}
	var b apiv1.IdPBinding
	if st, raw := f.Do(t, "POST", "/v1/admin/idp", in, &b); st != 201 {
		t.Fatalf("create binding: %d %s", st, raw)
	}
	return b
}

// ProblemCode returns the code of the problem+json body raw, or "".
func ProblemCode(t *testing.T, raw []byte) string {
	t.Helper()
	var p apiv1.Problem
	json.Unmarshal(raw, &p)
	return p.Code
}

// NoSecrets fails the test when a captured log line holds any of vals.
func (f *Fixture) NoSecrets(t *testing.T, vals ...string) {
	t.Helper()
	logs := f.Logs.String()
	if !strings.Contains(logs, "request") {
		t.Fatal("no log output was captured")
	}
	for _, v := range vals {
		if v != "" && strings.Contains(logs, v) {
			t.Fatalf("a secret (%.8s…) appears in the logs", v)
		}
	}
}
