package actions

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
)

// Callback codes.
const (
	CodeInvalidTransition = "invalid_state_transition"
	CodeAlreadyTerminal   = "execution_already_terminal"
)

// maxResultBody bounds a result: two 1 MiB streams and the JSON around.
const maxResultBody = 2<<20 + 64<<10

// NodeExecParams names a node's execution.
type NodeExecParams struct {
	ID          string `path:"id" doc:"The node id."`
	ExecutionID string `path:"execution_id" doc:"The execution id."`
}

type rawInput struct {
	NodeExecParams
	RawBody []byte
}

type callbackOutput struct {
	Body apiv1.ExecutionCallbackResponse
}

func (s *Service) registerNode(api huma.API) {
	op := route.Op(http.MethodPost, "/v1/nodes/{id}/executions/{execution_id}/ack", "postNodeExecutionAck", "node.execution.ack",
		route.Node, "Level 1: the node accepts or rejects an action_request (§12.5)", "Nodes")
	op.DefaultStatus = http.StatusNoContent
	op.MaxBodyBytes = 8 << 10
	huma.Register(api, op, s.ack)
	op = route.Op(http.MethodPost, "/v1/nodes/{id}/executions/{execution_id}/result", "postNodeExecutionResult",
		"node.execution.result", route.Node, "Level 1: an execution's result (§12.5); repeats are accepted", "Nodes")
	op.DefaultStatus = http.StatusNoContent
	op.MaxBodyBytes = maxResultBody
	huma.Register(api, op, s.resultCallback)
	op = route.Op(http.MethodPost, "/v1/nodes/{id}/executions/{execution_id}", "PostNodeExecutionCallback", "node.execution.callback",
		route.Node, "The contract's callback: advance the node's target along pending → ack → started → final", "Nodes")
	op.MaxBodyBytes = 64 << 10
	huma.Register(api, op, s.callback)
}

// nodeTarget checks the caller and that the node is a target of the
// execution (404 execution_not_found otherwise).
func (s *Service) nodeTarget(ctx context.Context, p NodeExecParams) error {
	if !nodeproto.ValidID(p.ID) {
		return problem.BadRequest("invalid_node_id", "The node id is not valid.")
	}
	if s.cfg.Caller != nil {
		if caller, ok := s.cfg.Caller(ctx); !ok || caller != p.ID {
			return problem.New(http.StatusForbidden, "nsk_node_mismatch", "The credential belongs to another node.")
		}
	}
	var domainID string
	err := s.cfg.DB.QueryRowContext(ctx, `SELECT e.domain_id FROM execution_targets t JOIN executions e ON e.id = t.execution_id
		WHERE t.execution_id = $1 AND t.node_id = $2`, p.ExecutionID, p.ID).Scan(&domainID)
	if errors.Is(err, sql.ErrNoRows) {
		return problem.NotFound(CodeExecutionNotFound, "This node has no target of that execution.")
	} else if err != nil {
		return problem.Internal(err)
	}
	audit.RequestFrom(ctx).Target(domainID, "execution", p.ExecutionID)
	return nil
}

// ack maps the level-1 ack: accepted → ack; rejected → failed with the
// agent's reason kept in the target's detail.
func (s *Service) ack(ctx context.Context, in *rawInput) (*struct{}, error) {
	if err := s.nodeTarget(ctx, in.NodeExecParams); err != nil {
		return nil, err
	}
	r, ignore, err := parseAck(in.RawBody)
	if err != nil || ignore {
		return nil, err
	}
	r.execID, r.nodeID, r.by = in.ExecutionID, in.ID, "node:"+in.ID
	return nil, s.settleTx(ctx, r)
}

// parseAck decodes a level-1 ExecutionAck into the target's new status;
// ignore is true for a redelivery the node already had.
func parseAck(raw []byte) (r result, ignore bool, err error) {
	var a nodeproto.ExecutionAck
	if err := json.Unmarshal(raw, &a); err != nil || (a.Status != nodeproto.AckAccepted && a.Status != nodeproto.AckRejected) {
		return r, false, problem.BadRequest(CodeInvalidBody, "The body must be an ExecutionAck {execution_id, status accepted|rejected, reason}.")
	}
	if a.Status == nodeproto.AckRejected && a.Reason == nodeproto.AckReasonDuplicateExecutionID {
		return r, true, nil
	}
	r.status = StatusAck
	if a.Status == nodeproto.AckRejected {
		r.status, r.detail = StatusFailed, "rejected: "+clean(a.Reason)
	}
	return r, false, nil
}

