package actions

import (
	"context"
	"database/sql"
	"errors"
	"strconv"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/store"
)

// ExecutionParams is the execution of the path.
type ExecutionParams struct {
	ProjectParams
	ExecutionID string `path:"execution_id" doc:"The execution (UUID)."`
}

func (in *ExecutionParams) ids() (string, string, error) {
	pid, err := parseUUID(CodeInvalidProjectID, in.ProjectID)
	if err != nil {
		return "", "", err
	}
	id, err := parseUUID(CodeInvalidExecutionID, in.ExecutionID)
	return pid, id, err
}

// load reads an execution of the Project, with its targets and skips when
// full.
func (s *Service) load(ctx context.Context, pid, id string, full bool) (apiv1.Execution, error) {
	var ex apiv1.Execution
	var created, updated int64
	err := s.cfg.DB.QueryRowContext(ctx, `SELECT id, project_id, domain_id, action, type, status, selector, max_in_flight,
		batch_size, created_at, updated_at FROM executions WHERE id = $1 AND project_id = $2`, id, pid).
		Scan(&ex.ID, &ex.ProjectID, &ex.DomainID, &ex.Action, &ex.Type, &ex.Status, &ex.Selector, &ex.MaxInFlight, &ex.BatchSize,
			&created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return ex, problem.NotFound(CodeExecutionNotFound, "No such execution in this Project.")
	} else if err != nil {
		return ex, problem.Internal(err)
	}
	ex.CreatedAt, ex.UpdatedAt, ex.Targets = store.Time(created), store.Time(updated), []apiv1.ExecutionTarget{}
	if !full {
		return ex, nil
	}
	rows, err := s.cfg.DB.QueryContext(ctx, `SELECT node_id, status, detail, exit_code, stdout, stderr, duration_ms, created_at,
		updated_at FROM execution_targets WHERE execution_id = $1 ORDER BY seq`, id)
	if err != nil {
		return ex, problem.Internal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var t apiv1.ExecutionTarget
		var exit sql.NullInt64
		var dur sql.NullInt64
		var c, u int64
		if err := rows.Scan(&t.NodeID, &t.Status, &t.Detail, &exit, &t.Stdout, &t.Stderr, &dur, &c, &u); err != nil {
			return ex, problem.Internal(err)
		}
		t.CreatedAt, t.UpdatedAt = store.Time(c), store.Time(u)
		if exit.Valid {
			v := int(exit.Int64)
			t.ExitCode = &v
		}
		if dur.Valid {
			t.DurationMS = &dur.Int64
		}
		if terminal(t.Status) && (t.Stdout != "" || t.Stderr != "") {
			out := t.Stdout
			if len(out) > 16<<10 {
				out = out[:16<<10]
			}
			t.OutputRef = &apiv1.OutputRef{Kind: "inline", InlineBytes: []byte(out)}
		}
		ex.Targets = append(ex.Targets, t)
	}
	if err := rows.Err(); err != nil {
		return ex, problem.Internal(err)
	}
	srows, err := s.cfg.DB.QueryContext(ctx, `SELECT node_id, reason FROM execution_skips WHERE execution_id = $1 ORDER BY node_id`, id)
	if err != nil {
		return ex, problem.Internal(err)
	}
	defer srows.Close()
	for srows.Next() {
		var sk apiv1.SkippedTarget
		if err := srows.Scan(&sk.NodeID, &sk.Reason); err != nil {
			return ex, problem.Internal(err)
		}
		ex.Skipped = append(ex.Skipped, sk)
	}
	return ex, srows.Err()
}

type listInput struct {
	ProjectParams
	Status     string `query:"status" enum:"pending,ack,started,succeeded,failed,cancelled,timeout" doc:"Only executions in this aggregate status."`
	ActionName string `query:"action_name" doc:"Only executions of this action."`
	page.Params
}

type listOutput struct {
	Body apiv1.List[apiv1.Execution]
}

