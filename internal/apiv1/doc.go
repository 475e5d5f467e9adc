// Package apiv1 holds the wire types of the operator REST API (/v1): request
// and response bodies exactly as spec/api.md names their fields.
//
// It depends on the standard library only, so that the API client, plexctl and
// tests can share the server's types without linking control-plane packages.
// The struct tags carry OpenAPI hints (doc, pattern, maxLength, …) that the
// server's generated OpenAPI document reads; they are plain strings here.
package apiv1
