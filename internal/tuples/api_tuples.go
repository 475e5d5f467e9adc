package tuples

import (
	"context"
	"database/sql"
	"errors"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/problem"
)

func parseUUIDValue(s string) (string, error) {
	u, err := uuid.Parse(s)
	if err != nil || u == uuid.Nil || len(s) != 36 {
		return "", errors.New("bad uuid")
	}
	return u.String(), nil
}

func (a *API) listTuples(ctx context.Context, in *listTuplesInput) (*listTuplesOutput, error) {
	pid, err := parseUUID("project", in.ProjectID)
	if err != nil {
		return nil, err
	}
	if err := a.Authz.Check(ctx, "read", "project:"+pid); err != nil {
		return nil, err
	}
	scope := "relation_tuples.list?project_id=" + pid
	var after string
	limit, err := a.Pages.Start(ctx, in.Params, scope, &after)
	if err != nil {
		return nil, err
	}
	if _, err := a.Projects.GetProject(ctx, a.DB, pid); err != nil {
		return nil, err
	}
	rows, err := a.Tuples.ListProject(ctx, a.DB, pid, after, limit+1)
	if err != nil {
		return nil, problem.Internal(err)
	}
	out := &listTuplesOutput{Body: apiv1.List[apiv1.RelationTuple]{Items: []apiv1.RelationTuple{}}}
	if len(rows) > limit {
		rows = rows[:limit]
		if out.Body.NextCursor, err = a.Pages.Next(ctx, scope, rows[limit-1].ID); err != nil {
			return nil, err
		}
	}
	for _, r := range rows {
		out.Body.Items = append(out.Body.Items, wireTuple(r))
	}
	return out, nil
}

// grantable reports whether sub may be granted a role through the API:
// principals and group members only, never an object-graph link.
func grantable(sub authz.SubjectRef) bool {
	switch sub.Object.Type {
	case authz.TypeUser, authz.TypeServiceIdentity:
		return sub.Relation == ""
	case authz.TypeGroup:
		return sub.Relation == "member"
	}
	return false
}

func (a *API) writeTuple(ctx context.Context, in *writeTupleInput) (*tupleOutput, error) {
	b := in.Body
	sub, res, err := parseRefs(b.Subject, b.Resource)
	if err != nil {
		return nil, err
	}
	row := Row{Tuple: authz.Tuple{Resource: res, Relation: b.Relation, Subject: sub}}
	ar := audit.RequestFrom(ctx)
	chain, err := a.authorizeWrite(ctx, in.ProjectID, &row, "")
	if err != nil {
		return nil, err
	}
	if err := a.checkGrant(row, b.CaveatName, b.CaveatContext); err != nil {
		return nil, err
	}
	var added []Row
	err = a.DB.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		if added, err = a.Tuples.WriteRows(ctx, tx, []Row{row}, nil, true); err != nil {
			return err
		}
		ar.Target(chain, "relation_tuple", added[0].ID)
		return a.Audit.Commit(ctx, tx)
	})
	if errors.Is(err, ErrExists) {
		return nil, problem.Conflict("relation_tuple_conflict", "This tuple already exists.")
	}
	if err != nil {
		return nil, problem.From(err)
	}
	_ = a.Tuples.Sync(ctx) // the poller catches up if this fails
	return &tupleOutput{Location: "/v1/authz/relation-tuples/" + added[0].ID, Body: wireTuple(added[0])}, nil
}

// authorizeWrite checks that the caller may write row's tuple: manage on
// Project projectID (and the resource is that Project or one of its
// objects), or, without a Project, manage on the Domain or the platform
// (checkUnscoped). It fills row's scope, targets the request's audit entry
// at tupleID and returns the chain.
func (a *API) authorizeWrite(ctx context.Context, projectID string, row *Row, tupleID string) (string, error) {
	res := row.Tuple.Resource
	if projectID == "" {
		chain, err := a.checkUnscoped(ctx, res, tupleID)
		if err != nil {
			return "", err
		}
		row.DomainID, row.ProjectID = "", ""
		if res.Type == authz.TypeDomain {
			row.DomainID = res.ID
		}
		return chain, nil
	}
	pid, err := parseUUID("project", projectID)
	if err != nil {
		return "", err
	}
	row.ProjectID = pid
	chain := a.chainOf(ctx, authz.ObjectRef{Type: authz.TypeProject, ID: pid})
	audit.RequestFrom(ctx).Target(chain, "relation_tuple", tupleID)
	if err := a.Authz.Check(ctx, "manage", "project:"+pid); err != nil {
		return "", err
	}
	p, err := a.Projects.GetProject(ctx, a.DB, pid)
	if err != nil {
		return "", err
	}
	row.DomainID = p.DomainID
	if !a.inProject(ctx, res, pid) {
		return "", problem.BadRequest("resource_not_in_project", "The resource is not this Project or one of its objects.")
	}
	return chain, nil
}

