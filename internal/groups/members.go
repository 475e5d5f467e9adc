package groups

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/pathid"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/store"
)

type addMemberInput struct {
	ID   string `path:"id" doc:"Group id (UUIDv7)."`
	Body apiv1.AddGroupMember
}

type removeMemberInput struct {
	ID          string `path:"id" doc:"Group id (UUIDv7)."`
	PrincipalID string `path:"principal_id" doc:"Principal id (UUIDv7)."`
	Kind        string `query:"kind" required:"true" enum:"user,service_identity,group" doc:"The member's principal kind."`
}

type memberOutput struct {
	Location string `header:"Location"`
	Body     apiv1.GroupMember
}

type membersOutput struct {
	Body apiv1.GroupMembers
}

func (s *Service) members(ctx context.Context, in *idInput) (*membersOutput, error) {
	g, err := s.authorizeGroup(ctx, in.ID, "read")
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT principal_id, principal_kind, source, created_at FROM principal_group_members
		WHERE group_id = $1 ORDER BY created_at, principal_kind, principal_id LIMIT $2`, g.ID, MaxMembers)
	if err != nil {
		return nil, problem.Internal(err)
	}
	defer rows.Close()
	out := &membersOutput{Body: apiv1.GroupMembers{Items: []apiv1.GroupMember{}}}
	for rows.Next() {
		m := apiv1.GroupMember{GroupID: g.ID}
		var created int64
		if err := rows.Scan(&m.PrincipalID, &m.PrincipalKind, &m.Source, &created); err != nil {
			return nil, problem.Internal(err)
		}
		m.CreatedAt = store.Time(created)
		out.Body.Items = append(out.Body.Items, m)
	}
	if err := rows.Err(); err != nil {
		return nil, problem.Internal(err)
	}
	return out, nil
}

func (s *Service) addMember(ctx context.Context, in *addMemberInput) (*memberOutput, error) {
	g, err := s.authorizeGroup(ctx, in.ID, "manage")
	if err != nil {
		return nil, err
	}
	b := in.Body
	pid, err := pathid.Parse("principal", b.PrincipalID)
	if err != nil {
		return nil, err
	}
	switch {
	case g.Source != apiv1.GroupSourceManual:
		return nil, readOnly()
	case b.Source != g.Source:
		return nil, problem.Conflict(CodeSourceConflict, "A member's source must equal its group's ("+g.Source+").")
	}
	m := apiv1.GroupMember{GroupID: g.ID, PrincipalID: pid, PrincipalKind: b.PrincipalKind, Source: g.Source,
		CreatedAt: s.now().UTC().Truncate(time.Microsecond)}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.lockScope(ctx, tx, g.DomainID); err != nil {
			return err
		}
		if err := s.admissible(ctx, tx, g, m); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO principal_group_members (group_id, principal_kind, principal_id, source, created_at)
			VALUES ($1, $2, $3, $4, $5)`, g.ID, m.PrincipalKind, pid, m.Source, store.Micros(m.CreatedAt))
		if store.IsUniqueViolation(err) {
			return memberExists()
		}
		if err != nil {
			return err
		}
		if err := s.tuples.Write(ctx, tx, []authz.Tuple{memberTuple(g.ID, m.PrincipalKind, pid)}, nil); err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	if err := s.synced(ctx, err); err != nil {
		return nil, problem.From(err)
	}
	return &memberOutput{Location: "/v1/admin/groups/" + g.ID + "/members", Body: m}, nil
}

func memberExists() *problem.Problem {
	return problem.Conflict(CodeMemberExists, "The principal is already a member of this group.")
}

// lockScope serializes membership changes within one Domain on PostgreSQL
// (its row FOR UPDATE), so that two concurrent additions cannot together
// close a cycle that each alone would not; SQLite serializes writers anyway.
func (s *Service) lockScope(ctx context.Context, tx *sql.Tx, domainID string) error {
	if domainID == "" {
		return nil
	}
	var id string
	err := tx.QueryRowContext(ctx, `SELECT id FROM domains WHERE id = $1`+s.db.ForUpdate(), domainID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return problem.NotFound("domain_not_found", "No such Domain.")
	}
	return err
}

// admissible checks that the principal exists in the group's scope, is not
// a member yet, fits the group's bound, and (for a group) neither closes a
// cycle nor nests too deeply.
func (s *Service) admissible(ctx context.Context, tx *sql.Tx, g *group, m apiv1.GroupMember) error {
	ok, err := principalInScope(ctx, tx, g.DomainID, m.PrincipalKind, m.PrincipalID)
	if err != nil {
		return err
	}
	if !ok {
		return problem.NotFound(CodePrincipalNF, "No such "+m.PrincipalKind+" in this group's Domain.")
	}
	var members, same int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN principal_kind = $2 AND principal_id = $3
		THEN 1 ELSE 0 END), 0) FROM principal_group_members WHERE group_id = $1`, g.ID, m.PrincipalKind, m.PrincipalID).
		Scan(&members, &same); err != nil {
		return err
	}
	switch {
	case same > 0:
		return memberExists()
	case members >= MaxMembers:
		return problem.Conflict(CodeMemberLimit, "The group has the most members it may have.")
	case m.PrincipalKind != apiv1.MemberGroup:
		return nil
	}
	edges, err := groupEdges(ctx, tx, g.DomainID)
	if err != nil {
		return err
	}
	switch err := checkNesting(edges, g.ID, m.PrincipalID, MaxNesting); {
	case errors.Is(err, errCycle):
		return problem.Conflict(CodeCycle, "Adding this group would make a group a member of itself (a cycle).")
	case errors.Is(err, errTooDeep):
		return problem.Conflict(CodeTooDeep, "Adding this group would nest groups more than 8 deep.")
	}
	return nil
}

func (s *Service) removeMember(ctx context.Context, in *removeMemberInput) (*struct{}, error) {
	g, err := s.authorizeGroup(ctx, in.ID, "manage")
	if err != nil {
		return nil, err
	}
	pid, err := pathid.Parse("principal", in.PrincipalID)
	if err != nil {
		return nil, err
	}
	if g.Source != apiv1.GroupSourceManual {
		return nil, readOnly()
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM principal_group_members WHERE group_id = $1 AND principal_kind = $2
			AND principal_id = $3`, g.ID, in.Kind, pid)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return problem.NotFound(CodeMemberNotFound, "The principal is not a member of this group.")
		}
		if err := s.tuples.Write(ctx, tx, nil, []authz.Tuple{memberTuple(g.ID, in.Kind, pid)}); err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	return nil, problem.From(s.synced(ctx, err))
}
