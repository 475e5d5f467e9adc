package actions

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/labels"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/selector"
	"github.com/plexsphere/plexsphere/internal/store"
)

const (
	executionsPath = "/v1/projects/{project_id}/executions"
	executionPath  = executionsPath + "/{execution_id}"
	tag            = "Actions"
)

// Problem codes.
const (
	CodeInvalidBody        = "invalid_body"
	CodeMalformedSelector  = "malformed_selector"
	CodeActionNotDeclared  = "action_not_declared"
	CodeEmptyCohort        = "selector_empty_cohort"
	CodeCapacityExceeded   = "capacity_exceeded"
	CodeExecutionNotFound  = "execution_not_found"
	CodeInvalidExecutionID = "invalid_execution_id"
	CodeInvalidProjectID   = "invalid_project_id"
	CodeNodeNotFound       = "node_not_found"
	CodeIdempotentReplay   = "idempotent_replay"
)

// Skip reasons.
const (
	SkipPermission  = "insufficient_relation"
	SkipNotDeclared = "action_not_declared"
	SkipDrifted     = "drifted"
)

// Types of action.
const (
	TypeBuiltin = "builtin"
	TypeHook    = "hook"
)

// level1Builtins are the built-ins every agent has, manifest or not.
var level1Builtins = []string{nodeproto.BuiltinGatherInfo, nodeproto.BuiltinPing}

// ProjectParams is the Project of the path.
type ProjectParams struct {
	ProjectID string `path:"project_id" doc:"The Project (UUID)."`
}

type dispatchInput struct {
	ProjectParams
	Body apiv1.DispatchExecutionRequest
}

type executionOutput struct {
	Body apiv1.Execution
}

type previewOutput struct {
	Body apiv1.DispatchPreview
}

func (s *Service) registerExecutions(api huma.API) {
	op := route.Op(http.MethodPost, executionsPath+":dispatch", "DispatchExecution", "execution.dispatch", route.Operator,
		"Run an action or hook on a node, a node list or every node a selector matches", tag)
	op.DefaultStatus = http.StatusCreated
	op.MaxBodyBytes = 64 << 10
	huma.Register(api, op, s.dispatch)
	op = route.Op(http.MethodPost, executionsPath+":preview", "PreviewExecution", "execution.preview", route.Operator,
		"Ours: resolve and check a dispatch's targets without running anything (dry run)", tag)
	op.MaxBodyBytes = 64 << 10
	huma.Register(api, op, s.preview)
	huma.Register(api, route.Op(http.MethodGet, executionsPath, "ListExecutions", "execution.list", route.Operator,
		"List a Project's executions (metadata only), oldest first", tag), s.list)
	huma.Register(api, route.Op(http.MethodGet, executionPath, "GetExecution", "execution.read", route.Operator,
		"Read an execution with every target's status and output", tag), s.get)
	op = route.Op(http.MethodPost, executionPath+"/cancel", "CancelExecution", "execution.cancel", route.Operator,
		"Ours: cancel an execution: targets not started are cancelled, running ones are told to stop", tag)
	huma.Register(api, op, s.cancel)
}

func parseUUID(code, s string) (string, error) {
	u, err := uuid.Parse(s)
	if err != nil || u == uuid.Nil || len(s) != 36 {
		return "", problem.BadRequest(code, "The id must be a UUID.")
	}
	return u.String(), nil
}

// plan is a resolved dispatch.
type plan struct {
	domainID string
	run      []string
	skipped  []apiv1.SkippedTarget
	// checksums are the hook's declared digest per node (hooks only).
	checksums map[string]string
	// denied is the refusal of project#dispatch (nil: granted).
	denied error
}

