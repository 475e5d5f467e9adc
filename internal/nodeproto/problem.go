package nodeproto

import (
	"net/http"
	"strings"
)

// Problem is the RFC 9457 error body (R2; api.md §2.3). Agents log at most
// its first 4 KiB and never parse it; the control plane builds it in one
// place from its own error mapping.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail"`
	Instance string `json:"instance"`
	Code     string `json:"code"`
}

// ProblemTypeBase prefixes every problem type URI; the code follows with
// "_" replaced by "-" (api.md §2.3).
const ProblemTypeBase = "https://plexsphere.com/errors/"

// NewProblem builds a problem body for status and a snake_case code.
func NewProblem(status int, code, detail string) Problem {
	return Problem{
		Type:   ProblemTypeBase + strings.ReplaceAll(code, "_", "-"),
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Code:   code,
	}
}

// Problem codes of the node protocol (§3.3, §4.3, §11).
const (
	CodeUnauthenticated          = "unauthenticated"            // 401: no or non-Bearer Authorization
	CodeUnauthorized             = "unauthorized"               // 401: NSK unknown
	CodeNSKRevoked               = "nsk_revoked"                // 401
	CodeNodeIDMismatch           = "node_id_mismatch"           // 403
	CodeUnavailable              = "unavailable"                // 503 + Retry-After
	CodeRateLimited              = "rate_limited"               // 429 + Retry-After
	CodeInvalidRequest           = "invalid_request"            // 400: malformed JSON or public_key
	CodeInvalidToken             = "invalid_token"              // 401
	CodeTokenExpired             = "token_expired"              // 401
	CodeTokenConsumed            = "token_consumed"             // 401
	CodeTokenMismatch            = "token_mismatch"             // 401
	CodeRegistrationDenied       = "registration_denied"        // 403
	CodePublicKeyConflict        = "public_key_conflict"        // 409
	CodeSecretNotFound           = "secret_not_found"           // 404
	CodeProtocolDowngradeRefused = "protocol_downgrade_refused" // 403, level 2 (§11.2)
)
