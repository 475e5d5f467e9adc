// Package embedded is the secret backend of a control plane without
// OpenBao (docs/design/0007-secrets.md): secret values live in the
// secret_values table, each version sealed under its own data key, the
// data key wrapped by a key-encryption key (KEK) held outside the database.
//
// # Rows
//
// One row per version, keyed by (path, version) where path is
// backend.Path.String(). For every Put a fresh random 32-byte data key
// (DEK) seals the value with AES-256-GCM; the associated data binds the
// path and version, so a row copied to another path or version does not
// open. The DEK is wrapped with AES-256-GCM under the active KEK, its
// associated data binding path, version and KEK id. Columns:
//
//	ciphertext   base64(nonce ‖ sealed value ‖ tag)
//	wrapped_key  base64(nonce ‖ sealed DEK ‖ tag)
//	kek_id       the id of the KEK that wrapped the DEK
//	created_at   Unix microseconds
//
// Versions count from 1 (max+1 for the path, chosen inside the writing
// transaction; on PostgreSQL two writers that pick the same number meet
// the primary key and the loser retries). Delete removes every row of the
// path.
//
// # KEK file
//
// The KEKs come from PLEXSPHERE_KEK when it is set, else from a file
// (default <data-dir>/secrets-kek, mode 0600, refused when wider). Both
// use one format, one key a line:
//
//	# comments and blank lines are ignored
//	<id> <base64 of 32 bytes>     the first key is ACTIVE: it wraps new DEKs
//	<id> <base64 of 32 bytes>     older keys only unwrap
//
// PLEXSPHERE_KEK may also be a single bare base64 key; its id is then the
// first 8 hex digits of the SHA-256 of the key. A missing file is created
// with one fresh key. Replicas must share the file (or the same
// PLEXSPHERE_KEK), as they share the master key.
//
// # Rotation without downtime
//
// RotateKEK puts a new key first in the file (atomic rename) and re-wraps
// every DEK under it, row by row, each update conditioned on the row still
// holding the old wrapped key, so a concurrent write is never lost; values
// are never re-encrypted. Running servers keep working throughout: a
// server that meets a KEK id it does not hold re-reads the file (at most
// once a second), and a writing server notices a changed file (checked at
// most once a second) and wraps under the new active key from then on. A
// write that wrapped under the old key while the rotation ran is left
// under it; a second rotation run (or RotateKEK's re-wrap alone, Rewrap)
// moves it. DropUnusedKEKs then removes the old keys no row uses any more.
//
// Nothing here logs; no error carries a value or key material.
package embedded
