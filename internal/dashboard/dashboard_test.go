package dashboard_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/dashboard"
)

func serve(t *testing.T, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	mux := http.NewServeMux()
	dashboard.Register(mux)
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec
}

func TestServePage(t *testing.T) {
	rec := serve(t, "GET", "/ui/", nil)
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET /ui/: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("CSP allows unsafe sources: %q", csp)
	}
	v := "v/" + dashboard.Version + "/"
	for _, want := range []string{`<script type="module" src="` + v + `js/app.js"></script>`,
		`<link rel="stylesheet" href="` + v + `css/tokens.css">`, `<link rel="modulepreload" href="` + v + `vendor/preact.mjs">`,
		`<link rel="modulepreload" href="` + v + `js/pages/domains.js">`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("page lacks %s:\n%s", want, rec.Body)
		}
	}
	// The lazily imported js-yaml is not preloaded: the page would fetch
	// and compile 100 KB it uses only in the policy editor.
	if strings.Contains(rec.Body.String(), "js-yaml") {
		t.Errorf("page preloads js-yaml, which only the policy editor imports (lazily):\n%s", rec.Body)
	}
	// Every module the page loads at start is preloaded: app.js's static
	// imports and, through pages/index.js, every page module (and theirs).
	preloads := strings.Count(rec.Body.String(), `<link rel="modulepreload"`)
	for _, name := range dashboard.Assets() {
		if (strings.HasPrefix(name, "js/pages/") || name == "js/app.js" || name == "js/widgets/topology.js") &&
			!strings.Contains(rec.Body.String(), `<link rel="modulepreload" href="`+v+name+`">`) {
			t.Errorf("page does not preload %s", name)
		}
	}
	if preloads < 30 {
		t.Errorf("%d modules preloaded", preloads)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("page Cache-Control %q", cc)
	}
	if rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("X-Frame-Options") != "DENY" {
		t.Errorf("missing hardening headers: %v", rec.Header())
	}
}

func TestServeAssets(t *testing.T) {
	for path, ctype := range map[string]string{
		"/ui/js/app.js":          "text/javascript",
		"/ui/vendor/preact.mjs":  "text/javascript",
		"/ui/css/tokens.css":     "text/css",
		"/ui/vendor/LICENSE-htm": "text/plain",
	} {
		rec := serve(t, "GET", path, nil)
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), ctype) {
			t.Errorf("GET %s: %d %q, want 200 %s", path, rec.Code, rec.Header().Get("Content-Type"), ctype)
			continue
		}
		etag := rec.Header().Get("ETag")
		if etag == "" || rec.Header().Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: no ETag or CSP", path)
		}
		again := serve(t, "GET", path, map[string]string{"If-None-Match": etag})
		if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
			t.Errorf("GET %s If-None-Match: %d, %d bytes", path, again.Code, again.Body.Len())
		}
	}
	// Under /ui/v/<Version>/ the files are cached for good; another
	// version is not served.
	rec := serve(t, "GET", "/ui/v/"+dashboard.Version+"/js/app.js", nil)
	if rec.Code != 200 || rec.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" ||
		!strings.HasPrefix(rec.Header().Get("Content-Type"), "text/javascript") {
		t.Errorf("versioned app.js: %d %v", rec.Code, rec.Header())
	}
	for _, path := range []string{"/ui/v/0000000000000000/js/app.js", "/ui/v/" + dashboard.Version + "/", "/ui/nope.js", "/ui/js/../../dashboard.go", "/ui/vendor/README.md", "/ui/web/index.html"} {
		if rec := serve(t, "GET", path, nil); rec.Code != http.StatusNotFound && rec.Code != http.StatusTemporaryRedirect { // the mux cleans ..: 307 out of /ui/
			t.Errorf("GET %s: %d, want 404", path, rec.Code)
		}
	}
}

func TestRedirects(t *testing.T) {
	for path, want := range map[string]string{
		"/":   "/ui/",
		"/ui": "/ui/",
		"/?auth_error_kind=jit_denied&auth_error_status=403": "/ui/?auth_error_kind=jit_denied&auth_error_status=403",
	} {
		rec := serve(t, "GET", path, nil)
		if rec.Code != http.StatusFound || rec.Header().Get("Location") != want {
			t.Errorf("GET %s: %d → %q, want 302 → %q", path, rec.Code, rec.Header().Get("Location"), want)
		}
	}
	// Only GET / exactly: other paths are not the dashboard's.
	if rec := serve(t, "GET", "/v1/anything", nil); rec.Code != http.StatusNotFound {
		t.Errorf("GET /v1/anything reached the dashboard: %d", rec.Code)
	}
}

// TestVendoredFiles checks the vendored files against the sha256 recorded
// in web/vendor/README.md, and that each has its licence.
func TestVendoredFiles(t *testing.T) {
	readme, err := os.ReadFile("web/vendor/README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z0-9/._-]+\\.mjs)` \\| `[0-9a-f]{64}` \\| `([0-9a-f]{64})` \\|$")
	rows := row.FindAllStringSubmatch(string(readme), -1)
	if len(rows) < 3 {
		t.Fatalf("README records %d vendored files, want preact, hooks and htm at least", len(rows))
	}
	for _, r := range rows {
		raw, err := os.ReadFile(filepath.Join("web/vendor", r[1]))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(raw)
		if got := hex.EncodeToString(sum[:]); got != r[2] {
			t.Errorf("%s: sha256 %s, README says %s", r[1], got, r[2])
		}
	}
	for _, l := range []string{"LICENSE-preact", "LICENSE-htm"} {
		if _, err := os.Stat(filepath.Join("web/vendor", l)); err != nil {
			t.Error(err)
		}
	}
}

// TestConventions enforces the dashboard's rules on its sources: fetch only
// in api.js, no inline script or style in the page, no import from outside
// this origin, and every page module is listed in pages/index.js.
func TestConventions(t *testing.T) {
	web := os.DirFS("web")
	remote := regexp.MustCompile(`(?:from|import)\s*\(?\s*['"](?:https?:)?//`)
	err := fs.WalkDir(web, "js", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := fs.ReadFile(web, p)
		if err != nil {
			return err
		}
		src := string(raw)
		if p != "js/api.js" && regexp.MustCompile(`\bfetch\s*\(|XMLHttpRequest|new\s+EventSource|new\s+WebSocket`).MatchString(src) {
			t.Errorf("%s calls the network itself; only js/api.js may", p)
		}
		if remote.MatchString(src) {
			t.Errorf("%s imports from another origin", p)
		}
		if strings.Contains(src, "eval(") || strings.Contains(src, "new Function") {
			t.Errorf("%s uses eval", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"index.html", "terminal.html"} {
		page, _ := fs.ReadFile(web, name)
		if regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]|\sstyle=|\son[a-z]+=`).Match(page) {
			t.Errorf("%s has an inline script, style or handler", name)
		}
	}
	index, _ := fs.ReadFile(web, "js/pages/index.js")
	mods, _ := fs.Glob(web, "js/pages/*.js")
	for _, m := range mods {
		name := filepath.Base(m)
		if name != "index.js" && !strings.Contains(string(index), "'./"+name+"'") {
			t.Errorf("pages/index.js does not list %s", name)
		}
	}
}
