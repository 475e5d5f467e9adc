// Package browsertest is the shared harness of the dashboard's browser
// tests: a real in-process control plane (SQLite) seeded like `plexsphere
// dev` (the development OIDC issuer bound to a Domain "dev", see
// internal/devstack), one headless chromium per test package driven by
// chromedp, and per-test pages that record every request and console
// error, sign in through the dev issuer and save full-page screenshots.
//
// Use it from a package's TestMain:
//
//	func TestMain(m *testing.M) { browsertest.Main(m) }
//
//	func TestX(t *testing.T) {
//		env := browsertest.Get(t)     // starts everything once; skips without chromium (fails in CI)
//		p := env.NewPage(t)            // a fresh browser context (own cookies)
//		p.SignIn("alice")              // through the dev issuer
//		p.Go("#/domains")
//		p.Shot("domains")              // <screenshots>/<TestX>-domains.png
//	}
//
// At the end of each test the page fails the test on console errors and
// on any request to the control plane that is neither a dashboard file
// (/ui/…) nor an operation of /v1/openapi.json (the parity rule).
package browsertest

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/plexsphere/plexsphere/internal/app"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/config"
	"github.com/plexsphere/plexsphere/internal/devidp"
	"github.com/plexsphere/plexsphere/internal/devstack"
)

// ScreenshotsEnv names the folder screenshots go to; by default
// <repo>/test-artifacts/screenshots.
const ScreenshotsEnv = "PLEXSPHERE_SCREENSHOTS"

// ChromiumEnv may name the browser binary; else chromium,
// chromium-browser, google-chrome or google-chrome-stable on PATH.
const ChromiumEnv = "PLEXSPHERE_CHROMIUM"

// Timeout bounds each browser step.
var Timeout = 20 * time.Second

// Env is the running stack shared by a package's browser tests.
type Env struct {
	// Server is the control plane; URL its base URL (http://127.0.0.1:port).
	Server *app.Server
	URL    string
	// Token is the platform admin's bearer token (for setup through the
	// API, never used by the browser).
	Token string
	// IdP is the development issuer, IdPURL its base URL.
	IdP    *devidp.Provider
	IdPURL string
	// DomainID is the seeded dev Domain.
	DomainID string
	// Screenshots is the folder screenshots are written to.
	Screenshots string

	browser     context.Context
	stopBrowser func()
	stop        func()

	mu        sync.Mutex
	openapi   *Operations
	allErrors int
}

var (
	once     sync.Once
	shared   *Env
	startErr error
	// errNoBrowser marks a machine without chromium.
	errNoBrowser = errors.New("browsertest: no chromium binary found")
)

// Main runs the package's tests and stops the shared stack after them. Call
// it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.close()
	}
	os.Exit(code)
}

// Get returns the package's stack, starting it on first use. Without a
// chromium binary the test is skipped, unless CI is set, where it fails.
func Get(t testing.TB) *Env {
	t.Helper()
	once.Do(func() { shared, startErr = start() })
	if errors.Is(startErr, errNoBrowser) {
		if os.Getenv("CI") == "" {
			t.Skip("chromium is not installed; the browser tests need it (scripts/test installs it in CI)")
		}
		t.Fatal(startErr)
	}
	if startErr != nil {
		t.Fatal(startErr)
	}
	return shared
}

