// Package principal describes who is calling: the authenticated identity of a
// request, carried in its context from the authentication middleware to the
// handlers, the authorizer and the audit recorder.
package principal

import (
	"context"
	"errors"
)

// ErrBadCredential is what authenticators wrap for a credential that is not
// valid (unknown, expired, revoked), as opposed to an outage.
var ErrBadCredential = errors.New("bad credential")

// Kind is the type of an identity.
type Kind string

// Identity kinds (api.md §3.2).
const (
	User            Kind = "user"
	ServiceIdentity Kind = "service_identity"
)

// Principal is an authenticated caller.
type Principal struct {
	// IdentityID is the identity's UUID.
	IdentityID string
	Kind       Kind
	// DomainID is the identity's Domain; empty for platform identities.
	DomainID    string
	DisplayName string
	// Credential says how the caller authenticated: "api_token", "session", …
	Credential string
	// CredentialID is the id of the token or session used.
	CredentialID string
	// ACR and AMR are the authentication context class and methods the IdP
	// asserted at sign-in; set for browser sessions only.
	ACR string
	AMR []string
	// IdPBindingID is the IdP binding a session signed in through.
	IdPBindingID string
}

// Credential kinds.
const (
	CredentialAPIToken = "api_token"
	CredentialSession  = "session"
)

// Ref is the ReBAC subject form `user:<uuid>`.
func (p *Principal) Ref() string { return string(p.Kind) + ":" + p.IdentityID }

type ctxKey struct{}

// With returns a context carrying p.
func With(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// From returns the caller, or nil for an anonymous request.
func From(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}
