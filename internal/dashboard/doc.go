// Package dashboard serves the operator UI: plain ES modules, CSS and the
// vendored Preact + htm (web/vendor, see its README), embedded in the
// binary with go:embed and served at /ui/ (GET / redirects there) under a
// strict Content-Security-Policy: everything from this origin, no inline
// script or style, no external requests.
//
// The UI talks to the control plane only through the public /v1 API with
// the browser session (cookie + CSRF header): web/js/api.js is the one
// place that calls fetch. There are no private endpoints and nothing is
// rendered on the server.
//
// There is no JavaScript build step: the files under web/ are the files
// served, so `go build` and `go run` need nothing else, and there is no
// generated output that could go stale — which is why this package has no
// staleness test (issue 13 asks for one only when a build step exists).
//
// The browser tests (browser_test.go) drive Debian's chromium through
// chromedp against a real in-process control plane with the development
// OIDC issuer; the shared harness is in the browsertest subpackage, the
// conventions for page modules in docs/dashboard.md.
package dashboard
