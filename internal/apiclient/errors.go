package apiclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// maxFallbackDetail caps the body excerpt used as Detail when an error
// answer is not a problem document.
const maxFallbackDetail = 256

// Error is a non-2xx answer of the API. The embedded Problem is the decoded
// problem+json body (api.md §2.3); when the body was not a problem, Problem
// is synthesized: Status from the response, Title from the status text,
// Detail from the start of the body, and Code empty.
type Error struct {
	apiv1.Problem
	// Method and Path name the call that failed (Path without the query).
	Method string
	Path   string
	// RetryAfter is the Retry-After delay of a 429 or 503, else zero.
	RetryAfter time.Duration
	// FromProblem reports whether the body was a problem document.
	FromProblem bool
	// Challenge is the WWW-Authenticate header of the answer, e.g. the
	// RFC 9470 challenge of a 401 step_up_required.
	Challenge string
}

// Error renders "METHOD PATH: STATUS TITLE: DETAIL (code CODE)".
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiclient: %s %s: %d %s", e.Method, e.Path, e.Status, e.Title)
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	if e.Code != "" {
		b.WriteString(" (code " + e.Code + ")")
	}
	return b.String()
}

// IsCode reports whether err is, or wraps, an *Error with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// StatusCode returns the HTTP status of an *Error in err's chain, or 0.
func StatusCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// readError turns a non-2xx response into *Error.
func readError(resp *http.Response, method, path string) *Error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &Error{Method: method, Path: path, RetryAfter: retryAfter(resp.Header.Get("Retry-After")),
		Challenge: resp.Header.Get("WWW-Authenticate")}
	if p, ok := decodeProblem(resp.Header.Get("Content-Type"), body); ok {
		e.Problem, e.FromProblem = p, true
	} else {
		e.Detail = excerpt(body)
	}
	if e.Status == 0 {
		e.Status = resp.StatusCode
	}
	if e.Title == "" {
		e.Title = http.StatusText(resp.StatusCode)
	}
	return e
}

// decodeProblem accepts a JSON object with at least a code or a title, sent
// as problem+json or plain JSON (some proxies rewrite the media type).
func decodeProblem(contentType string, body []byte) (apiv1.Problem, bool) {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt != mediaProblem && mt != mediaJSON {
		return apiv1.Problem{}, false
	}
	var p apiv1.Problem
	if err := json.Unmarshal(body, &p); err != nil {
		return apiv1.Problem{}, false
	}
	if p.Code == "" && p.Title == "" {
		return apiv1.Problem{}, false
	}
	return p, true
}

// excerpt returns the start of a non-problem body as one printable line.
func excerpt(body []byte) string {
	if !utf8.Valid(body) {
		return ""
	}
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > maxFallbackDetail {
		cut := maxFallbackDetail
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// retryAfter parses delta-seconds (the only form the API sends, §2.10).
func retryAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}