// list serves ListExecutions: metadata only, in creation order.
func (s *Service) list(ctx context.Context, in *listInput) (*listOutput, error) {
	pid, err := parseUUID(CodeInvalidProjectID, in.ProjectID)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Authz.Check(ctx, "observe", "project:"+pid); err != nil {
		return nil, err
	}
	if _, err := s.cfg.Projects.GetProject(ctx, s.cfg.DB, pid); err != nil {
		return nil, err
	}
	scope := "executions.list?project_id=" + pid + "&status=" + in.Status + "&action=" + in.ActionName
	var pos struct {
		At int64  `json:"t"`
		ID string `json:"i"`
	}
	limit, err := s.cfg.Pages.Start(ctx, in.Params, scope, &pos)
	if err != nil {
		return nil, err
	}
	q := `SELECT id FROM executions WHERE project_id = $1 AND (created_at > $2 OR (created_at = $2 AND id > $3))`
	args := []any{pid, pos.At, pos.ID}
	if in.Status != "" {
		args = append(args, in.Status)
		q += ` AND status = $4`
	}
	if in.ActionName != "" {
		args = append(args, in.ActionName)
		q += ` AND action = $` + itoa(len(args))
	}
	args = append(args, limit+1)
	q += ` ORDER BY created_at, id LIMIT $` + itoa(len(args))
	ids, err := store.Strings(ctx, s.cfg.DB, q, args...)
	if err != nil {
		return nil, problem.Internal(err)
	}
	out := apiv1.List[apiv1.Execution]{Items: []apiv1.Execution{}}
	for i, id := range ids {
		if i == limit {
			last := out.Items[limit-1]
			pos.At, pos.ID = store.Micros(last.CreatedAt), last.ID
			if out.NextCursor, err = s.cfg.Pages.Next(ctx, scope, pos); err != nil {
				return nil, err
			}
			break
		}
		ex, err := s.load(ctx, pid, id, false)
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, ex)
	}
	return &listOutput{Body: out}, nil
}

func (s *Service) get(ctx context.Context, in *ExecutionParams) (*executionOutput, error) {
	pid, id, err := in.ids()
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Authz.Check(ctx, "observe", "project:"+pid); err != nil {
		return nil, err
	}
	ex, err := s.load(ctx, pid, id, true)
	if err != nil {
		return nil, err
	}
	return &executionOutput{Body: ex}, nil
}

// cancel stops an execution: targets not sent are cancelled, targets out
// are cancelled here and their nodes told to stop (the cancel built-in).
// A finished execution is answered as it is.
func (s *Service) cancel(ctx context.Context, in *ExecutionParams) (*executionOutput, error) {
	pid, id, err := in.ids()
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Authz.Check(ctx, "dispatch", "project:"+pid); err != nil {
		return nil, err
	}
	ex, err := s.load(ctx, pid, id, false)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target(ex.DomainID, "execution", id)
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		now := store.Micros(s.cfg.Now())
		res, err := tx.ExecContext(ctx, `UPDATE executions SET cancelled_at = $2, updated_at = $2 WHERE id = $1 AND cancelled_at IS NULL
			AND status IN ('pending', 'ack', 'started')`, id, now)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		running, err := store.Strings(ctx, tx, `SELECT node_id FROM execution_targets WHERE execution_id = $1 AND sent_at IS NOT NULL
			AND status IN ('pending', 'ack', 'started')`, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE execution_targets SET status = 'cancelled', detail = 'cancelled by an operator',
			updated_at = $2 WHERE execution_id = $1 AND status IN ('pending', 'ack', 'started')`, id, now); err != nil {
			return err
		}
		if len(running) > 0 {
			stop := nodeproto.ActionRequest{ExecutionID: uuid.Must(uuid.NewV7()).String(), Action: ActionCancel,
				Parameters: map[string]string{"execution_id": id}, Timeout: "30s"}
			if err := s.cfg.Events.Emit(ctx, tx, running, nodeproto.EventActionRequest, stop); err != nil {
				return err
			}
		}
		if err := s.aggregate(ctx, tx, id, s.cfg.Now()); err != nil {
			return err
		}
		return s.cfg.Audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	ex, err = s.load(ctx, pid, id, true)
	if err != nil {
		return nil, err
	}
	return &executionOutput{Body: ex}, nil
}

func itoa(n int) string { return strconv.Itoa(n) }
