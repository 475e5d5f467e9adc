// Package directory is the per-Domain identities view (issue 16): who
// exists in a Domain (users and service identities), through which IdP
// binding, when they last signed in, their groups and — on the detail —
// their effective roles on the Domain and its Projects as the ReBAC
// engine's lookup resolves them through groups and inheritance. It only
// reads; identities are created by sign-in (internal/oidc) and
// internal/serviceid. Domain admins only; another Domain's identities are
// 404.
package directory
