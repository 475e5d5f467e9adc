package api

import (
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/problem"
)

// codeByStatus names the problems huma itself raises.
var codeByStatus = map[int]string{
	http.StatusBadRequest:            "invalid_body",
	http.StatusUnauthorized:          "unauthenticated",
	http.StatusForbidden:             "permission_denied",
	http.StatusNotFound:              "not_found",
	http.StatusMethodNotAllowed:      "method_not_allowed",
	http.StatusNotAcceptable:         "not_acceptable",
	http.StatusRequestTimeout:        "request_timeout",
	http.StatusRequestEntityTooLarge: "request_body_too_large",
	http.StatusUnsupportedMediaType:  "unsupported_media_type",
	http.StatusInternalServerError:   "internal_error",
}

// newError replaces huma.NewError: decoding and schema failures become 400
// invalid_body (a malformed limit becomes invalid_limit), everything carries
// a code, and 5xx details stay generic.
func newError(status int, msg string, errs ...error) huma.StatusError {
	var details []apiv1.ProblemDetail
	for _, err := range errs {
		if err == nil {
			continue
		}
		d := apiv1.ProblemDetail{Message: err.Error()}
		if ed, ok := err.(huma.ErrorDetailer); ok {
			hd := ed.ErrorDetail()
			d = apiv1.ProblemDetail{Location: hd.Location, Message: hd.Message}
		}
		details = append(details, d)
	}
	if status == http.StatusUnprocessableEntity {
		status = http.StatusBadRequest // a shape failure, not a broken invariant (api.md §2.3)
	}
	code := codeByStatus[status]
	if code == "" {
		code = strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "_"))
	}
	if status == http.StatusBadRequest {
		code, msg = refineBadRequest(details, msg)
	}
	if status >= 500 {
		msg = ""
		details = nil
	}
	p := problem.New(status, code, msg)
	p.Errors = details
	return p
}

// refineBadRequest turns parameter failures into their specific codes.
func refineBadRequest(details []apiv1.ProblemDetail, msg string) (string, string) {
	for _, d := range details {
		switch {
		case d.Location == "query.limit":
			return "invalid_limit", "limit must be an integer"
		case strings.HasPrefix(d.Location, "path."):
			name := strings.TrimPrefix(d.Location, "path.")
			return "invalid_" + strings.TrimSuffix(name, "_id") + "_id", "malformed " + name
		}
	}
	if msg == "validation failed" || msg == "" {
		msg = "The request body does not match the operation's schema."
	}
	return "invalid_body", msg
}
