// Package devidp is a DEVELOPMENT-ONLY OpenID Provider built on
// github.com/zitadel/oidc/v3's op package. It serves on loopback addresses
// only, keeps everything in memory, and signs in without any password: the
// sign-in page lists the seeded users and lets whoever reaches it choose one,
// and the authentication context class (acr) to claim, so step-up flows can
// be exercised. It supports the authorization code flow with PKCE, refresh
// tokens and the device authorization grant (RFC 8628).
//
// `plexsphere dev` runs it next to the control plane and binds it to a
// seeded Domain; tests use it as the real provider. `plexsphere serve` never
// starts it. Never expose it to a network.
package devidp
