package apidocs

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"path"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
)

//go:embed assets/rapidoc-min.js assets/rapidoc-LICENSE.txt assets/rapidoc-min.js.LICENSE.txt
var assetFS embed.FS

// CSP is the page's and the assets' Content-Security-Policy: scripts,
// styles, images, fonts and fetches from this origin only (the renderer
// styles its shadow DOM inline, and draws a few data: images).
const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// page loads the renderer and points it at the OpenAPI document. Paths are
// relative to /v1/docs so the page works behind a path prefix too.
const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>plexsphere API reference</title>
<script type="module" src="docs/assets/rapidoc-min.js"></script>
</head>
<body>
<rapi-doc spec-url="openapi.json" render-style="read" show-header="false" allow-spec-url-load="false"
  allow-spec-file-load="false" allow-server-selection="false" regular-font="system-ui, sans-serif"
  mono-font="ui-monospace, monospace" load-fonts="false"></rapi-doc>
</body>
</html>
`

// asset is one embedded file as served.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// assets maps the names under /v1/docs/assets/ to their files.
var assets = func() map[string]asset {
	// application/javascript is the contract's type for the bundle (and a
	// JavaScript MIME type browsers accept for module scripts).
	types := map[string]string{".js": "application/javascript; charset=utf-8", ".txt": "text/plain; charset=utf-8"}
	out := map[string]asset{}
	entries, err := assetFS.ReadDir("assets")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		b, err := assetFS.ReadFile("assets/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		ct, ok := types[path.Ext(e.Name())]
		if !ok {
			panic("apidocs: no content type for " + e.Name())
		}
		out[e.Name()] = asset{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
	}
	return out
}()

// Assets lists the names served under /v1/docs/assets/.
func Assets() []string {
	out := make([]string, 0, len(assets))
	for name := range assets {
		out = append(out, name)
	}
	return out
}

type fileOutput struct {
	Status       int
	ContentType  string `header:"Content-Type"`
	CSP          string `header:"Content-Security-Policy"`
	CacheControl string `header:"Cache-Control"`
	ETag         string `header:"ETag"`
	NoSniff      string `header:"X-Content-Type-Options"`
	FrameOptions string `header:"X-Frame-Options"`
	Referrer     string `header:"Referrer-Policy"`
	Body         []byte
}

type assetInput struct {
	Asset       string `path:"asset" maxLength:"128" doc:"Asset file name, as the page references it."`
	IfNoneMatch string `header:"If-None-Match" maxLength:"256"`
}

func headers(contentType, cache, etag string, body []byte) *fileOutput {
	return &fileOutput{Status: http.StatusOK, ContentType: contentType, CSP: CSP, CacheControl: cache, ETag: etag, NoSniff: "nosniff",
		FrameOptions: "DENY", Referrer: "no-referrer", Body: body}
}

// Register adds GET /v1/docs and GET /v1/docs/assets/{asset} (public).
func Register(api huma.API) {
	op := route.Op(http.MethodGet, "/v1/docs", "getDocs", "docs.page", route.Public,
		"The API reference page (HTML), rendered in the browser from /v1/openapi.json", "Meta")
	op.Responses = map[string]*huma.Response{"200": {Description: "The page.",
		Content: map[string]*huma.MediaType{"text/html": {Schema: &huma.Schema{Type: "string"}}}}}
	huma.Register(api, op, func(context.Context, *struct{}) (*fileOutput, error) {
		return headers("text/html; charset=utf-8", "no-cache", "", []byte(page)), nil
	})
	op = route.Op(http.MethodGet, "/v1/docs/assets/{asset}", "getDocsAsset", "docs.asset", route.Public,
		"A file of the API reference page (embedded in the binary)", "Meta")
	op.Responses = map[string]*huma.Response{"200": {Description: "The file.",
		Content: map[string]*huma.MediaType{"application/javascript": {Schema: &huma.Schema{Type: "string"}},
			"text/plain": {Schema: &huma.Schema{Type: "string"}}}}}
	huma.Register(api, op, serveAsset)
}

func serveAsset(_ context.Context, in *assetInput) (*fileOutput, error) {
	a, ok := assets[in.Asset]
	if !ok {
		return nil, problem.NotFound("docs_asset_not_found", "No such file of the API reference page.")
	}
	// The files change only with the binary: cache for a day, revalidate by
	// ETag after.
	const cache = "public, max-age=86400"
	if etagMatch(in.IfNoneMatch, a.etag) {
		out := headers(a.contentType, cache, a.etag, nil)
		out.Status = http.StatusNotModified
		return out, nil
	}
	return headers(a.contentType, cache, a.etag, a.body), nil
}

func etagMatch(header, etag string) bool {
	for _, v := range strings.Split(header, ",") {
		if v = strings.TrimSpace(v); v == etag || v == "*" {
			return true
		}
	}
	return false
}
