// Package oidc is plexsphere's OpenID Connect relying party: IdP bindings
// (per Domain or platform-wide, client secrets sealed under the master key or
// held by reference), browser sign-in with the authorization code flow and
// PKCE (state, nonce and verifier kept server-side, single use, short TTL),
// the callback that verifies the ID token (issuer, audience, expiry, nonce),
// provisions users just in time keyed by (binding scope, issuer, subject),
// syncs IdP groups from the groups claim and starts a browser session, and
// the step-up check of sensitive operations against a binding's required
// acr/amr.
package oidc
