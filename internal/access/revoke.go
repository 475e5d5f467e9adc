package access

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Revocation reasons an operator may give; the sweeper adds ttl_expired
// and idle_timeout.
var operatorReasons = map[string]bool{"operator_request": true, "policy_violation": true,
	"identity_compromise": true, "resource_decommissioned": true}

type revokeInput struct {
	SessionParams
	RawBody []byte
}

// sessionRevoked is the session_revoked payload: the contract's members
// (level 1 reads session_id only).
type sessionRevoked struct {
	SessionID    string    `json:"session_id"`
	JTI          string    `json:"jti"`
	RevokedAt    time.Time `json:"revoked_at"`
	RevokeReason string    `json:"revoke_reason"`
}

// revoke serves RevokeSession: project#operator, or the session's own
// identity. Repeats answer 204 and write nothing.
func (s *Service) revoke(ctx context.Context, in *revokeInput) (*struct{}, error) {
	id, ok := strings.CutSuffix(in.SessionID, ":revoke")
	if !ok {
		return nil, problem.NotFound("route_not_found", "No operation at POST "+in.SessionID+"; revoke is POST …/sessions/{session_id}:revoke.")
	}
	in.SessionID = id
	pid, sid, err := in.ids()
	if err != nil {
		return nil, err
	}
	var body apiv1.RevokeSessionRequest
	if err := json.Unmarshal(in.RawBody, &body); err != nil || !operatorReasons[body.RevokeReason] {
		return nil, problem.BadRequest(CodeInvalidBody, "revoke_reason must be operator_request, policy_violation, identity_compromise or resource_decommissioned.")
	}
	p := principal.From(ctx)
	if p == nil {
		return nil, problem.Unauthenticated()
	}
	// Whose session it is decides the check, and that needs a read; a
	// caller who may not observe the Project learns nothing from it.
	r, err := s.load(ctx, s.cfg.DB, `s.id = $1 AND s.project_id = $2`, sid, pid)
	own := err == nil && r.IdentityID == p.IdentityID
	if !own {
		if err := s.cfg.Authz.Check(ctx, "operator", "project:"+pid); err != nil {
			return nil, err
		}
	}
	if errors.Is(err, errNoSession) {
		return nil, problem.NotFound(CodeSessionNotFound, "No such session in this Project.")
	} else if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target(r.DomainID, "session", sid)
	if r.Status != statusActive {
		return nil, nil
	}
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		ended, err := s.end(ctx, tx, r, statusRevoked, body.RevokeReason)
		if err != nil || !ended {
			return err
		}
		return s.cfg.Audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	s.hangUp(sid, "session_revoked: "+body.RevokeReason)
	return nil, nil
}

// end moves an active session to status inside tx: the row, the jti on
// the denylist and session_revoked to its node. It reports false when the
// session was no longer active (another replica or request ended it).
func (s *Service) end(ctx context.Context, tx *sql.Tx, r sessionRow, status, reason string) (bool, error) {
	now := s.cfg.Now().UTC().Truncate(time.Microsecond)
	res, err := tx.ExecContext(ctx, `UPDATE access_sessions SET status = $1, revoked_at = $2, revoke_reason = $3
		WHERE id = $4 AND status = 'active'`, status, store.Micros(now), reason, r.ID)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO access_denylist (jti, expires_at) VALUES ($1, $2)
		ON CONFLICT (jti) DO NOTHING`, r.ID, r.ExpiresAt); err != nil {
		return false, err
	}
	ev := sessionRevoked{SessionID: r.ID, JTI: r.ID, RevokedAt: now, RevokeReason: reason}
	return true, s.cfg.Events.Emit(ctx, tx, []string{r.NodeID}, nodeproto.EventSessionRevoked, ev)
}

// Sweep ends the active sessions past their expiry (status expired) or
// idle timeout (status revoked, reason idle_timeout), each audited in its
// Domain's chain, and drops denylist entries whose tokens have expired. It
// returns how many sessions it ended.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := store.Micros(s.cfg.Now())
	rows, err := s.cfg.DB.QueryContext(ctx, `SELECT `+sessionColumns+sessionFrom+` WHERE s.status = 'active'
		AND (s.expires_at <= $1 OR (s.idle_timeout_seconds > 0 AND s.last_active_at + s.idle_timeout_seconds * 1000000 <= $1))
		ORDER BY s.expires_at LIMIT 500`, now)
	if err != nil {
		return 0, err
	}
	var due []sessionRow
	for rows.Next() {
		r, err := scanSession(rows)
		if err != nil {
			rows.Close()
			return 0, err
		}
		due = append(due, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, r := range due {
		status, reason, action := statusExpired, "ttl_expired", "session.expire"
		if r.ExpiresAt > now {
			status, reason, action = statusRevoked, "idle_timeout", "session.idle_timeout"
		}
		err := s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
			ended, err := s.end(ctx, tx, r, status, reason)
			if err != nil || !ended {
				return err
			}
			n++
			_, err = s.cfg.Audit.Append(ctx, tx, audit.Entry{ChainID: r.DomainID, Action: action, Outcome: audit.Succeeded,
				Reason: reason, IdentityRef: "system", ObjectType: "session", ObjectID: r.ID})
			return err
		})
		if err != nil {
			return n, err
		}
		s.hangUp(r.ID, "session_revoked: "+reason)
	}
	_, err = s.cfg.DB.ExecContext(ctx, `DELETE FROM access_denylist WHERE expires_at < $1`, now-int64(time.Hour/time.Microsecond))
	return n, err
}