// resultCallback maps the level-1 result: success → succeeded, failed and
// error → failed, timeout, cancelled; the agent's status is kept in the
// detail when it differs. Repeats and late results change nothing (AC3).
func (s *Service) resultCallback(ctx context.Context, in *rawInput) (*struct{}, error) {
	if err := s.nodeTarget(ctx, in.NodeExecParams); err != nil {
		return nil, err
	}
	r, err := parseResult(in.RawBody)
	if err != nil {
		return nil, err
	}
	r.execID, r.nodeID, r.by = in.ExecutionID, in.ID, "node:"+in.ID
	return nil, s.settleTx(ctx, r)
}

// parseResult decodes a level-1 ExecutionResult (or ours, with error).
func parseResult(raw []byte) (result, error) {
	var res struct {
		nodeproto.ExecutionResult
		Error string `json:"error"` // level 2
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return result{}, problem.BadRequest(CodeInvalidBody, "The body must be an ExecutionResult.")
	}
	r := result{stdout: res.Stdout, stderr: res.Stderr}
	switch res.Status {
	case nodeproto.ResultSuccess:
		r.status = StatusSucceeded
	case nodeproto.ResultFailed:
		r.status = StatusFailed
	case nodeproto.ResultTimeout:
		r.status = StatusTimeout
	case nodeproto.ResultCancelled:
		r.status = StatusCancelled
	case nodeproto.ResultError:
		r.status, r.detail = StatusFailed, "error"
		if res.Error != "" {
			r.detail = "error: " + clean(res.Error)
		}
	default:
		return result{}, problem.BadRequest(CodeInvalidBody, "status must be success, failed, timeout, cancelled or error.")
	}
	exit := res.ExitCode
	r.exitCode = &exit
	if d, err := time.ParseDuration(res.Duration); err == nil && d >= 0 {
		ms := d.Milliseconds()
		r.durationMS = &ms
	}
	return r, nil
}

// callback serves the contract's callback: a CAS along the state machine
// (409 invalid_state_transition, execution_already_terminal).
func (s *Service) callback(ctx context.Context, in *rawInput) (*callbackOutput, error) {
	if err := s.nodeTarget(ctx, in.NodeExecParams); err != nil {
		return nil, err
	}
	req, err := parseCallback(in.RawBody)
	if err != nil {
		return nil, err
	}
	var out callbackOutput
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		var cur string
		if err := tx.QueryRowContext(ctx, `SELECT status FROM execution_targets WHERE execution_id = $1 AND node_id = $2`,
			in.ExecutionID, in.ID).Scan(&cur); err != nil {
			return err
		}
		switch {
		case terminal(cur):
			return problem.Conflict(CodeAlreadyTerminal, "The target already ended ("+cur+").")
		case rank(req.Status) <= rank(cur):
			return problem.Conflict(CodeInvalidTransition, "A target moves forward only: "+cur+" → "+req.Status+" is not allowed.")
		}
		r := result{execID: in.ExecutionID, nodeID: in.ID, status: req.Status, exitCode: req.ExitCode, detail: clean(req.Error),
			by: "node:" + in.ID}
		if req.Output != nil {
			r.stdout = string(req.Output.Inline)
		}
		if _, err := s.settle(ctx, tx, r); err != nil {
			return err
		}
		out.Body.Status = req.Status
		return nil
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return &out, nil
}

// parseCallback decodes the contract's callback body.
func parseCallback(raw []byte) (apiv1.ExecutionCallbackRequest, error) {
	var req apiv1.ExecutionCallbackRequest
	if err := json.Unmarshal(raw, &req); err != nil || rank(req.Status) == 3 && !terminal(req.Status) || req.Status == StatusPending {
		return req, problem.BadRequest(CodeInvalidBody, "status must be ack, started, succeeded, failed, cancelled or timeout.")
	}
	if req.Output != nil && len(req.Output.Inline) > 16<<10 {
		return req, problem.New(http.StatusRequestEntityTooLarge, "inline_output_too_large", "Inline output is at most 16 KiB.")
	}
	return req, nil
}

func (s *Service) settleTx(ctx context.Context, r result) error {
	return problem.From(s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		_, err := s.settle(ctx, tx, r)
		return err
	}))
}

// clean bounds a node-supplied text.
func clean(s string) string {
	return audit.Clean(s, 1024)
}
