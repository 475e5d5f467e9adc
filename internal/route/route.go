// Package route declares API operations the plexsphere way: every operation
// names its credential class (which becomes its OpenAPI security
// requirement and drives the authentication middleware), its audit action,
// and its body ceiling.
package route

import (
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// Class is who may call an operation (api.md §2.2.2).
type Class int

// Credential classes.
const (
	// Public operations declare `security: []`.
	Public Class = iota
	// Operator operations take the session cookie or an operator bearer token.
	Operator
	// Node operations take the NSK of the addressed Node.
	Node
)

// Metadata keys on huma.Operation.
const (
	MetaAction    = "plexsphere-action"
	MetaClass     = "plexsphere-class"
	MetaSensitive = "plexsphere-sensitive"
	MetaRevokedOK = "plexsphere-revoked-nsk"
)

// DefaultBodyLimit is the ceiling of operator JSON bodies (api.md §2.10).
const DefaultBodyLimit = 8 << 10

// Op builds an operation. action is the audit action (`<area>.<verb>`).
func Op(method, path, id, action string, class Class, summary string, tags ...string) huma.Operation {
	op := huma.Operation{
		OperationID: id,
		Method:      method,
		Path:        path,
		Summary:     summary,
		Tags:        tags,
		Metadata:    map[string]any{MetaAction: action, MetaClass: class},
		// huma answers 413 when the body reaches MaxBodyBytes, so allow one
		// byte more than the ceiling.
		MaxBodyBytes: DefaultBodyLimit + 1,
	}
	mutating := method != http.MethodGet && method != http.MethodHead
	switch class {
	case Public:
		op.Security = []map[string][]string{}
	case Node:
		op.Security = []map[string][]string{{"nodeBearer": {}}}
	default:
		if mutating {
			op.Security = []map[string][]string{{"sessionCookie": {}, "csrfToken": {}}, {"operatorBearer": {}}}
		} else {
			op.Security = []map[string][]string{{"sessionCookie": {}}, {"operatorBearer": {}}}
		}
	}
	return op
}

// Action returns the audit action of op.
func Action(op *huma.Operation) string {
	if a, ok := op.Metadata[MetaAction].(string); ok {
		return a
	}
	return op.OperationID
}

// ClassOf returns the credential class of op.
func ClassOf(op *huma.Operation) Class {
	if c, ok := op.Metadata[MetaClass].(Class); ok {
		return c
	}
	return Operator
}

// Sensitive marks op as sensitive and returns it: a caller signed in with a
// browser session must meet its IdP binding's required_acr/required_amr
// (step-up, api.md §2.2), else 401 step_up_required.
func Sensitive(op huma.Operation) huma.Operation {
	if op.Metadata == nil {
		op.Metadata = map[string]any{}
	}
	op.Metadata[MetaSensitive] = true
	return op
}

// IsSensitive reports whether op demands step-up.
func IsSensitive(op *huma.Operation) bool {
	b, _ := op.Metadata[MetaSensitive].(bool)
	return b
}

// AcceptRevokedNSK marks a Node operation whose handler also takes the
// revoked NSK of the node the path names and decides itself whether to
// answer (deregister's retry after a lost answer); the middleware still
// refuses unknown NSKs and NSKs of another node. It returns op.
func AcceptRevokedNSK(op huma.Operation) huma.Operation {
	if op.Metadata == nil {
		op.Metadata = map[string]any{}
	}
	op.Metadata[MetaRevokedOK] = true
	return op
}

// AcceptsRevokedNSK reports whether op takes a revoked NSK.
func AcceptsRevokedNSK(op *huma.Operation) bool {
	b, _ := op.Metadata[MetaRevokedOK].(bool)
	return b
}

// SecuritySchemes are the schemes every document declares.
func SecuritySchemes() map[string]*huma.SecurityScheme {
	return map[string]*huma.SecurityScheme{
		"sessionCookie":  {Type: "apiKey", In: "cookie", Name: "plexsphere_session"},
		"csrfToken":      {Type: "apiKey", In: "header", Name: "X-Plexsphere-CSRF"},
		"operatorBearer": {Type: "http", Scheme: "bearer", Description: "API token (psk_…), device-flow or service-identity token."},
		"nodeBearer":     {Type: "http", Scheme: "bearer", Description: "The NSK of the addressed Node."},
	}
}
