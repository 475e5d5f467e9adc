package policy

import (
	"context"
	"database/sql"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
	"github.com/plexsphere/plexsphere/internal/tuples"
)

const (
	policiesPath = "/v1/projects/{project_id}/policies"
	policyPath   = policiesPath + "/{policy_id}"
	tag          = "Network policies"
)

// ProjectPath is the path of the list and create operations.
type ProjectPath struct {
	ProjectID string `path:"project_id" doc:"Owning Project (UUID)."`
}

// PolicyPath is the path of the operations on one Policy.
type PolicyPath struct {
	ProjectID string `path:"project_id" doc:"Owning Project (UUID)."`
	PolicyID  string `path:"policy_id" doc:"Policy id (UUID)."`
}
type listPoliciesInput struct {
	ProjectPath
	page.Params
}
type createPolicyInput struct {
	ProjectPath
	RawBody []byte
}
type updatePolicyInput struct {
	PolicyPath
	RawBody []byte
}
type policyOutput struct {
	Location string `header:"Location"`
	Body     apiv1.NetworkPolicy
}
type policiesOutput struct {
	Body apiv1.List[apiv1.NetworkPolicy]
}

// policyPos is a list position: policies are listed by slug.
type policyPos struct {
	Slug string `json:"s"`
	ID   string `json:"i"`
}

func (s *Service) registerPolicies(api huma.API) {
	huma.Register(api, route.Op(http.MethodGet, policiesPath, "ListPolicies", "policy.list", route.Operator,
		"List a Project's Policies (by slug)", tag), s.listPolicies)
	op := route.Op(http.MethodPost, policiesPath, "CreatePolicy", "policy.create", route.Operator,
		"Create a Policy and its first revision", tag)
	op.DefaultStatus = http.StatusCreated
	bodyOp(api, &op, reflect.TypeFor[apiv1.PolicyCreateRequest]())
	huma.Register(api, op, s.createPolicy)
	huma.Register(api, route.Op(http.MethodGet, policyPath, "GetPolicy", "policy.read", route.Operator,
		"Read a Policy with its head revision", tag), s.getPolicy)
	op = route.Op(http.MethodPatch, policyPath, "UpdatePolicy", "policy.update", route.Operator,
		"Land a new revision (compare-and-swap on expected_revision_id)", tag)
	bodyOp(api, &op, reflect.TypeFor[apiv1.PolicyUpdateRequest]())
	huma.Register(api, op, s.updatePolicy)
	op = route.Op(http.MethodDelete, policyPath, "DeletePolicy", "policy.delete", route.Operator,
		"Delete a Policy and its revisions", tag)
	op.DefaultStatus = http.StatusNoContent
	huma.Register(api, op, s.deletePolicy)
}

// bodyOp raises op's body ceiling to MaxBody, leaves decoding and
// validation to this package (its problem codes are api.md §3.7's) and
// documents the body as t.
func bodyOp(api huma.API, op *huma.Operation, t reflect.Type) {
	op.MaxBodyBytes = MaxBody + 1
	op.SkipValidateBody = true
	op.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
		"application/json": {Schema: api.OpenAPI().Components.Schemas.Schema(t, true, "")},
	}}
}

func (s *Service) listPolicies(ctx context.Context, in *listPoliciesInput) (*policiesOutput, error) {
	pid, err := ParseID("project", in.ProjectID)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Authz.Check(ctx, "read", "project:"+pid); err != nil {
		return nil, err
	}
	scope := "policies.list?project_id=" + pid
	var pos policyPos
	limit, err := s.cfg.Pages.Start(ctx, in.Params, scope, &pos)
	if err != nil {
		return nil, err
	}
	if _, err := s.cfg.Projects.GetProject(ctx, s.cfg.DB, pid); err != nil {
		return nil, err
	}
	rows, err := s.cfg.DB.QueryContext(ctx, `SELECT `+policyColumns+` FROM policies
		WHERE project_id = $1 AND (slug > $2 OR (slug = $2 AND id > $3)) ORDER BY slug, id LIMIT $4`,
		pid, pos.Slug, pos.ID, limit+1)
	if err != nil {
		return nil, problem.Internal(err)
	}
	defer rows.Close()
	list := apiv1.List[apiv1.NetworkPolicy]{Items: []apiv1.NetworkPolicy{}}
	for rows.Next() {
		r, err := scanPolicy(rows)
		if err != nil {
			return nil, problem.Internal(err)
		}
		list.Items = append(list.Items, r.NetworkPolicy)
	}
	if err := rows.Err(); err != nil {
		return nil, problem.Internal(err)
	}
	if len(list.Items) > limit {
		list.Items = list.Items[:limit]
		last := list.Items[limit-1]
		if list.NextCursor, err = s.cfg.Pages.Next(ctx, scope, policyPos{last.Slug, last.ID}); err != nil {
			return nil, err
		}
	}
	objs := make([]string, len(list.Items))
	for i, p := range list.Items {
		objs[i] = "policy:" + p.ID
	}
	ok, err := s.cfg.Authz.Visible(ctx, "read", objs)
	if err != nil {
		return nil, err
	}
	kept := list.Items[:0]
	for i, p := range list.Items {
		if ok[i] {
			kept = append(kept, p)
		}
	}
	list.Items = kept
	return &policiesOutput{Body: list}, nil
}