// resolve checks the request and resolves its targets at this moment:
// each node the request names, filtered by ReBAC node-operate, the
// node's declared capabilities and drift. The skipped nodes keep their
// reason.
func (s *Service) resolve(ctx context.Context, pid string, req *apiv1.DispatchExecutionRequest) (plan, error) {
	var p plan
	// project#dispatch covers every node of the Project; without it a
	// caller may still run on the nodes it may operate (a Resource's
	// operator), and is refused only when that is none of them.
	denied := s.cfg.Authz.Check(ctx, "dispatch", "project:"+pid)
	p.denied = denied
	proj, err := s.cfg.Projects.GetProject(ctx, s.cfg.DB, pid)
	if err != nil {
		if denied != nil {
			return p, denied
		}
		return p, err
	}
	p.domainID = proj.DomainID
	audit.RequestFrom(ctx).Target(proj.DomainID, "project", pid)
	if req.Type == "" {
		req.Type = TypeBuiltin
	}
	if !validAction(req.Action) {
		return p, problem.BadRequest(CodeInvalidBody, "action is a name of letters, digits, '.', '_' or '-' (at most 128).")
	}
	if _, err := params(req.Parameters); err != nil {
		return p, err
	}
	forms := 0
	for _, set := range []bool{req.NodeID != "", len(req.NodeIDs) > 0, req.Selector != ""} {
		if set {
			forms++
		}
	}
	if forms != 1 {
		return p, problem.BadRequest(CodeInvalidBody, "Name the targets with exactly one of node_id, node_ids or selector.")
	}
	nodes, err := labels.ProjectNodes(ctx, s.cfg.DB, pid)
	if err != nil {
		return p, problem.Internal(err)
	}
	var candidates []string
	switch {
	case req.Selector != "":
		sel, err := selector.Parse(req.Selector)
		if err != nil {
			return p, problem.BadRequest(CodeMalformedSelector, "The selector does not parse: "+err.Error())
		}
		for id, l := range nodes {
			if sel.Matches(l) {
				candidates = append(candidates, id)
			}
		}
	default:
		ids := req.NodeIDs
		if req.NodeID != "" {
			ids = []string{req.NodeID}
		}
		for _, id := range ids {
			if _, ok := nodes[id]; !ok {
				return p, problem.NotFound(CodeNodeNotFound, "No live node "+strconv.Quote(id)+" in this Project.")
			}
			candidates = append(candidates, id)
		}
	}
	slices.Sort(candidates)
	candidates = slices.Compact(candidates)
	if err := s.filter(ctx, &p, candidates, req); err != nil {
		return p, err
	}
	if denied != nil && len(p.run) == 0 && !slices.ContainsFunc(p.skipped, func(sk apiv1.SkippedTarget) bool { return sk.Reason != SkipPermission }) {
		return p, denied // the caller may operate none of them
	}
	return p, nil
}

// filter splits candidates into runnable and skipped targets.
func (s *Service) filter(ctx context.Context, p *plan, candidates []string, req *apiv1.DispatchExecutionRequest) error {
	objects := make([]string, len(candidates))
	for i, id := range candidates {
		objects[i] = "node:" + id
	}
	var allowed []bool
	if v, ok := s.cfg.Authz.(Visibility); ok {
		var err error
		if allowed, err = v.Visible(ctx, "node-operate", objects); err != nil {
			return problem.Unavailable("authz_unavailable", err)
		}
	} else {
		allowed = make([]bool, len(candidates))
		for i := range allowed {
			allowed[i] = s.cfg.Authz.Check(ctx, "node-operate", objects[i]) == nil
		}
	}
	caps, err := loadManifests(ctx, s.cfg.DB, candidates)
	if err != nil {
		return problem.Internal(err)
	}
	drifted, err := s.driftedNodes(ctx, candidates)
	if err != nil {
		return problem.Internal(err)
	}
	p.checksums = map[string]string{}
	declaredSomewhere := false
	for i, id := range candidates {
		sum, declared := caps[id].declares(req.Type, req.Action)
		declaredSomewhere = declaredSomewhere || declared
		switch {
		case !allowed[i]:
			p.skipped = append(p.skipped, apiv1.SkippedTarget{NodeID: id, Reason: SkipPermission})
		case !declared:
			p.skipped = append(p.skipped, apiv1.SkippedTarget{NodeID: id, Reason: SkipNotDeclared})
		case drifted[id] != "" && !req.IncludeDrifted:
			p.skipped = append(p.skipped, apiv1.SkippedTarget{NodeID: id, Reason: SkipDrifted, Detail: drifted[id]})
		default:
			p.run = append(p.run, id)
			if sum != "" {
				p.checksums[id] = sum
			}
		}
	}
	if len(candidates) > 0 && !declaredSomewhere && slices.Contains(allowed, true) {
		return problem.BadRequest(CodeActionNotDeclared, "No target declares the "+req.Type+" "+strconv.Quote(req.Action)+
			" in its capability manifest.")
	}
	return nil
}

