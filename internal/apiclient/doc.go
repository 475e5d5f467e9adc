// Package apiclient is the dependency-light Go client of the plexsphere
// operator REST API (/v1, spec/api.md).
//
// It owns the wire conventions a caller should not have to repeat: bearer
// authentication, problem+json errors decoded into *Error, the {items,
// next_cursor} pagination envelope (Pages, Items, Collect), per-request
// timeouts, and the NDJSON audit export stream. Request and response bodies
// are the shared types of package apiv1; this package imports nothing else
// from the module, so plexctl and tests can use it without linking the
// control plane.
package apiclient
