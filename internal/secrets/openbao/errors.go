package openbao

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/openbao/openbao/api/v2"

	"github.com/plexsphere/plexsphere/internal/secrets/backend"
)

// statusOf is the HTTP status of an OpenBao error answer (0 for anything
// else).
func statusOf(err error) int {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// classify maps a client error to the backend's errors. The message keeps
// the operation, the status and OpenBao's own error strings (which never
// carry a request body); never the client's error text, which holds the
// request URL and could one day hold more.
func classify(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("openbao: %s: %w", op, ctx.Err())
	}
	var re *api.ResponseError
	if !errors.As(err, &re) {
		// Transport failures: refused, reset, TLS, DNS, the client's own
		// timeout. Keep only the innermost cause's kind.
		return fmt.Errorf("openbao: %s: %w: %s", op, backend.ErrUnavailable, transportCause(err))
	}
	var kind error
	switch code := re.StatusCode; {
	case code == http.StatusBadRequest && mentions(re.Errors, "check-and-set"):
		kind = backend.ErrConflict
	case code == http.StatusForbidden:
		kind = backend.ErrDenied
	case code == http.StatusNotFound:
		kind = backend.ErrNotFound
	case code == http.StatusTooManyRequests, code == http.StatusInternalServerError, code == http.StatusBadGateway,
		code == http.StatusServiceUnavailable, code == http.StatusGatewayTimeout:
		kind = backend.ErrUnavailable
	default:
		return fmt.Errorf("openbao: %s: HTTP %d: %s", op, re.StatusCode, summary(re.Errors))
	}
	return fmt.Errorf("openbao: %s: %w (HTTP %d: %s)", op, kind, re.StatusCode, summary(re.Errors))
}

func mentions(errs []string, s string) bool {
	for _, e := range errs {
		if strings.Contains(e, s) {
			return true
		}
	}
	return false
}

// summary joins OpenBao's error strings on one line, bounded.
func summary(errs []string) string {
	s := strings.Join(strings.Fields(strings.Join(errs, "; ")), " ")
	if s == "" {
		s = "no detail"
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// transportCause names a transport failure without the URL.
func transportCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}
