package actions

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Statuses of targets and executions (the contract's ExecutionStatus).
const (
	StatusPending   = "pending"
	StatusAck       = "ack"
	StatusStarted   = "started"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
	StatusTimeout   = "timeout"
)

// ActionCancel is our plexd's built-in that stops a running execution
// (parameter execution_id): a cancel reaches a node as an action_request
// of its own. A level-1 agent answers it unknown_action; the control plane
// has settled the target as cancelled either way.
const ActionCancel = "cancel"

// terminal reports whether a status is final.
func terminal(s string) bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusCancelled || s == StatusTimeout
}

// rank orders the statuses a target moves through; a callback may only
// move forward (the contract's CAS), and nothing leaves a terminal one.
func rank(s string) int {
	switch s {
	case StatusPending:
		return 0
	case StatusAck:
		return 1
	case StatusStarted:
		return 2
	}
	return 3
}

// execRow is what the rollout needs of an execution.
type execRow struct {
	id, domainID, action, typ, params, status string
	timeout, maxInFlight, stopAfter, batch    int
	cancelled                                 bool
}

func loadExec(ctx context.Context, q store.Querier, id string) (execRow, error) {
	var e execRow
	var cancelled sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT id, domain_id, action, type, parameters, status, timeout_seconds, max_in_flight,
		stop_after_failures, batch_size, cancelled_at FROM executions WHERE id = $1`, id).
		Scan(&e.id, &e.domainID, &e.action, &e.typ, &e.params, &e.status, &e.timeout, &e.maxInFlight, &e.stopAfter, &e.batch,
			&cancelled)
	e.cancelled = cancelled.Valid
	return e, err
}

// schedule tops the execution's rollout up inside tx: after stop-after
// failures the targets not yet sent are cancelled; otherwise targets are
// sent in order until max_in_flight are out. Then the aggregate status
// is refreshed.
func (s *Service) schedule(ctx context.Context, tx *sql.Tx, id string) error {
	e, err := loadExec(ctx, tx, id)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	if !e.cancelled && !terminal(e.status) {
		var inflight, failed int
		if err := tx.QueryRowContext(ctx, `SELECT
			COALESCE(SUM(CASE WHEN sent_at IS NOT NULL AND status IN ('pending', 'ack', 'started') THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN status IN ('failed', 'timeout') THEN 1 ELSE 0 END), 0)
			FROM execution_targets WHERE execution_id = $1`, id).Scan(&inflight, &failed); err != nil {
			return err
		}
		if e.stopAfter > 0 && failed >= e.stopAfter {
			if _, err := tx.ExecContext(ctx, `UPDATE execution_targets SET status = 'cancelled', detail = $2, updated_at = $3
				WHERE execution_id = $1 AND sent_at IS NULL AND status = 'pending'`,
				id, "not started: "+strconv.Itoa(failed)+" targets failed (stop_after_failures)", store.Micros(now)); err != nil {
				return err
			}
		} else if err := s.send(ctx, tx, e, inflight, now); err != nil {
			return err
		}
	}
	return s.aggregate(ctx, tx, id, now)
}

// send delivers action_request to the next targets in order: up to
// max_in_flight at once and, with a batch size, only within the earliest
// batch that has a target still running or waiting.
func (s *Service) send(ctx context.Context, tx *sql.Tx, e execRow, inflight int, now time.Time) error {
	free := 1 << 30
	if e.maxInFlight > 0 {
		free = e.maxInFlight - inflight
	}
	if free <= 0 {
		return nil
	}
	end := int64(1) << 30 // fits the INTEGER column
	if e.batch > 0 {
		var first sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MIN(seq) FROM execution_targets WHERE execution_id = $1
			AND status IN ('pending', 'ack', 'started')`, e.id).Scan(&first); err != nil || !first.Valid {
			return err
		}
		end = (first.Int64/int64(e.batch) + 1) * int64(e.batch)
	}
	next, err := store.Strings(ctx, tx, `SELECT node_id FROM execution_targets WHERE execution_id = $1 AND sent_at IS NULL
		AND status = 'pending' AND seq < $3 ORDER BY seq LIMIT $2`, e.id, free, end)
	if err != nil || len(next) == 0 {
		return err
	}
	var parameters map[string]string
	json.Unmarshal([]byte(e.params), &parameters)
	timeout := time.Duration(e.timeout) * time.Second
	deadline := store.Micros(now.Add(timeout + s.cfg.Margin))
	byChecksum := map[string][]string{}
	for _, n := range next {
		sum := ""
		if e.typ == TypeHook {
			if sum, err = hookChecksum(ctx, tx, n, e.action); err != nil {
				return err
			}
		}
		byChecksum[sum] = append(byChecksum[sum], n)
		if _, err := tx.ExecContext(ctx, `UPDATE execution_targets SET sent_at = $3, deadline = $4, updated_at = $3
			WHERE execution_id = $1 AND node_id = $2`, e.id, n, store.Micros(now), deadline); err != nil {
			return err
		}
	}
	for sum, nodes := range byChecksum {
		req := nodeproto.ActionRequest{ExecutionID: e.id, Action: e.action, Parameters: parameters,
			Timeout: timeout.String(), Checksum: sum}
		if err := s.cfg.Events.Emit(ctx, tx, nodes, nodeproto.EventActionRequest, req); err != nil {
			return fmt.Errorf("actions: send %s: %w", e.id, err)
		}
	}
	return nil
}

