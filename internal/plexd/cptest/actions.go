package cptest

import (
	"net/http"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// ExecutionCall is one execution callback as the server saw it.
type ExecutionCall struct {
	NodeID, ExecutionID string
	Ack                 *nodeproto.ExecutionAck    // …/ack
	Result              *nodeproto.ExecutionResult // …/result
}

// routeActions serves the executor's endpoints (§5.2 10, 12, 13, 20):
// every well-formed body is accepted and handed to Capabilities,
// Executions and Violations.
func (s *Server) routeActions(mux *http.ServeMux) {
	s.Capabilities = make(chan nodeproto.Capabilities, 1024)
	s.Executions = make(chan ExecutionCall, 1024)
	s.Violations = make(chan nodeproto.IntegrityViolation, 1024)
	mux.HandleFunc("PUT /v1/nodes/{id}/capabilities", s.auth(func(w http.ResponseWriter, r *http.Request, n *node) {
		var c nodeproto.Capabilities
		if accept(w, r, &c) {
			send(s.Capabilities, c)
		}
	}))
	mux.HandleFunc("POST /v1/nodes/{id}/executions/{exec}/ack", s.auth(func(w http.ResponseWriter, r *http.Request, n *node) {
		var a nodeproto.ExecutionAck
		if accept(w, r, &a) {
			send(s.Executions, ExecutionCall{NodeID: n.id, ExecutionID: r.PathValue("exec"), Ack: &a})
		}
	}))
	mux.HandleFunc("POST /v1/nodes/{id}/executions/{exec}/result", s.auth(func(w http.ResponseWriter, r *http.Request, n *node) {
		var res nodeproto.ExecutionResult
		if accept(w, r, &res) {
			send(s.Executions, ExecutionCall{NodeID: n.id, ExecutionID: r.PathValue("exec"), Result: &res})
		}
	}))
	mux.HandleFunc("POST /v1/nodes/{id}/integrity/violations", s.auth(func(w http.ResponseWriter, r *http.Request, n *node) {
		var v nodeproto.IntegrityViolation
		if accept(w, r, &v) {
			send(s.Violations, v)
		}
	}))
}

// accept decodes the body into v and answers 204, or 400.
func accept(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := decode(r, v); err != nil {
		problem(w, http.StatusBadRequest, nodeproto.CodeInvalidRequest)
		return false
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}
