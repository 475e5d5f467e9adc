// Package envelope owns the SignedEnvelope of spec/node-protocol.md §7 and
// the SSE framing that carries it (§6.2): the canonical signing bytes
// (§7.2), Ed25519 signing at emission with a fresh nonce and issued_at
// (§7.3), verification in the spec's order with the ±5 minute freshness
// window, key rotation with a transition deadline (§8) and a bounded nonce
// replay cache (§7.4), and a frame writer and hardened frame reader for the
// event stream.
//
// The canonical bytes are not JCS (RFC 8785): they are exactly what Go's
// encoding/json produces for the five signed fields, so the payload keeps
// its member order, duplicates and number spelling byte for byte. The
// package implements that layout directly and a differential test holds it
// equal to encoding/json.
//
// Both the control plane (signing, framing) and plexd (parsing,
// verification) import it; it depends on the standard library and
// internal/nodeproto only.
package envelope
