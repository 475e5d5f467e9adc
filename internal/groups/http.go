package groups

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/pathid"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/store"
)

type idInput struct {
	ID string `path:"id" doc:"Group id (UUIDv7)."`
}

type listInput struct {
	DomainID string `query:"domain_id" maxLength:"64" doc:"Owning Domain (required)."`
	page.Params
}

type createInput struct{ Body apiv1.CreateGroup }

type patchInput struct {
	ID   string `path:"id" doc:"Group id (UUIDv7)."`
	Body apiv1.PatchGroup
}

type oneOutput struct {
	Location string `header:"Location"`
	Body     apiv1.Group
}

type listOutput struct {
	Body apiv1.List[apiv1.Group]
}

func (s *Service) list(ctx context.Context, in *listInput) (*listOutput, error) {
	domainID, err := s.domainGate(ctx, in.DomainID, "read")
	if err != nil {
		return nil, err
	}
	scope := "groups.list:" + domainID
	var after string
	limit, err := s.pages.Start(ctx, in.Params, scope, &after)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+groupColumns+` FROM principal_groups
		WHERE scope_key = $1 AND slug > $2 ORDER BY slug LIMIT $3`, domainID, after, limit+1)
	if err != nil {
		return nil, problem.Internal(err)
	}
	defer rows.Close()
	out := &listOutput{Body: apiv1.List[apiv1.Group]{Items: []apiv1.Group{}}}
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, problem.Internal(err)
		}
		out.Body.Items = append(out.Body.Items, g.Group)
	}
	if err := rows.Err(); err != nil {
		return nil, problem.Internal(err)
	}
	if len(out.Body.Items) > limit {
		out.Body.Items = out.Body.Items[:limit]
		if out.Body.NextCursor, err = s.pages.Next(ctx, scope, out.Body.Items[limit-1].Slug); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Service) create(ctx context.Context, in *createInput) (*oneOutput, error) {
	b := in.Body
	domainID, err := s.domainGate(ctx, b.DomainID, "manage")
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	g := apiv1.Group{ID: uuid.Must(uuid.NewV7()).String(), DomainID: domainID, Slug: b.Slug, DisplayName: b.DisplayName,
		Source: b.Source, CreatedAt: now, UpdatedAt: now}
	switch {
	case b.Source == apiv1.GroupSourceManual && (b.IdPBindingID != "" || b.IdPClaimValue != ""):
		return nil, problem.BadRequest("invalid_body", "A manual group takes neither idp_binding_id nor idp_claim_value.")
	case b.Source == apiv1.GroupSourceIdP && b.IdPClaimValue == "":
		return nil, problem.BadRequest("invalid_body", "An idp group needs idp_binding_id and idp_claim_value.")
	case b.Source == apiv1.GroupSourceIdP:
		if g.IdPBindingID, err = pathid.Parse("idp_binding", b.IdPBindingID); err != nil {
			return nil, err
		}
		g.IdPClaimValue = b.IdPClaimValue
	}
	audit.RequestFrom(ctx).Target(domainID, "group", g.ID)
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if g.Source == apiv1.GroupSourceIdP {
			if err := bindingInScope(ctx, tx, domainID, g.IdPBindingID); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM principal_groups WHERE scope_key = $1 AND slug = $2`,
			domainID, g.Slug).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return slugConflict()
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO principal_groups (id, domain_id, scope_key, slug, display_name, source,
			idp_binding_id, idp_claim_value, created_at, updated_at) VALUES ($1, $2, $2, $3, $4, $5, $6, $7, $8, $8)`,
			g.ID, domainID, g.Slug, g.DisplayName, g.Source, nullable(g.IdPBindingID), nullable(g.IdPClaimValue),
			store.Micros(now))
		if store.IsUniqueViolation(err) {
			if g.Source == apiv1.GroupSourceIdP {
				return problem.Conflict(CodeClaimConflict, "A group for this IdP binding and claim value already exists.")
			}
			return slugConflict()
		}
		if err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return &oneOutput{Location: "/v1/admin/groups/" + g.ID, Body: g}, nil
}

func slugConflict() *problem.Problem {
	return problem.Conflict(CodeSlugConflict, "The Domain already has a group with this slug.")
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// bindingInScope accepts an IdP binding of the Domain or a platform-scoped
// one (through which the Domain's users may sign in too).
func bindingInScope(ctx context.Context, tx *sql.Tx, domainID, bindingID string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM idp_bindings WHERE id = $1 AND (domain_id = $2 OR domain_id IS NULL)`,
		bindingID, domainID).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return problem.NotFound("binding_not_found", "No such IdP binding for this Domain.")
	}
	return nil
}

func (s *Service) get(ctx context.Context, in *idInput) (*oneOutput, error) {
	g, err := s.authorizeGroup(ctx, in.ID, "read")
	if err != nil {
		return nil, err
	}
	return &oneOutput{Body: g.Group}, nil
}

func (s *Service) patch(ctx context.Context, in *patchInput) (*oneOutput, error) {
	g, err := s.authorizeGroup(ctx, in.ID, "manage")
	if err != nil {
		return nil, err
	}
	switch {
	case in.Body.Slug != nil:
		return nil, problem.BadRequest("slug_immutable", "A group's slug cannot change.")
	case g.Source != apiv1.GroupSourceManual:
		return nil, readOnly()
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		now := s.now().UTC().Truncate(time.Microsecond)
		res, err := tx.ExecContext(ctx, `UPDATE principal_groups SET display_name = $2, updated_at = $3
			WHERE id = $1 AND source = 'manual'`, g.ID, in.Body.DisplayName, store.Micros(now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound()
		}
		g.DisplayName, g.UpdatedAt = in.Body.DisplayName, now
		return s.audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return &oneOutput{Body: g.Group}, nil
}

func (s *Service) delete(ctx context.Context, in *idInput) (*struct{}, error) {
	g, err := s.authorizeGroup(ctx, in.ID, "manage")
	if err != nil {
		return nil, err
	}
	if g.Source != apiv1.GroupSourceManual {
		return nil, readOnly()
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := loadGroup(ctx, tx, g.ID); err != nil {
			return notFound()
		}
		remove, err := groupTuples(ctx, tx, g.ID)
		if err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM principal_group_members WHERE group_id = $1`,
			`DELETE FROM principal_group_members WHERE principal_kind = 'group' AND principal_id = $1`,
			`DELETE FROM principal_groups WHERE id = $1`,
		} {
			if _, err := tx.ExecContext(ctx, q, g.ID); err != nil {
				return err
			}
		}
		if len(remove) > 0 {
			if err := s.tuples.Write(ctx, tx, nil, remove); err != nil {
				return err
			}
		}
		return s.audit.Commit(ctx, tx)
	})
	return nil, problem.From(s.synced(ctx, err))
}

// groupTuples lists every tuple that names the group: its members
// (group:<id>#member@…) and every grant to it (…@group:<id>#member), so
// that deleting the group revokes all of them in the same transaction.
func groupTuples(ctx context.Context, tx *sql.Tx, id string) ([]authz.Tuple, error) {
	rows, err := tx.QueryContext(ctx, `SELECT resource_type, resource_id, relation, subject_type, subject_id, subject_relation
		FROM relation_tuples WHERE (resource_type = $1 AND resource_id = $2)
		OR (subject_type = $1 AND subject_id = $2)`, authz.TypeGroup, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []authz.Tuple
	for rows.Next() {
		var t authz.Tuple
		if err := rows.Scan(&t.Resource.Type, &t.Resource.ID, &t.Relation, &t.Subject.Object.Type, &t.Subject.Object.ID,
			&t.Subject.Relation); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
