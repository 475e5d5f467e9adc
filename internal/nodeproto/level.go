package nodeproto

import "strings"

// Protocol levels (§1.2). Level 1 is what the existing public plexd agent
// speaks; every higher level only adds (§1.4). A released level never changes:
// a new capability gets a new level and a new line below.
//
// Change list:
//
//   - 2026-11-29, level 1: spec/node-protocol.md as the existing public agent
//     speaks it (the level every request without X-Plexd-Protocol gets).
//   - 2026-11-29, level 2: the first plexsphere extensions: the SignedEnvelope
//     member key_id, an unsigned hint naming the signing key (§7.1, X6), and
//     rotate_keys (event and heartbeat flag) honoured by a WireGuard key
//     rotation through POST /v1/keys/rotate (§10 E4, §12.1).
//   - 2026-12-04, level 2, additive: registration answers carry
//     node_secret_key_sealed, the NSK sealed to the node's WireGuard key; a
//     replay of a node registered at level 2 carries it only sealed
//     (issue 7 row 2, docs/enrolment.md). Level 1 is unchanged.
const (
	Level1 = 1
	Level2 = 2

	// MaxLevel is the highest level this build speaks: plexd's n (N1) and
	// the control plane's M (N3).
	MaxLevel = Level2
)

// Header names used by the node protocol.
const (
	// HeaderPlexdProtocol carries the agent's highest level on every request (N1).
	HeaderPlexdProtocol = "X-Plexd-Protocol"
	// HeaderPlexsphereProtocol carries the negotiated level on every response
	// to a request that sent HeaderPlexdProtocol (N3).
	HeaderPlexsphereProtocol = "X-Plexsphere-Protocol"
	// HeaderLastEventID resumes the event stream (§6.3).
	HeaderLastEventID = "Last-Event-ID"
	// HeaderRetryAfter is integer seconds, required on every 429 and 503 (R3).
	HeaderRetryAfter = "Retry-After"
	// HeaderIdempotencyKey is sent per telemetry batch by our plexd (§12.7, level 2).
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderAuthorization carries "Bearer <bootstrap token>" or "Bearer <NSK>" (§2.2).
	HeaderAuthorization = "Authorization"
)

// Media types of the node protocol.
const (
	ContentTypeJSON        = "application/json"
	ContentTypeProblemJSON = "application/problem+json"
	// ContentTypeEventStream is the exact Content-Type of the event stream (§6.1).
	ContentTypeEventStream = "text/event-stream; charset=utf-8"
	ContentTypeOctetStream = "application/octet-stream"
)

// UserAgentPrefix starts every agent User-Agent ("plexd/<version>", §2.2);
// it is informational and never a basis for decisions.
const UserAgentPrefix = "plexd/"

// ParseLevel reads an X-Plexd-Protocol or X-Plexsphere-Protocol value. A
// missing value, or one that is not a decimal integer ≥ 1 (signs, inner
// spaces, fractions), is level 1 (N2, N5). Huge values saturate at
// maxParsedLevel, so min(n, MaxLevel) stays correct.
func ParseLevel(h string) int {
	h = strings.TrimSpace(h)
	if h == "" {
		return Level1
	}
	n := 0
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c < '0' || c > '9' {
			return Level1
		}
		if n < maxParsedLevel {
			n = min(n*10+int(c-'0'), maxParsedLevel)
		}
	}
	if n < 1 {
		return Level1
	}
	return n
}

// maxParsedLevel caps parsed levels well inside a 32-bit int.
const maxParsedLevel = 100_000_000

// NegotiateLevel is L = min(n, M) (N3), with n the agent's announced level
// (already parsed by ParseLevel) and M the control plane's highest level.
func NegotiateLevel(agent, cp int) int {
	l := min(agent, cp)
	if l < Level1 {
		return Level1
	}
	return l
}