// ChromiumPath finds the browser binary ("" when none).
func ChromiumPath() string {
	if p := os.Getenv(ChromiumEnv); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func start() (env *Env, err error) {
	chromium := ChromiumPath()
	if chromium == "" {
		return nil, errNoBrowser
	}
	e := &Env{}
	var cleanups []func()
	e.stop = func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	defer func() {
		if err != nil {
			e.stop()
		}
	}()
	dir, err := os.MkdirTemp("", "plexsphere-browsertest-")
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { os.RemoveAll(dir) })

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("PLEXSPHERE_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	// The control plane's listener comes first: the issuer needs the
	// callback URL.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { ln.Close() })
	e.URL = "http://" + ln.Addr().String()
	idpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e.IdPURL = "http://" + idpLn.Addr().String()
	e.IdP, err = devidp.New(devidp.Config{Issuer: e.IdPURL, Users: devstack.Users, Logger: log,
		Clients: []devidp.Client{{ID: devstack.ClientID, RedirectURIs: []string{e.URL + "/v1/auth/callback"}}}})
	if err != nil {
		idpLn.Close()
		return nil, err
	}
	idpSrv := &http.Server{Handler: e.IdP.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go idpSrv.Serve(idpLn)
	cleanups = append(cleanups, func() { idpSrv.Close() })

	cfg := config.Defaults()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.PublicURL = e.URL
	cfg.AllowedOrigins = []string{e.URL}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx := context.Background()
	if e.Server, err = app.Open(ctx, cfg, log); err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { e.Server.Close() })
	if e.Token, err = e.Server.Bootstrap(ctx); err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: e.Server.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	cleanups = append(cleanups, func() { hs.Close() })
	if e.DomainID, err = devstack.Seed(ctx, e.Server, e.URL, e.Token, e.IdP.Issuer()); err != nil {
		return nil, fmt.Errorf("browsertest: seed: %w", err)
	}

	if e.Screenshots, err = screenshotDir(); err != nil {
		return nil, err
	}
	opts := append([]chromedp.ExecAllocatorOption{}, chromedp.DefaultExecAllocatorOptions[:]...)
	opts = append(opts, chromedp.ExecPath(chromium), chromedp.WindowSize(1280, 900), chromedp.Headless,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	cleanups = append(cleanups, cancelAlloc, cancelBrowser)
	// Start the browser now, so a broken installation fails here. (A
	// timeout context here would end the browser with it.)
	if err := chromedp.Do(bctx); err != nil {
		return nil, fmt.Errorf("browsertest: start %s: %w", chromium, err)
	}
	e.browser = bctx
	return e, nil
}

func (e *Env) close() { e.stop() }

// screenshotDir is $PLEXSPHERE_SCREENSHOTS or <repo>/test-artifacts/screenshots.
func screenshotDir() (string, error) {
	dir := os.Getenv(ScreenshotsEnv)
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", err
		}
		root := wd
		for {
			if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(root)
			if parent == root {
				root = wd
				break
			}
			root = parent
		}
		dir = filepath.Join(root, "test-artifacts", "screenshots")
	}
	return dir, os.MkdirAll(dir, 0o755)
}

// GrantPlatformAdmin makes the user with this email (signed in at least
// once) a platform admin: what creating Domains needs. Test setup only.
func (e *Env) GrantPlatformAdmin(t testing.TB, email string) {
	t.Helper()
	ctx := context.Background()
	var id string
	if err := e.Server.DB.QueryRowContext(ctx, `SELECT id FROM identities WHERE email = $1 AND kind = 'user'`, email).Scan(&id); err != nil {
		t.Fatalf("browsertest: find user %s: %v", email, err)
	}
	grant := authz.Tuple{Resource: authz.Platform, Relation: "admin", Subject: authz.ObjectRef{Type: authz.TypeUser, ID: id}.Subject()}
	err := e.Server.DB.Tx(ctx, func(tx *sql.Tx) error { return e.Server.Tuples.Write(ctx, tx, []authz.Tuple{grant}, nil) })
	if err == nil {
		err = e.Server.Tuples.Sync(ctx)
	}
	if err != nil {
		t.Fatalf("browsertest: grant platform admin to %s: %v", email, err)
	}
}

// Operations is the set of operations of /v1/openapi.json.
type Operations struct {
	// byMethod maps a method to its path templates, as patterns.
	byMethod map[string][]opPattern
}

type opPattern struct {
	template string
	re       *regexp.Regexp
}

// OpenAPI fetches and indexes /v1/openapi.json (once per Env).
func (e *Env) OpenAPI(t testing.TB) *Operations {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.openapi != nil {
		return e.openapi
	}
	resp, err := http.Get(e.URL + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ops, err := ParseOperations(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	e.openapi = ops
	return ops
}

// ParseOperations indexes the operations (method + path template) of an
// OpenAPI document.
func ParseOperations(r io.Reader) (*Operations, error) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("browsertest: decode the OpenAPI document: %w", err)
	}
	ops := &Operations{byMethod: map[string][]opPattern{}}
	param := regexp.MustCompile(`\{[^}/]+\}`)
	for p, methods := range doc.Paths {
		// Each {param} matches one non-empty path segment (or the part of
		// one before a literal suffix such as ":export").
		parts := param.Split(p, -1)
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		re := regexp.MustCompile("^" + strings.Join(parts, `[^/]+`) + "$")
		for m := range methods {
			switch m := strings.ToUpper(m); m {
			case "GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS":
				ops.byMethod[m] = append(ops.byMethod[m], opPattern{template: p, re: re})
			}
		}
	}
	if len(ops.byMethod) == 0 {
		return nil, errors.New("browsertest: the OpenAPI document has no operations")
	}
	return ops, nil
}

// Match returns the path template of the operation a request is, or "".
// A literal template wins over one with parameters.
func (o *Operations) Match(method, path string) string {
	best := ""
	for _, p := range o.byMethod[strings.ToUpper(method)] {
		if !p.re.MatchString(path) {
			continue
		}
		if best == "" || strings.Count(p.template, "{") < strings.Count(best, "{") {
			best = p.template
		}
	}
	return best
}

// sameOrigin reports whether raw is a URL of the control plane, and its path.
func (e *Env) sameOrigin(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", false
	}
	if u.Scheme+"://"+u.Host != e.URL {
		return "", false
	}
	return u.EscapedPath(), true
}
