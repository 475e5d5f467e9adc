package access

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Session statuses.
const (
	statusActive  = "active"
	statusRevoked = "revoked"
	statusExpired = "expired"
)

var errNoSession = errors.New("access: no such session")

// sessionRow is one access_sessions row.
type sessionRow struct {
	ID, DomainID, ProjectID, ResourceID, NodeID, IdentityID string
	Kind, Target, Claims, KID, Status, RevokeReason         string
	IssuedAt, ExpiresAt, LastActiveAt                       int64
	IdleTimeout                                             int
	RevokedAt                                               sql.NullInt64
	HasRecording                                            bool
}

const sessionColumns = `s.id, s.domain_id, s.project_id, s.resource_id, s.node_id, s.identity_id, s.kind, s.target,
	s.claims, s.kid, s.status, s.revoke_reason, s.issued_at, s.expires_at, s.last_active_at, s.idle_timeout_seconds,
	s.revoked_at, r.session_id IS NOT NULL`

const sessionFrom = ` FROM access_sessions s LEFT JOIN access_recordings r ON r.session_id = s.id`

func scanSession(row interface{ Scan(...any) error }) (sessionRow, error) {
	var r sessionRow
	err := row.Scan(&r.ID, &r.DomainID, &r.ProjectID, &r.ResourceID, &r.NodeID, &r.IdentityID, &r.Kind, &r.Target,
		&r.Claims, &r.KID, &r.Status, &r.RevokeReason, &r.IssuedAt, &r.ExpiresAt, &r.LastActiveAt, &r.IdleTimeout,
		&r.RevokedAt, &r.HasRecording)
	return r, err
}

