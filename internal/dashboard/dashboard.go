package dashboard

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"sort"
	"strings"
)

//go:embed web
var webFS embed.FS

// CSP is the Content-Security-Policy of the page and of every asset: all
// from this origin, no inline script or style, no eval, no framing.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// TerminalCSP is the policy of the browser terminal page (terminal.html):
// CSP but for styles, because xterm.js sets inline styles (<style>
// elements and style attributes); scripts stay this origin's only.
const TerminalCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Prefix is where the dashboard is served.
const Prefix = "/ui/"

// asset is one embedded file as served.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".md":   "text/plain; charset=utf-8",
	".txt":  "text/plain; charset=utf-8",
}

// assets maps the paths under /ui/ ("" is index.html) to their files.
var assets = func() map[string]asset {
	out := map[string]asset{}
	err := fs.WalkDir(webFS, "web", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := webFS.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "web/")
		ct, ok := contentTypes[path.Ext(name)]
		if !ok && strings.HasPrefix(path.Base(name), "LICENSE") {
			ct, ok = "text/plain; charset=utf-8", true
		}
		if !ok {
			panic("dashboard: no content type for " + name)
		}
		sum := sha256.Sum256(b)
		out[name] = asset{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
		return nil
	})
	if err != nil {
		panic(err)
	}
	Version = version(out)
	out["index.html"] = versioned(out["index.html"], out, Version)
	out["terminal.html"] = versioned(out["terminal.html"], out, Version)
	out[""] = out["index.html"]
	return out
}()

// Version names this binary's set of files: the page loads them under
// /ui/v/<Version>/, where they are cached for good (immutable), so a load
// costs no revalidation round trips; a new binary has a new Version. The
// modules import each other by relative URL, so they stay under it.
var Version string

// version hashes every file's name and content.
func version(all map[string]asset) string {
	names := make([]string, 0, len(all))
	for name := range all {
		names = append(names, name)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, name := range names {
		h.Write([]byte(name + "\x00" + all[name].etag + "\x00"))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// versioned points the page's stylesheets and script at /ui/v/<ver>/ and
// adds a <link rel="modulepreload"> for every module the page loads at
// start (modulesAtStart), so the browser fetches them all at once instead
// of discovering them import by import (a waterfall of round trips), and
// fetches and compiles none that a page loads only when used. Only asset
// references: the page carries no data.
func versioned(page asset, all map[string]asset, ver string) asset {
	prefix := "v/" + ver + "/"
	var links strings.Builder
	for _, name := range modulesAtStart(string(page.body), all) {
		links.WriteString(`<link rel="modulepreload" href="` + prefix + name + `">` + "\n")
	}
	body := string(page.body)
	body = strings.ReplaceAll(body, `href="css/`, `href="`+prefix+`css/`)
	body = strings.ReplaceAll(body, `href="vendor/`, `href="`+prefix+`vendor/`)
	body = strings.ReplaceAll(body, `src="js/`, `src="`+prefix+`js/`)
	body = strings.Replace(body, "</head>", links.String()+"</head>", 1)
	sum := sha256.Sum256([]byte(body))
	return asset{body: []byte(body), contentType: page.contentType, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

var (
	// moduleScript finds the page's module scripts.
	moduleScript = regexp.MustCompile(`<script type="module" src="([^"]+)"`)
	// moduleRef finds a quoted relative module path in a module: its
	// static imports and re-exports, and the page list pages/index.js
	// imports at start; group 1 is what precedes it, to tell a lazy
	// import("…") apart.
	moduleRef = regexp.MustCompile(`(import\s*\(\s*)?['"](\.\.?/[^'"\s]+\.m?js)['"]`)
)

// modulesAtStart is the module graph the page loads at start, sorted:
// from its module scripts, every module a loaded one names by a relative
// path (an import, a re-export, a list of modules to import), except
// those it imports lazily with import("…") at a literal path (js-yaml,
// loaded by the policy editor when opened). Names of files that do not
// exist are left out.
func modulesAtStart(page string, all map[string]asset) []string {
	seen := map[string]bool{}
	var queue []string
	add := func(name string) {
		if _, ok := all[name]; ok && !seen[name] {
			seen[name] = true
			queue = append(queue, name)
		}
	}
	for _, m := range moduleScript.FindAllStringSubmatch(page, -1) {
		add(path.Clean(m[1]))
	}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		for _, m := range moduleRef.FindAllStringSubmatch(string(all[name].body), -1) {
			if m[1] == "" {
				add(path.Join(path.Dir(name), m[2]))
			}
		}
	}
	out := make([]string, 0, len(seen))
	for name := range seen {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Assets lists the served paths under /ui/ (index.html as "").
func Assets() []string {
	out := make([]string, 0, len(assets))
	for name := range assets {
		out = append(out, name)
	}
	return out
}

// Register adds the dashboard to mux: GET /ui/ and its files, GET /ui
// and GET / redirecting to /ui/ (keeping the query, which carries a failed
// sign-in's auth_error_* parameters).
func Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", redirect)
	mux.HandleFunc("GET /ui", redirect)
	mux.Handle("GET "+Prefix, Handler())
}

func redirect(w http.ResponseWriter, r *http.Request) {
	to := Prefix
	if r.URL.RawQuery != "" {
		to += "?" + r.URL.RawQuery
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, to, http.StatusFound)
}

// Handler serves the embedded files under /ui/.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, Prefix)
		cache := "no-cache"
		if rest, ok := strings.CutPrefix(name, "v/"+Version+"/"); ok && rest != "" && !strings.HasSuffix(rest, ".html") {
			name, cache = rest, "public, max-age=31536000, immutable"
		}
		h := w.Header()
		if name == "terminal.html" {
			h.Set("Content-Security-Policy", TerminalCSP)
		} else {
			h.Set("Content-Security-Policy", CSP)
		}
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		a, ok := assets[name]
		if !ok || strings.HasSuffix(name, ".md") {
			h.Set("Content-Type", "text/plain; charset=utf-8")
			h.Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte("not found\n"))
			return
		}
		h.Set("Content-Type", a.contentType)
		h.Set("ETag", a.etag)
		// The page is revalidated on every load so that a new binary's
		// files are picked up; under /ui/v/<Version>/ they never change.
		h.Set("Cache-Control", cache)
		if etagMatch(r.Header.Get("If-None-Match"), a.etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if r.Method == http.MethodHead {
			return
		}
		w.Write(a.body)
	})
}

func etagMatch(header, etag string) bool {
	for _, v := range strings.Split(header, ",") {
		v = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), "W/"))
		if v == etag || v == "*" {
			return true
		}
	}
	return false
}
