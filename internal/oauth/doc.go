// Package oauth is plexsphere's own authorization server towards its API
// clients: the RFC 8628 device flow that plexctl login runs (device codes,
// approval by a signed-in browser session, polling), the opaque short-lived
// access tokens and rotating refresh tokens it issues (stored only as
// SHA-256 hashes, in token families so that a replayed refresh token revokes
// its family), their revocation (RFC 7009), the access tokens minted for
// service identities, and bearer authentication of all of these.
//
// A device login carries the acr, amr and auth_time of the session that
// approved it (approval is itself a step-up operation); revoking a token
// family revokes the API tokens it minted.
//
// It owns the device_authorizations and oauth_tokens tables. Users prove who
// they are through the browser sign-in against the Domain's bound IdP
// (internal/oidc, internal/session); see docs/design/0003-device-login.md.
package oauth
