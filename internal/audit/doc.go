// Package audit owns the tamper-evident audit chains: one per Domain plus the
// platform chain. Every state-changing request appends an entry in the same
// transaction as its change; denied and failed requests are appended too.
// A denial goes to the chain of the Domain its object belongs to; chains
// exist only for the platform and existing Domains. What a client can repeat
// without a credential (401s, 429s, anonymous failures) is aggregated per
// client network and window, and every stored string is cleaned to valid,
// bounded UTF-8 so that no request can make its own entry fail.
//
// Each entry is hashed as entry_hash = SHA-256(prev_hash ‖ SHA-256(canonical
// entry)), where the canonical entry is the RFC 8785 form of the entry as
// readers see it minus its hashes. hash_version 2 binds the identity
// reference through a salted commitment (so erasing it keeps the chain
// whole); version 1 entries, written before, leave it out. Version 3 binds an
// object id that names an identity the same way. Verify recomputes a chain
// straight from the database, so it also runs offline.
//
// EraseIdentity (the right to erasure) clears an identity's references and
// identity-naming object ids with their salts, keeping the hashed
// commitments, and deletes the per-(chain, identity) key its pseudonym is
// derived with; every chain still verifies.
//
// A hash chain cannot show that its newest entries were deleted and its head
// rewound. The Checkpointer therefore signs every chain head each N entries
// or T (Domain chains with the Domain's signing key); exported and kept
// elsewhere, the checkpoints let VerifyWithCheckpoints detect it.
package audit
