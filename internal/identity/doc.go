// Package identity owns principals and their operator credentials: the
// identities table, API tokens (psk_…, stored only as SHA-256 hashes, with
// immediate revocation and graceful rotation), authentication of bearer
// tokens, whoami, and the first-start bootstrap that creates the Platform and
// its first platform admin.
package identity
