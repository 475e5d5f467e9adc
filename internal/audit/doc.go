// Package audit owns the tamper-evident audit chains: one per Domain plus the
// platform chain. Every state-changing request appends an entry in the same
// transaction as its change; denied and failed requests are appended too.
//
// Each entry is hashed as entry_hash = SHA-256(prev_hash ‖ SHA-256(canonical
// entry)), where the canonical entry is the RFC 8785 form of the entry minus
// its hashes and the erasable identity reference (api.md §3.11). Verify
// recomputes a chain straight from the database, so it also runs offline.
package audit
