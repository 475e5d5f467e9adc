package oauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
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

// Seeded users of the test issuers.
var seedUsers = []devidp.User{
	{ID: "alice", Name: "Alice Example", Email: "alice@example.test", Groups: []string{"ops", "dev team"}},
	{ID: "bob", Name: "Bob Example", Email: "bob@example.test"},
}

const clientSecret = "dev-client-secret-7f3a9c"

// swap is a handler that can be set after its server has an address.
type swap struct{ h atomic.Value }

func (s *swap) set(h http.Handler) { s.h.Store(h) }
func (s *swap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.h.Load().(http.Handler).ServeHTTP(w, r)
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// fixture is a real control plane (with allowed_origins set to its own
// origin unless told otherwise) and a helper for admin calls.
type fixture struct {
	*apptest.Env
	logs *syncBuffer
}

func start(t *testing.T, b apptest.Backend, allowOwnOrigin bool) *fixture {
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
	logs := &syncBuffer{}
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
	return &fixture{Env: &apptest.Env{Server: srv, URL: base, Token: tok, DataDir: cfg.DataDir, Config: cfg}, logs: logs}
}

// issuer starts a development OpenID Provider on loopback whose client is
// registered with the fixture's callback.
func (f *fixture) issuer(t *testing.T, tweak func(*devidp.Config)) *devidp.Provider {
	t.Helper()
	sw := &swap{}
	ts := httptest.NewServer(sw)
	t.Cleanup(ts.Close)
	cfg := devidp.Config{
		Issuer: ts.URL, Users: seedUsers,
		Clients: []devidp.Client{{ID: "plexsphere", Secret: clientSecret, RedirectURIs: []string{f.URL + "/v1/auth/callback"}}},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if tweak != nil {
		tweak(&cfg)
	}
	p, err := devidp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sw.set(p.Handler())
	return p
}

// domain creates a Domain and returns its id.
func (f *fixture) domain(t *testing.T, slug, cidr string) string {
	t.Helper()
	var d apiv1.Domain
	if st, raw := f.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: slug, Slug: slug, MeshCIDR: cidr}, &d); st != 201 {
		t.Fatalf("create domain: %d %s", st, raw)
	}
	return d.ID
}

// bind creates an IdP binding for idp and returns it.
func (f *fixture) bind(t *testing.T, idp *devidp.Provider, in apiv1.CreateIdPBinding) apiv1.IdPBinding {
	t.Helper()
	in.Issuer, in.ClientID = idp.Issuer(), "plexsphere"
	if in.ClientSecret == "" && in.ClientSecretRef == "" {
		in.ClientSecret = clientSecret
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

// browser is a cookie-jar client that, like a browser, keeps cookies, but
// stops at each redirect so the test sees every hop.
type browser struct {
	c   *http.Client
	f   *fixture
	url *url.URL
}

func (f *fixture) browser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(f.URL)
	return &browser{f: f, url: u, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (b *browser) cookie(name string) string {
	u := *b.url
	u.Path = "/v1/auth/whoami"
	for _, c := range b.c.Jar.Cookies(&u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// do sends a request; hdr adds headers. For mutations, csrf adds the
// allowed Origin and the double-submit header.
func (b *browser) do(t *testing.T, method, path string, body any, csrf bool, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.f.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if csrf {
		req.Header.Set("Origin", b.f.URL)
		req.Header.Set("X-Plexsphere-CSRF", b.cookie("plexsphere_csrf"))
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return b.send(t, req)
}

func (b *browser) send(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

// startSignIn calls POST /v1/auth/sign-in.
func (b *browser) startSignIn(t *testing.T, in apiv1.SignIn) apiv1.SignInStarted {
	t.Helper()
	resp, raw := b.do(t, "POST", "/v1/auth/sign-in", in, false, nil)
	var out apiv1.SignInStarted
	if resp.StatusCode != 200 || json.Unmarshal(raw, &out) != nil || out.AuthorizationURL == "" {
		t.Fatalf("sign-in: %d %s", resp.StatusCode, raw)
	}
	return out
}

// authorize walks the IdP: authorization endpoint → sign-in page → choose
// user and acr → back to the provider → the redirect to plexsphere's
// callback, which it returns without following.
func (b *browser) authorize(t *testing.T, authURL, user, acr string) string {
	t.Helper()
	resp, raw := b.do2(t, "GET", authURL, nil)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d %s", resp.StatusCode, raw)
	}
	login, _ := resp.Location()
	id := login.Query().Get("id")
	if id == "" {
		t.Fatalf("no login redirect: %s", login)
	}
	if resp, raw = b.do2(t, "GET", login.String(), nil); resp.StatusCode != 200 || !strings.Contains(string(raw), "DEVELOPMENT-ONLY") {
		t.Fatalf("login page: %d %s", resp.StatusCode, raw)
	}
	form := url.Values{"id": {id}, "user": {user}, "acr": {acr}}
	next := login.ResolveReference(&url.URL{Path: "/login/select"})
	resp, raw = b.do2(t, "POST", next.String(), form)
	for hops := 0; resp.StatusCode == http.StatusFound && hops < 5; hops++ {
		loc, _ := resp.Location()
		if strings.HasPrefix(loc.String(), b.f.URL+"/v1/auth/callback") {
			return loc.String()
		}
		resp, raw = b.do2(t, "GET", loc.String(), nil)
	}
	t.Fatalf("never reached the callback: %d %s", resp.StatusCode, raw)
	return ""
}

func (b *browser) do2(t *testing.T, method, u string, form url.Values) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if form != nil {
		rd = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return b.send(t, req)
}

// callback follows the IdP's redirect into plexsphere as a browser (Accept
// text/html) or a JSON client.
func (b *browser) callback(t *testing.T, u string, asJSON bool) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	if asJSON {
		req.Header.Set("Accept", "application/json")
	}
	return b.send(t, req)
}

// signIn is the whole browser sign-in; it fails the test unless the
// callback answers 303 to return_to with the session cookie.
func (b *browser) signIn(t *testing.T, in apiv1.SignIn, user, acr string) {
	t.Helper()
	started := b.startSignIn(t, in)
	cb := b.authorize(t, started.AuthorizationURL, user, acr)
	resp, raw := b.callback(t, cb, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" || b.cookie("plexsphere_session") == "" {
		t.Fatalf("callback: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), raw)
	}
}

// whoami reads GET /v1/auth/whoami with the browser's cookies.
func (b *browser) whoami(t *testing.T) (int, apiv1.Whoami) {
	t.Helper()
	resp, raw := b.do(t, "GET", "/v1/auth/whoami", nil, false, nil)
	var w apiv1.Whoami
	if resp.StatusCode == 200 {
		json.Unmarshal(raw, &w)
	}
	return resp.StatusCode, w
}

func problemCode(t *testing.T, raw []byte) string {
	t.Helper()
	var p apiv1.Problem
	json.Unmarshal(raw, &p)
	return p.Code
}

// noSecrets fails the test when a captured log line holds any of vals.
func (f *fixture) noSecrets(t *testing.T, vals ...string) {
	t.Helper()
	logs := f.logs.String()
	if !strings.Contains(logs, "request") {
		t.Fatal("no log output was captured")
	}
	for _, v := range vals {
		if v != "" && strings.Contains(logs, v) {
			t.Fatalf("a secret (%.8s…) appears in the logs", v)
		}
	}
}
