// Package apidocs serves the API reference page, GET /v1/docs: RapiDoc
// (vendored, MIT) rendering this server's own /v1/openapi.json, with every
// asset embedded in the binary and a Content-Security-Policy that lets the
// page load nothing but same-origin files (no CDN, no fonts, no external
// requests).
package apidocs
