// Package apiclient is the dependency-light Go client of the plexsphere
// operator REST API (/v1, spec/api.md).
//
// It owns the wire conventions a caller should not have to repeat: bearer
// authentication, problem+json errors decoded into *Error, the {items,
// next_cursor} pagination envelope (Pages, Items, Collect), per-request
// timeouts, the NDJSON audit export stream, and the WebSocket of session
// attach (github.com/coder/websocket, its only dependency outside the
// standard library). Request and response bodies are the shared types of
// package apiv1 (the session shapes, not there yet, are in sessions.go);
// this package imports nothing else from the module, so plexctl and tests
// can use it without linking the control plane.
package apiclient