func (s *Service) createPolicy(ctx context.Context, in *createPolicyInput) (*policyOutput, error) {
	pid, err := ParseID("project", in.ProjectID)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target("", "policy", "")
	// policy#manage on a Policy not yet created is project#operator (the
	// schema's policy manage = owner + project->operator).
	if err := s.cfg.Authz.Check(ctx, "operator", "project:"+pid); err != nil {
		return nil, err
	}
	c, err := DecodeCreate(in.RawBody)
	if err != nil {
		return nil, err
	}
	now := s.stamp()
	p := apiv1.NetworkPolicy{ID: uuid.Must(uuid.NewV7()).String(), ProjectID: pid, Slug: c.Slug, DisplayName: c.DisplayName,
		CreatedAt: now, UpdatedAt: now}
	rev := s.newRevision(ctx, p.ID, "", c.Draft, now)
	p.HeadRevisionID = rev.ID
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		proj, err := s.cfg.Projects.GetProject(ctx, tx, pid)
		if err != nil {
			return err
		}
		audit.RequestFrom(ctx).Target(proj.DomainID, "policy", p.ID)
		if err := s.assert(ctx, tx, proj.DomainID, proj.ID, p.ID, c.Draft); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO policies (`+policyColumns+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$7)`,
			p.ID, pid, proj.DomainID, p.Slug, p.DisplayName, rev.ID, store.Micros(now))
		if store.IsUniqueViolation(err) {
			return problem.Conflict(CodeSlugTaken, "A Policy with this slug exists in the Project.")
		}
		if err != nil {
			return err
		}
		if err := insertRevision(ctx, tx, rev); err != nil {
			return err
		}
		if _, err := s.cfg.Tuples.WriteRows(ctx, tx, []tuples.Row{{
			Tuple: authz.Tuple{Resource: authz.ObjectRef{Type: authz.TypePolicy, ID: p.ID}, Relation: "project",
				Subject: authz.ObjectRef{Type: authz.TypeProject, ID: pid}.Subject()},
			DomainID: proj.DomainID, Structural: true,
		}}, nil, false); err != nil {
			return err
		}
		if err := s.notify(ctx, tx, proj.DomainID, p.ID); err != nil {
			return err
		}
		return s.cfg.Audit.Commit(ctx, tx)
	})
	if err = s.synced(ctx, err); err != nil {
		return nil, problem.From(err)
	}
	p.Head = &rev
	return &policyOutput{Location: "/v1/projects/" + pid + "/policies/" + p.ID, Body: p}, nil
}

// newRevision builds a revision of policyID after parent from d, authored
// by the request's principal.
func (s *Service) newRevision(ctx context.Context, policyID, parent string, d Draft, now time.Time) apiv1.PolicyRevision {
	by := "system"
	if p := principal.From(ctx); p != nil {
		by = p.Ref()
	}
	return apiv1.PolicyRevision{ID: uuid.Must(uuid.NewV7()).String(), PolicyID: policyID, ParentID: parent,
		Selector: d.Selector, Rules: d.Rules, Tests: d.Tests, CreatedAt: now, CreatedBy: by,
		CorrelationID: audit.RequestFrom(ctx).CorrelationID}
}

// ids parses the path ids.
func (in PolicyPath) ids() (string, string, error) {
	pid, err := ParseID("project", in.ProjectID)
	if err != nil {
		return "", "", err
	}
	id, err := ParseID("policy", in.PolicyID)
	return pid, id, err
}

func (s *Service) getPolicy(ctx context.Context, in *PolicyPath) (*policyOutput, error) {
	pid, id, err := in.ids()
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Authz.Check(ctx, "read", "policy:"+id); err != nil {
		return nil, err
	}
	r, err := loadPolicy(ctx, s.cfg.DB, pid, id)
	if err != nil {
		return nil, err
	}
	head, err := loadRevision(ctx, s.cfg.DB, id, r.HeadRevisionID)
	if err != nil {
		return nil, problem.From(err)
	}
	r.Head = &head
	return &policyOutput{Body: r.NetworkPolicy}, nil
}

// checkManage is the dual check of every write (api.md §3.3):
// policy#manage and project#operator.
func (s *Service) checkManage(ctx context.Context, pid, id string) error {
	audit.RequestFrom(ctx).Target("", "policy", id)
	if err := s.cfg.Authz.Check(ctx, "manage", "policy:"+id); err != nil {
		return err
	}
	return s.cfg.Authz.Check(ctx, "operator", "project:"+pid)
}