// checkGrant refuses what the API does not write: caveats (not provisioned),
// subjects that are not principals or group members, and tuples the schema
// does not allow.
func (a *API) checkGrant(row Row, caveatName string, caveatContext map[string]any) error {
	if caveatName != "" || len(caveatContext) > 0 {
		return problem.NotProvisioned("caveats")
	}
	if !grantable(row.Tuple.Subject) {
		return problem.BadRequest("subject_not_allowed", "Only users, service identities and group#member can be granted.")
	}
	if err := a.Engine.Schema().ValidateTuple(row.Tuple); err != nil {
		return schemaProblem(err)
	}
	return nil
}

// inProject reports whether res is project pid or one of its objects.
func (a *API) inProject(ctx context.Context, res authz.ObjectRef, pid string) bool {
	if res.Type == authz.TypeProject {
		return res.ID == pid
	}
	p, ok := a.parentOf(ctx, res, "project")
	return ok && p.Type == authz.TypeProject && p.ID == pid
}

// checkUnscoped authorises a write or delete of a tuple outside any Project:
// on a Domain (domain#manage) or on the platform or a group (platform#manage).
// It targets the request's audit entry and returns the chain.
func (a *API) checkUnscoped(ctx context.Context, res authz.ObjectRef, tupleID string) (string, error) {
	ar := audit.RequestFrom(ctx)
	switch res.Type {
	case authz.TypeDomain:
		ar.Target(res.ID, "relation_tuple", tupleID)
		return res.ID, a.Authz.Check(ctx, "manage", "domain:"+res.ID)
	case authz.TypePlatform, authz.TypeGroup:
		ar.Target(audit.PlatformChain, "relation_tuple", tupleID)
		return audit.PlatformChain, a.Authz.Check(ctx, "manage", "platform:platform")
	}
	return "", problem.BadRequest("project_id_required", "Tuples on this object type are written with ?project_id.")
}

func (a *API) deleteTuple(ctx context.Context, in *tupleIDInput) (*struct{}, error) {
	id, err := parseUUID("relation_tuple", in.ID)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target(audit.PlatformChain, "relation_tuple", id)
	err = a.DB.Tx(ctx, func(tx *sql.Tx) error {
		r, err := a.Tuples.Get(ctx, tx, id)
		if errors.Is(err, ErrNotFound) {
			return a.missingTuple(ctx, tx, id)
		}
		if err != nil {
			return err
		}
		if err := a.checkTupleScope(ctx, r); err != nil {
			return err
		}
		if _, err := a.Tuples.DeleteByID(ctx, tx, id); err != nil {
			return err
		}
		return a.Audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	_ = a.Tuples.Sync(ctx)
	return nil, nil
}

// checkTupleScope requires manage on the scope a tuple was written in.
func (a *API) checkTupleScope(ctx context.Context, r Row) error {
	if r.ProjectID != "" {
		chain := a.chainOf(ctx, authz.ObjectRef{Type: authz.TypeProject, ID: r.ProjectID})
		audit.RequestFrom(ctx).Target(chain, "relation_tuple", r.ID)
		return a.Authz.Check(ctx, "manage", "project:"+r.ProjectID)
	}
	_, err := a.checkUnscoped(ctx, r.Tuple.Resource, r.ID)
	return err
}

// missingTuple answers a DELETE of an id that is not stored: 404 for a
// caller who may manage the scope of the deleted tuple it names (a repeated
// delete), else 403, exactly as for an id that never existed, which only a
// platform manager learns is missing.
func (a *API) missingTuple(ctx context.Context, tx *sql.Tx, id string) error {
	r, err := a.Tuples.Tombstone(ctx, tx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		err = a.Authz.Check(ctx, "manage", "platform:platform")
	case err == nil:
		err = a.checkTupleScope(ctx, r)
	}
	if err != nil {
		return err
	}
	return problem.NotFound("relation_tuple_not_found", "No such relation tuple.")
}
