package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/reqtext"
)

// StatusClientClosedRequest is the status of a request its client
// abandoned (nginx's 499): it is logged and audited as such, never as a
// server failure.
const StatusClientClosedRequest = 499

// huma's message for a body that could not be read.
const msgBodyUnreadable = "cannot read request body"

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
	if p := bodyReadError(status, msg, errs); p != nil {
		return p
	}
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
		case d.Location == "body.origin",
			d.Location == "body" && d.Message == "expected required property origin to be present":
			// The contract's code for a Resource origin outside
			// {adopted, provisioned}, or none (issue 8): only
			// CreateResource has a body field named origin.
			return "invalid_resource_origin", "origin must be adopted or provisioned"
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

// bodyReadError classifies a failure to read the body: text the checking
// reader refused is 400 invalid_body (issue 7 row 6); any other read
// failure but a timeout (huma's 408) is the client going away mid-body
// (issue 7 row 13).
func bodyReadError(status int, msg string, errs []error) *problem.Problem {
	for _, err := range errs {
		if errors.Is(err, reqtext.ErrInvalid) {
			return problem.BadRequest("invalid_body", "A string in the body contains NUL or invalid UTF-8.")
		}
	}
	if status == http.StatusInternalServerError && msg == msgBodyUnreadable {
		return problem.New(StatusClientClosedRequest, "client_closed_request",
			"The client closed the connection before the body was read.").WithCause(errors.Join(errs...))
	}
	return nil
}
