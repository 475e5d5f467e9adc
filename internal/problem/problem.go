// Package problem is the one place where failures become RFC 9457 problems:
// the status, the snake_case `code`, the public detail, and (kept apart) the
// cause that only the server log sees.
package problem

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// TypeBase prefixes every problem type URI (api.md §2.3).
const TypeBase = "https://plexsphere.com/errors/"

// genericDetail is the fixed public detail of every 5xx (api.md §2.3).
var genericDetail = map[int]string{
	http.StatusInternalServerError: "The server could not complete the request; the cause has been logged.",
	http.StatusServiceUnavailable:  "A dependency is unavailable; retry later.",
	http.StatusNotImplemented:      "This feature is not provisioned on this server.",
}

// Problem is an API error. It satisfies huma's StatusError, so handlers
// return it as an ordinary error.
type Problem struct {
	apiv1.Problem
	cause   error
	headers http.Header
}

// New builds a problem. detail is public: never put a secret or a raw
// internal error in it.
func New(status int, code, detail string) *Problem {
	p := &Problem{Problem: apiv1.Problem{
		Type:   TypeURI(code),
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Code:   code,
	}}
	if d, ok := genericDetail[status]; ok && detail == "" {
		p.Detail = d
	}
	return p
}

// Newf is New with a formatted detail.
func Newf(status int, code, format string, args ...any) *Problem {
	return New(status, code, fmt.Sprintf(format, args...))
}

// TypeURI is the problem type URI of a code.
func TypeURI(code string) string {
	return TypeBase + strings.ReplaceAll(code, "_", "-")
}

// Error implements error with the public detail; Cause has the rest.
func (p *Problem) Error() string {
	if p.cause != nil {
		return p.Code + ": " + p.Detail + ": " + p.cause.Error()
	}
	return p.Code + ": " + p.Detail
}

// Unwrap exposes the cause to errors.Is/As.
func (p *Problem) Unwrap() error { return p.cause }

// GetStatus implements huma.StatusError.
func (p *Problem) GetStatus() int { return p.Status }

// ContentType implements huma.ContentTypeFilter.
func (p *Problem) ContentType(ct string) string {
	if ct == "application/json" || ct == "" {
		return "application/problem+json"
	}
	return ct
}

// GetHeaders implements huma.HeadersError.
func (p *Problem) GetHeaders() http.Header { return p.headers }

// WithCause attaches the internal cause (logged, never sent).
func (p *Problem) WithCause(err error) *Problem { p.cause = err; return p }

// Cause returns the internal cause, if any.
func (p *Problem) Cause() error { return p.cause }

// WithHeader adds a response header (e.g. Retry-After).
func (p *Problem) WithHeader(k, v string) *Problem {
	if p.headers == nil {
		p.headers = http.Header{}
	}
	p.headers.Add(k, v)
	return p
}

// Internal is a 500 whose cause goes to the log only.
func Internal(cause error) *Problem {
	return New(http.StatusInternalServerError, "internal_error", "").WithCause(cause)
}

// Unavailable is a 503 for a dependency outage, with Retry-After.
func Unavailable(code string, cause error) *Problem {
	return New(http.StatusServiceUnavailable, code, "").WithCause(cause).WithHeader("Retry-After", "5")
}

// BadRequest is a 400.
func BadRequest(code, detail string) *Problem { return New(http.StatusBadRequest, code, detail) }

// NotFound is a 404 (only after authorization passed).
func NotFound(code, detail string) *Problem { return New(http.StatusNotFound, code, detail) }

// Conflict is a 409.
func Conflict(code, detail string) *Problem { return New(http.StatusConflict, code, detail) }

// Unprocessable is a 422.
func Unprocessable(code, detail string) *Problem {
	return New(http.StatusUnprocessableEntity, code, detail)
}

// Unauthenticated is the 401 for a missing or bad operator credential.
func Unauthenticated() *Problem {
	return New(http.StatusUnauthorized, "unauthenticated", "A valid credential is required.").
		WithHeader("WWW-Authenticate", `Bearer realm="plexsphere"`)
}

// NotProvisioned is the 501 of a switched-off or later-phase feature.
func NotProvisioned(area string) *Problem {
	return New(http.StatusNotImplemented, area+"_not_provisioned", "This feature is not provisioned on this server.")
}

// From passes problems through and hides any other error behind a 500 whose
// cause is logged.
func From(err error) error {
	if err == nil {
		return nil
	}
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	return Internal(err)
}
