// Package identity owns principals and their operator credentials: the
// identities table, API tokens (psk_…, stored only as SHA-256 hashes, with
// immediate revocation and graceful rotation), authentication of bearer
// tokens, whoami, and the first-start bootstrap that creates the Platform and
// its first platform admin.
//
// A token carries the lineage of the credential that minted it: its parent
// (it expires no later and is revoked with it, see RevokeDerived) and the
// IdP sign-in it descends from (binding, acr, amr, auth_time), which step-up
// judges. The first-start token and what it mints are break-glass: no IdP
// stands behind them.
package identity
