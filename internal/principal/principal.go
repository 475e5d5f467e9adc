// Package principal describes who is calling: the authenticated identity of a
// request, carried in its context from the authentication middleware to the
// handlers, the authorizer and the audit recorder.
package principal

import (
	"context"
	"errors"
	"time"
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
	// asserted at the sign-in this credential descends from: the browser
	// session itself, or the session that approved a device login or minted
	// an API token. A derived credential never carries more than its parent.
	ACR string
	AMR []string
	// AuthTime is when that sign-in happened; zero when there was none.
	AuthTime time.Time
	// IdPBindingID is the IdP binding the credential's sign-in (or, for a
	// service identity, its client authentication) went through; "" when no
	// IdP stands behind the credential.
	IdPBindingID string
	// BreakGlass marks the first-start platform-admin API token and the
	// tokens minted from it: no IdP stands behind them, so step-up does not
	// apply (see docs/identity.md).
	BreakGlass bool
	// ExpiresAt is when the credential itself ends (for a device login, its
	// refresh window); zero for a credential without expiry. Tokens it mints
	// expire no later.
	ExpiresAt time.Time
	// Superseded is set when an API token authenticated with the secret it
	// had before its last rotation (during the grace period); such a caller
	// may not mint or rotate credentials.
	Superseded bool
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