// aggregate derives the execution's status from its targets: not all
// final → started (something acknowledged or started) or pending; all
// final → failed, else timeout, else cancelled, else succeeded.
func (s *Service) aggregate(ctx context.Context, tx *sql.Tx, id string, now time.Time) error {
	counts := map[string]int{}
	rows, err := tx.QueryContext(ctx, `SELECT status, COUNT(*) FROM execution_targets WHERE execution_id = $1 GROUP BY status`, id)
	if err != nil {
		return err
	}
	total := 0
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			rows.Close()
			return err
		}
		counts[st], total = n, total+n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	final := counts[StatusSucceeded] + counts[StatusFailed] + counts[StatusCancelled] + counts[StatusTimeout]
	status := StatusPending
	switch {
	case final == total && counts[StatusFailed] > 0:
		status = StatusFailed
	case final == total && counts[StatusTimeout] > 0:
		status = StatusTimeout
	case final == total && counts[StatusCancelled] > 0:
		status = StatusCancelled
	case final == total:
		status = StatusSucceeded
	case counts[StatusStarted] > 0 || final > 0:
		status = StatusStarted
	case counts[StatusAck] > 0:
		status = StatusAck
	}
	_, err = tx.ExecContext(ctx, `UPDATE executions SET status = $2, updated_at = $3 WHERE id = $1 AND status <> $2`,
		id, status, store.Micros(now))
	return err
}

// settle moves one target to status (forward only) with its result, audits
// a final status in the Domain's chain and continues the rollout. It
// reports whether anything changed.
func (s *Service) settle(ctx context.Context, tx *sql.Tx, r result) (bool, error) {
	var cur string
	var domainID string
	err := tx.QueryRowContext(ctx, `SELECT t.status, e.domain_id FROM execution_targets t JOIN executions e ON e.id = t.execution_id
		WHERE t.execution_id = $1 AND t.node_id = $2`, r.execID, r.nodeID).Scan(&cur, &domainID)
	if err != nil {
		return false, err
	}
	if terminal(cur) || rank(r.status) <= rank(cur) {
		return false, nil
	}
	now := s.cfg.Now()
	res, err := tx.ExecContext(ctx, `UPDATE execution_targets SET status = $3, detail = $4, exit_code = $5, stdout = $6, stderr = $7,
		duration_ms = $8, updated_at = $9 WHERE execution_id = $1 AND node_id = $2 AND status = $10`,
		r.execID, r.nodeID, r.status, r.detail, r.exitCode, capOutput(r.stdout), capOutput(r.stderr), r.durationMS,
		store.Micros(now), cur)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil // another callback moved it first
	}
	if terminal(r.status) {
		reason := "node=" + r.nodeID + " status=" + r.status
		if r.exitCode != nil {
			reason += " exit_code=" + strconv.Itoa(*r.exitCode)
		}
		if r.detail != "" {
			reason += " detail=" + strconv.Quote(r.detail)
		}
		if _, err := s.cfg.Audit.Append(ctx, tx, audit.Entry{ChainID: domainID, Action: "execution.result", Outcome: audit.Succeeded,
			Reason: reason, IdentityRef: r.by, ObjectType: "execution", ObjectID: r.execID,
			CorrelationID: audit.RequestFrom(ctx).CorrelationID}); err != nil {
			return false, err
		}
	}
	return true, s.schedule(ctx, tx, r.execID)
}

// result is one target's new status.
type result struct {
	execID, nodeID, status, detail string
	exitCode                       *int
	stdout, stderr                 string
	durationMS                     *int64
	// by is who reported it ("node:<id>", or "system" for a timeout).
	by string
}

// maxStoredOutput bounds each stored stream; the agent caps at 1 MiB.
const maxStoredOutput = 64 << 10

// truncatedMark ends a stream cut by the agent or here.
const truncatedMark = "\n...[truncated]"

func capOutput(s string) string {
	if len(s) <= maxStoredOutput {
		return s
	}
	return s[:maxStoredOutput-len(truncatedMark)] + truncatedMark
}

// Sweep times out the targets past their deadline on the control plane's
// clock (the existing agent never retries a lost result) and tops up
// every live rollout. It returns the targets it timed out.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := store.Micros(s.cfg.Now())
	type key struct{ exec, node string }
	var due []key
	rows, err := s.cfg.DB.QueryContext(ctx, `SELECT execution_id, node_id FROM execution_targets
		WHERE deadline IS NOT NULL AND deadline < $1 AND status IN ('pending', 'ack', 'started') LIMIT 1000`, now)
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.exec, &k.node); err != nil {
			rows.Close()
			return 0, err
		}
		due = append(due, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, k := range due {
		err := s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
			changed, err := s.settle(ctx, tx, result{execID: k.exec, nodeID: k.node, status: StatusTimeout,
				detail: "no result before the control plane's deadline", by: "system"})
			if changed {
				n++
			}
			return err
		})
		if err != nil {
			return n, err
		}
	}
	// Only rollouts with targets still to send can need a top-up (a lost
	// transaction after a result); the others wait for their nodes.
	live, err := store.Strings(ctx, s.cfg.DB, `SELECT e.id FROM executions e WHERE e.status IN ('pending', 'ack', 'started')
		AND e.cancelled_at IS NULL AND EXISTS (SELECT 1 FROM execution_targets t WHERE t.execution_id = e.id
		AND t.sent_at IS NULL AND t.status = 'pending') ORDER BY e.created_at LIMIT 1000`)
	if err != nil {
		return n, err
	}
	for _, id := range live {
		if err := s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error { return s.schedule(ctx, tx, id) }); err != nil {
			return n, err
		}
	}
	return n, nil
}
