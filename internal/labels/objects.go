package labels

import (
	"context"
	"database/sql"
	"errors"
	"slices"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/pathid"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/store"
)

// objectQueries read, for each kind that takes labels today, an object's
// Domain and Project ("" for a Domain).
var objectQueries = map[string]string{
	"domain":   `SELECT id, '' FROM domains WHERE id = $1`,
	"project":  `SELECT domain_id, id FROM projects WHERE id = $1`,
	"resource": `SELECT domain_id, project_id FROM resources WHERE id = $1`,
	"node":     `SELECT domain_id, project_id FROM nodes WHERE id = $1 AND revoked_at IS NULL`,
}

// target is a labelled object and where it sits in the tenancy tree.
type target struct {
	kind, id  string
	domainID  string
	projectID string
}

// ref is the object's ReBAC form, `<kind>:<id>`.
func (t target) ref() string { return t.kind + ":" + t.id }

// parseTarget checks the path of an object's labels.
func parseTarget(kind, id string) (target, error) {
	if _, ok := objectQueries[kind]; !ok {
		return target{}, problem.BadRequest("invalid_object_kind", "Labels can be set on a domain, project, resource or node.")
	}
	id, err := pathid.Parse("object", id)
	if err != nil {
		return target{}, err
	}
	t := target{kind: kind, id: id}
	if kind == "domain" {
		t.domainID = id
	}
	return t, nil
}

// locate fills the object's Domain and Project, locking its row inside a
// transaction (lock) so that concurrent label writes on one object
// serialise; a missing object is 404 object_not_found.
func (s *Service) locate(ctx context.Context, q store.Querier, t *target, lock bool) error {
	query := objectQueries[t.kind]
	if lock {
		query += s.db.ForUpdate()
	}
	err := q.QueryRowContext(ctx, query, t.id).Scan(&t.domainID, &t.projectID)
	if errors.Is(err, sql.ErrNoRows) {
		return problem.NotFound("object_not_found", "No such "+t.kind+".")
	}
	if err != nil {
		return problem.Internal(err)
	}
	return nil
}

// applies checks that d may label t: t's kind is one d applies to, and d is
// visible from t (a platform Definition everywhere, a Domain's inside that
// Domain, a Project's inside that Project).
func applies(d apiv1.LabelDefinition, t target) error {
	if len(d.ApplicableKinds) > 0 && !slices.Contains(d.ApplicableKinds, t.kind) {
		return problem.Unprocessable("label_not_applicable", d.QualifiedKey+" does not apply to a "+t.kind+".")
	}
	var visible bool
	switch d.Scope {
	case ScopePlatform:
		visible = true
	case ScopeDomain:
		visible = t.domainID == d.ScopeID
	case ScopeProject:
		visible = t.projectID == d.ScopeID
	}
	if !visible {
		return problem.Unprocessable("label_out_of_scope", d.QualifiedKey+" is scoped to a "+d.Scope+" that does not contain this "+t.kind+".")
	}
	return nil
}
