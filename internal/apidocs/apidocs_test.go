package apidocs_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apidocs"
	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
)

// refRE finds every URL-valued attribute of the page.
var refRE = regexp.MustCompile(`\b(src|href|spec-url|action|data|poster)\s*=\s*"([^"]*)"`)

// TestDocsPage serves the reference page from the whole control plane: it
// is public HTML under a strict CSP, references only same-origin files, and
// every file it references answers 200 with the right content type.
func TestDocsPage(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	resp, body := e.Send(t, "", "GET", "/v1/docs")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /v1/docs: %d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "font-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "http") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "*") {
		t.Errorf("CSP %q allows another origin or eval", csp)
	}
	if strings.Contains(string(body), "http://") || strings.Contains(string(body), "https://") || strings.Contains(string(body), "<script>") {
		t.Errorf("the page names another origin or carries an inline script:\n%s", body)
	}
	page, _ := url.Parse(e.URL + "/v1/docs")
	refs := refRE.FindAllStringSubmatch(string(body), -1)
	if len(refs) < 2 {
		t.Fatalf("the page references %d files, want the renderer and the OpenAPI document:\n%s", len(refs), body)
	}
	wantType := map[string]string{".js": "application/javascript; charset=utf-8", ".json": "application/json"}
	var seen []string
	for _, m := range refs {
		ref, err := url.Parse(m[2])
		if err != nil || ref.IsAbs() || ref.Host != "" || strings.HasPrefix(m[2], "//") {
			t.Errorf("%s=%q is not a same-origin reference", m[1], m[2])
			continue
		}
		target := page.ResolveReference(ref)
		resp, raw := e.Send(t, "", "GET", target.Path)
		ext := target.Path[strings.LastIndex(target.Path, "."):]
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != wantType[ext] || len(raw) == 0 {
			t.Errorf("%s → %s: %d %q (%d bytes)", m[2], target.Path, resp.StatusCode, resp.Header.Get("Content-Type"), len(raw))
		}
		seen = append(seen, target.Path)
	}
	if !slices.Contains(seen, "/v1/openapi.json") || !slices.Contains(seen, "/v1/docs/assets/rapidoc-min.js") {
		t.Errorf("the page does not load the renderer and our OpenAPI document: %v", seen)
	}
	// The document the page renders describes the page itself.
	_, raw := e.Send(t, "", "GET", "/v1/openapi.json")
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil || doc.Paths["/v1/docs"]["get"] == nil || doc.Paths["/v1/docs/assets/{asset}"]["get"] == nil {
		t.Errorf("openapi.json lacks the docs operations: %v", err)
	}
}

// TestDocsAssets serves every embedded file with its type, cache headers
// and ETag revalidation, and 404s anything else.
func TestDocsAssets(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	names := apidocs.Assets()
	for _, want := range []string{"rapidoc-min.js", "rapidoc-LICENSE.txt", "rapidoc-min.js.LICENSE.txt"} {
		if !slices.Contains(names, want) {
			t.Errorf("asset %s is not served (have %v)", want, names)
		}
	}
	for _, name := range names {
		resp, raw := e.Send(t, "", "GET", "/v1/docs/assets/"+name)
		ct := "text/plain; charset=utf-8"
		if strings.HasSuffix(name, ".js") {
			ct = "application/javascript; charset=utf-8"
		}
		etag := resp.Header.Get("ETag")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ct || len(raw) == 0 || etag == "" ||
			resp.Header.Get("Cache-Control") != "public, max-age=86400" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d %v", name, resp.StatusCode, resp.Header)
			continue
		}
		req, _ := http.NewRequest("GET", e.URL+"/v1/docs/assets/"+name, nil)
		req.Header.Set("If-None-Match", etag)
		r2, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r2.Body.Close()
		if r2.StatusCode != http.StatusNotModified {
			t.Errorf("%s with If-None-Match: %d, want 304", name, r2.StatusCode)
		}
	}
	for _, bad := range []string{"nope.js", "..%2Fapidocs.go", "rapidoc-min.js.map", "README.md", "%2e%2e"} {
		resp, raw := e.Send(t, "", "GET", "/v1/docs/assets/"+bad)
		var p apiv1.Problem
		if resp.StatusCode != 404 || json.Unmarshal(raw, &p) != nil || p.Code != "docs_asset_not_found" {
			t.Errorf("asset %q: %d %s, want 404 docs_asset_not_found", bad, resp.StatusCode, raw)
		}
	}
}

// TestVendoredRenderer holds the vendored file to the hash its README
// records, with its licence next to it.
func TestVendoredRenderer(t *testing.T) {
	js, err := os.ReadFile("assets/rapidoc-min.js")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(js)
	readme, err := os.ReadFile("assets/README.md")
	if err != nil {
		t.Fatal(err)
	}
	if h := hex.EncodeToString(sum[:]); !strings.Contains(string(readme), h) {
		t.Errorf("rapidoc-min.js hashes to %s, which assets/README.md does not record", h)
	}
	lic, err := os.ReadFile("assets/rapidoc-LICENSE.txt")
	if err != nil || !strings.HasPrefix(string(lic), "MIT License") {
		t.Errorf("the renderer's licence is missing: %v", err)
	}
}
