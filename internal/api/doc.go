// Package api wires the operator REST API: the huma configuration that makes
// the OpenAPI 3.1 document from the Go types, the mapping of every framework
// error to a problem with a snake_case code, and the middleware chain
// (correlation ids, authentication by declared security class, body limits,
// audit of every state change, request logs). Bounded contexts register
// their own operations; this package owns none.
package api