// load reads the one session matching where.
func (s *Service) load(ctx context.Context, q store.Querier, where string, args ...any) (sessionRow, error) {
	r, err := scanSession(q.QueryRowContext(ctx, `SELECT `+sessionColumns+sessionFrom+` WHERE `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return r, errNoSession
	}
	if err != nil {
		return r, problem.Internal(err)
	}
	return r, nil
}

// live reports whether the session is active and inside its TTL at now.
func (r sessionRow) live(now time.Time) bool {
	return r.Status == statusActive && store.Micros(now) < r.ExpiresAt
}

// api is the contract's Session; an active session past its expiry reads
// as expired before the sweeper gets to it.
func (r sessionRow) api(now time.Time) apiv1.Session {
	out := apiv1.Session{ID: r.ID, ProjectID: r.ProjectID, DomainID: r.DomainID, ResourceID: r.ResourceID,
		IdentityID: r.IdentityID, Kind: r.Kind, Status: r.Status, IssuedAt: store.Time(r.IssuedAt),
		ExpiresAt: store.Time(r.ExpiresAt), LastActiveAt: store.Time(r.LastActiveAt),
		IdleTimeoutSeconds: r.IdleTimeout, RevokeReason: r.RevokeReason, NodeID: r.NodeID, HasRecording: r.HasRecording}
	if out.Status == statusActive && !r.live(now) {
		out.Status = statusExpired
	}
	if r.RevokedAt.Valid {
		t := store.Time(r.RevokedAt.Int64)
		out.RevokedAt = &t
	}
	json.Unmarshal([]byte(r.Target), &out.Target)
	if r.Kind == nodeproto.SessionSSH {
		var c struct {
			AuthorizedKey string `json:"authorized_key"`
		}
		json.Unmarshal([]byte(r.Claims), &c)
		out.Terminal = strings.HasSuffix(c.AuthorizedKey, " "+terminalKeyComment(r.ID))
	}
	return out
}

type listInput struct {
	ProjectParams
	Status     string `query:"status" enum:"active,revoked,expired" doc:"Only sessions in this status."`
	Kind       string `query:"kind" enum:"ssh,k8s,tcp" doc:"Only sessions of this kind."`
	IdentityID string `query:"identity_id" doc:"Only sessions of this identity (UUID)."`
	page.Params
}

type listOutput struct {
	Body apiv1.List[apiv1.Session]
}

type SessionParams struct {
	ProjectParams
	SessionID string `path:"session_id" doc:"The session id (UUID), also the token's jti."`
}

type sessionOutput struct {
	Body apiv1.Session
}

// list serves ListSessions in issuance order with cursor paging.
func (s *Service) list(ctx context.Context, in *listInput) (*listOutput, error) {
	pid, err := parseUUID(CodeInvalidProjectID, in.ProjectID)
	if err != nil {
		return nil, err
	}
	if err := s.readable(ctx, pid); err != nil {
		return nil, err
	}
	if in.IdentityID != "" {
		if in.IdentityID, err = parseUUID("invalid_identity_id", in.IdentityID); err != nil {
			return nil, err
		}
	}
	scope := "sessions.list?project_id=" + pid + "&status=" + in.Status + "&kind=" + in.Kind + "&identity_id=" + in.IdentityID
	var pos struct {
		At int64  `json:"t"`
		ID string `json:"i"`
	}
	limit, err := s.cfg.Pages.Start(ctx, in.Params, scope, &pos)
	if err != nil {
		return nil, err
	}
	now := store.Micros(s.cfg.Now())
	q := `SELECT ` + sessionColumns + sessionFrom + ` WHERE s.project_id = $1 AND (s.issued_at > $2 OR (s.issued_at = $2 AND s.id > $3))`
	args := []any{pid, pos.At, pos.ID}
	switch in.Status {
	case statusActive:
		q += ` AND s.status = 'active' AND s.expires_at > $4`
		args = append(args, now)
	case statusExpired:
		q += ` AND (s.status = 'expired' OR (s.status = 'active' AND s.expires_at <= $4))`
		args = append(args, now)
	case statusRevoked:
		q += ` AND s.status = 'revoked'`
	}
	if in.Kind != "" {
		args = append(args, in.Kind)
		q += ` AND s.kind = $` + itoa(len(args))
	}
	if in.IdentityID != "" {
		args = append(args, in.IdentityID)
		q += ` AND s.identity_id = $` + itoa(len(args))
	}
	args = append(args, limit+1)
	q += ` ORDER BY s.issued_at, s.id LIMIT $` + itoa(len(args))
	rows, err := s.cfg.DB.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, problem.Internal(err)
	}
	defer rows.Close()
	out := apiv1.List[apiv1.Session]{Items: []apiv1.Session{}}
	var last sessionRow
	t := s.cfg.Now()
	for rows.Next() {
		r, err := scanSession(rows)
		if err != nil {
			return nil, problem.Internal(err)
		}
		if len(out.Items) < limit {
			out.Items = append(out.Items, r.api(t))
			last = r
		} else {
			pos.At, pos.ID = last.IssuedAt, last.ID
			if out.NextCursor, err = s.cfg.Pages.Next(ctx, scope, pos); err != nil {
				return nil, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, problem.Internal(err)
	}
	return &listOutput{Body: out}, nil
}

// readable checks project#observe and that the Project exists.
func (s *Service) readable(ctx context.Context, pid string) error {
	if err := s.cfg.Authz.Check(ctx, "observe", "project:"+pid); err != nil {
		return err
	}
	_, err := s.cfg.Tenancy.GetProject(ctx, s.cfg.DB, pid)
	return err
}

// session reads one session of a Project.
func (s *Service) session(ctx context.Context, pid, sid string) (sessionRow, error) {
	r, err := s.load(ctx, s.cfg.DB, `s.id = $1 AND s.project_id = $2`, sid, pid)
	if errors.Is(err, errNoSession) {
		return r, problem.NotFound(CodeSessionNotFound, "No such session in this Project.")
	}
	return r, err
}

func (in *SessionParams) ids() (string, string, error) {
	pid, err := parseUUID(CodeInvalidProjectID, in.ProjectID)
	if err != nil {
		return "", "", err
	}
	sid, err := parseUUID(CodeInvalidSessionID, in.SessionID)
	return pid, sid, err
}

// readableSession checks project#observe and reads the session of the
// path.
func (s *Service) readableSession(ctx context.Context, in *SessionParams) (sessionRow, error) {
	pid, sid, err := in.ids()
	if err != nil {
		return sessionRow{}, err
	}
	if err := s.readable(ctx, pid); err != nil {
		return sessionRow{}, err
	}
	return s.session(ctx, pid, sid)
}

func (s *Service) get(ctx context.Context, in *SessionParams) (*sessionOutput, error) {
	r, err := s.readableSession(ctx, in)
	if err != nil {
		return nil, err
	}
	return &sessionOutput{Body: r.api(s.cfg.Now())}, nil
}

func itoa(n int) string { return strconv.Itoa(n) }