// validAction is a plain action or hook name.
func validAction(a string) bool {
	if a == "" || len(a) > 128 {
		return false
	}
	for _, c := range a {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// params decodes a dispatch's parameters into the agent's string form
// (AC1: numbers and booleans as strings), bounded.
func params(raw json.RawMessage) (map[string]string, error) {
	out := map[string]string{}
	if len(raw) == 0 || string(raw) == "null" {
		return out, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, problem.BadRequest(CodeInvalidBody, "parameters must be an object of strings, numbers or booleans.")
	}
	if len(m) > 64 {
		return nil, problem.BadRequest(CodeInvalidBody, "At most 64 parameters.")
	}
	for k, v := range m {
		if k == "" || len(k) > 64 {
			return nil, problem.BadRequest(CodeInvalidBody, "A parameter name is empty or longer than 64 bytes.")
		}
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case float64:
			s = strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			s = strconv.FormatBool(v)
		default:
			return nil, problem.BadRequest(CodeInvalidBody, "Parameter "+strconv.Quote(k)+" is not a string, number or boolean.")
		}
		if len(s) > 4096 {
			return nil, problem.BadRequest(CodeInvalidBody, "Parameter "+strconv.Quote(k)+" is longer than 4 KiB.")
		}
		out[k] = s
	}
	return out, nil
}

func (s *Service) preview(ctx context.Context, in *dispatchInput) (*previewOutput, error) {
	pid, err := parseUUID(CodeInvalidProjectID, in.ProjectID)
	if err != nil {
		return nil, err
	}
	p, err := s.resolve(ctx, pid, &in.Body)
	if err != nil {
		return nil, err
	}
	out := apiv1.DispatchPreview{Targets: p.run, Skipped: p.skipped}
	if out.Targets == nil {
		out.Targets = []string{}
	}
	if out.Skipped == nil {
		out.Skipped = []apiv1.SkippedTarget{}
	}
	return &previewOutput{Body: out}, nil
}

// dispatch creates the execution, records what it skipped and starts the
// rollout, in one transaction with its audit entry.
func (s *Service) dispatch(ctx context.Context, in *dispatchInput) (*executionOutput, error) {
	pid, err := parseUUID(CodeInvalidProjectID, in.ProjectID)
	if err != nil {
		return nil, err
	}
	req := in.Body
	caller := principal.From(ctx)
	if caller == nil {
		return nil, problem.Unauthenticated()
	}
	if req.IdempotencyKey != "" {
		var id string
		err := s.cfg.DB.QueryRowContext(ctx, `SELECT id FROM executions WHERE created_by = $1 AND idempotency_key = $2`,
			caller.Ref(), req.IdempotencyKey).Scan(&id)
		if err == nil { // the caller's own earlier dispatch
			ex, err := s.load(ctx, pid, id, true)
			if err != nil {
				return nil, err
			}
			return &executionOutput{Body: ex}, nil
		} else if !errors.Is(err, sql.ErrNoRows) {
			return nil, problem.Internal(err)
		}
	}
	p, err := s.resolve(ctx, pid, &req)
	if err != nil {
		return nil, err
	}
	if len(p.run) == 0 {
		return nil, problem.Unprocessable(CodeEmptyCohort, "No target is left to run on: "+skipSummary(p.skipped)+".")
	}
	timeout := s.cfg.DefaultTimeout
	if req.TimeoutSeconds > 0 {
		timeout = time.Duration(req.TimeoutSeconds) * time.Second
	}
	timeout = min(timeout, nodeproto.MaxActionTimeout)
	parameters, _ := params(req.Parameters)
	rawParams, _ := json.Marshal(parameters)
	id := uuid.Must(uuid.NewV7()).String()
	now := store.Micros(s.cfg.Now())
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		var live int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM executions WHERE domain_id = $1
			AND status IN ('pending', 'ack', 'started')`, p.domainID).Scan(&live); err != nil {
			return err
		}
		if live >= s.cfg.MaxLive {
			return problem.New(http.StatusTooManyRequests, CodeCapacityExceeded,
				"The Domain has "+strconv.Itoa(live)+" live executions, its cap (live_executions).").WithHeader("Retry-After", "30")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO executions (id, domain_id, project_id, action, type, parameters, selector,
			timeout_seconds, max_in_flight, stop_after_failures, batch_size, status, idempotency_key, created_by, created_at, updated_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,'pending',$12,$13,$14,$14)`,
			id, p.domainID, pid, req.Action, req.Type, string(rawParams), req.Selector, int(timeout/time.Second),
			req.MaxInFlight, req.StopAfterFailures, req.BatchSize, req.IdempotencyKey, caller.Ref(), now); err != nil {
			return err
		}
		for i, n := range p.run {
			if _, err := tx.ExecContext(ctx, `INSERT INTO execution_targets (execution_id, node_id, seq, status, created_at, updated_at)
				VALUES ($1, $2, $3, 'pending', $4, $4)`, id, n, i, now); err != nil {
				return err
			}
		}
		for _, sk := range p.skipped {
			if _, err := tx.ExecContext(ctx, `INSERT INTO execution_skips (execution_id, node_id, reason) VALUES ($1, $2, $3)`,
				id, sk.NodeID, sk.Reason); err != nil {
				return err
			}
		}
		audit.RequestFrom(ctx).Target(p.domainID, "execution", id)
		if err := s.cfg.Audit.Commit(ctx, tx); err != nil {
			return err
		}
		return s.schedule(ctx, tx, id)
	})
	if err != nil {
		if store.IsUniqueViolation(err) {
			return nil, problem.Conflict(CodeIdempotentReplay, "A dispatch with this idempotency_key is being answered; retry it.")
		}
		return nil, problem.From(err)
	}
	ex, err := s.load(ctx, pid, id, true)
	if err != nil {
		return nil, err
	}
	return &executionOutput{Body: ex}, nil
}

func skipSummary(sk []apiv1.SkippedTarget) string {
	if len(sk) == 0 {
		return "the selector matched no node"
	}
	n := map[string]int{}
	for _, s := range sk {
		n[s.Reason]++
	}
	var parts []string
	for _, r := range []string{SkipPermission, SkipNotDeclared, SkipDrifted} {
		if n[r] > 0 {
			parts = append(parts, strconv.Itoa(n[r])+" "+strings.ReplaceAll(r, "_", " "))
		}
	}
	return "every matched node was skipped (" + strings.Join(parts, ", ") + ")"
}