// casAttempts bounds the retries of a patch without expected_revision_id
// (last writer wins) that lost a race to another writer.
const casAttempts = 16

func (s *Service) updatePolicy(ctx context.Context, in *updatePolicyInput) (*policyOutput, error) {
	pid, id, err := in.ids()
	if err != nil {
		return nil, err
	}
	if err := s.checkManage(ctx, pid, id); err != nil {
		return nil, err
	}
	u, err := DecodeUpdate(in.RawBody)
	if err != nil {
		return nil, err
	}
	var out apiv1.NetworkPolicy
	for attempt := 0; ; attempt++ {
		out, err = s.patchOnce(ctx, pid, id, u)
		if err == errLostRace && u.Expected == "" && attempt < casAttempts {
			continue
		}
		break
	}
	if err == errLostRace {
		err = problem.Conflict(CodeRevisionConflict, "Another revision landed meanwhile; re-read the Policy and retry.")
	}
	if err != nil {
		return nil, problem.From(err)
	}
	return &policyOutput{Body: out}, nil
}

// errLostRace is a patch whose head moved between read and write.
var errLostRace = problem.Conflict(CodeRevisionConflict, "Another revision landed meanwhile; re-read the Policy and retry.")

// patchOnce lands one revision: the head is read (its row locked on
// PostgreSQL, so writers queue), the patch merged onto it, the tests
// asserted, then the head pointer advanced by a conditional UPDATE that
// fails (errLostRace) if another writer moved it first; the unique
// parent_id is the last guard.
func (s *Service) patchOnce(ctx context.Context, pid, id string, u Update) (apiv1.NetworkPolicy, error) {
	var out apiv1.NetworkPolicy
	err := s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		r, err := loadPolicy(ctx, tx, pid, id, s.cfg.DB.ForUpdate())
		if err != nil {
			return err
		}
		audit.RequestFrom(ctx).Target(r.DomainID, "policy", id)
		if u.Expected != "" && u.Expected != r.HeadRevisionID {
			return problem.Conflict(CodeRevisionConflict, "The Policy's head is no longer expected_revision_id; re-read it and retry.")
		}
		head, err := loadRevision(ctx, tx, id, r.HeadRevisionID)
		if err != nil {
			return problem.Internal(err)
		}
		d := Draft{Selector: head.Selector, Rules: head.Rules, Tests: head.Tests}
		if u.Selector != nil {
			d.Selector = *u.Selector
		}
		if u.Rules != nil {
			d.Rules = u.Rules
		}
		if u.Tests != nil {
			d.Tests = u.Tests
		}
		if u.DisplayName != nil {
			r.DisplayName = *u.DisplayName
		}
		if err := s.assert(ctx, tx, r.DomainID, r.ProjectID, id, d); err != nil {
			return err
		}
		now := s.stamp()
		rev := s.newRevision(ctx, id, r.HeadRevisionID, d, now)
		res, err := tx.ExecContext(ctx, `UPDATE policies SET head_revision_id = $1, display_name = $2, updated_at = $3
			WHERE id = $4 AND head_revision_id = $5`, rev.ID, r.DisplayName, store.Micros(now), id, r.HeadRevisionID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			if err != nil {
				return err
			}
			return errLostRace
		}
		if err := insertRevision(ctx, tx, rev); err != nil {
			if p, ok := err.(*problem.Problem); ok && p.Code == CodeRevisionConflict {
				return errLostRace
			}
			return err
		}
		if err := s.notify(ctx, tx, r.DomainID, id); err != nil {
			return err
		}
		r.HeadRevisionID, r.UpdatedAt, r.Head = rev.ID, now, &rev
		out = r.NetworkPolicy
		return s.cfg.Audit.Commit(ctx, tx)
	})
	if store.IsUniqueViolation(err) {
		return out, errLostRace
	}
	return out, err
}

func (s *Service) deletePolicy(ctx context.Context, in *PolicyPath) (*struct{}, error) {
	pid, id, err := in.ids()
	if err != nil {
		return nil, err
	}
	if err := s.checkManage(ctx, pid, id); err != nil {
		return nil, err
	}
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		r, err := loadPolicy(ctx, tx, pid, id, s.cfg.DB.ForUpdate())
		if err != nil {
			return err
		}
		audit.RequestFrom(ctx).Target(r.DomainID, "policy", id)
		if _, err := tx.ExecContext(ctx, `DELETE FROM policy_revisions WHERE policy_id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM policies WHERE id = $1`, id); err != nil {
			return err
		}
		if err := s.cfg.Tuples.RemoveObject(ctx, tx, authz.ObjectRef{Type: authz.TypePolicy, ID: id}); err != nil {
			return err
		}
		if err := s.notify(ctx, tx, r.DomainID, id); err != nil {
			return err
		}
		return s.cfg.Audit.Commit(ctx, tx)
	})
	return nil, problem.From(s.synced(ctx, err))
}
