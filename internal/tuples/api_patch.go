package tuples

import (
	"context"
	"database/sql"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
)

// MaxLookupSubjects bounds a lookup-subjects answer; a longer one is cut
// and marked truncated.
const MaxLookupSubjects = 1000

type lookupSubjectsInput struct{ Body apiv1.AuthzLookupSubjects }
type lookupSubjectsOutput struct{ Body apiv1.AuthzSubjects }
type patchTupleInput struct {
	ID   string `path:"id" doc:"Relation tuple id (UUID)."`
	Body apiv1.PatchRelationTuple
}
type patchTupleOutput struct{ Body apiv1.RelationTuple }

// registerSubjects adds lookup-subjects and the tuple replacement.
func (a *API) registerSubjects(api huma.API) {
	huma.Register(api, route.Op(http.MethodPost, "/v1/authz/lookup-subjects", "lookupSubjects", "authz.lookup_subjects",
		route.Operator, "Subjects that hold a relation on an object", "Authorization"), a.lookupSubjects)
	huma.Register(api, route.Op(http.MethodPatch, "/v1/authz/relation-tuples/{id}", "patchRelationTuple",
		"authz.tuple_patch", route.Operator, "Replace a tuple's contents, keeping its id", "Authorization"), a.patchTuple)
}

// lookupSubjects answers who holds a relation on an object, through groups
// and the Domain → Project → object hierarchy. Who may reach an object is
// shown only to an auditor of its Domain (else of the platform), as for a
// check of another subject.
func (a *API) lookupSubjects(ctx context.Context, in *lookupSubjectsInput) (*lookupSubjectsOutput, error) {
	st, err := authz.ParseSubjectType(in.Body.SubjectType)
	if err != nil {
		return nil, problem.BadRequest("invalid_subject_type", "subject_type must be type or type#relation.")
	}
	res, err := authz.ParseObjectRef(in.Body.Resource)
	if err != nil {
		return nil, problem.BadRequest("invalid_resource", "resource must be type:id, or platform.")
	}
	if err := a.ready(); err != nil {
		return nil, err
	}
	ar := audit.RequestFrom(ctx)
	ar.Target(a.chainOf(ctx, res), res.Type, res.ID)
	if err := a.Authz.Check(ctx, "auditor", a.auditorScope(ctx, res)); err != nil {
		return nil, err
	}
	subs, err := a.Engine.LookupSubjects(ctx, res, in.Body.Relation, st)
	if err != nil {
		return nil, engineError(err)
	}
	out := &lookupSubjectsOutput{Body: apiv1.AuthzSubjects{Items: make([]string, 0, min(len(subs), MaxLookupSubjects))}}
	if len(subs) > MaxLookupSubjects {
		subs, out.Body.Truncated = subs[:MaxLookupSubjects], true
	}
	for _, s := range subs {
		out.Body.Items = append(out.Body.Items, s.String())
	}
	if err := a.commitAudit(ctx); err != nil {
		return nil, err
	}
	out.Body.CorrelationID = ar.CorrelationID
	return out, nil
}

// patchTuple replaces a tuple's subject, relation and resource in place:
// the caller needs manage on the scope the tuple was written in (as for a
// delete) and the replacement must pass every rule of a write in that same
// scope. The index sees the change before the answer.
func (a *API) patchTuple(ctx context.Context, in *patchTupleInput) (*patchTupleOutput, error) {
	id, err := parseUUID("relation_tuple", in.ID)
	if err != nil {
		return nil, err
	}
	b := in.Body
	sub, res, err := parseRefs(b.Subject, b.Resource)
	if err != nil {
		return nil, err
	}
	ar := audit.RequestFrom(ctx)
	ar.Target(audit.PlatformChain, "relation_tuple", id)
	old, err := a.Tuples.Get(ctx, a.DB, id)
	if errors.Is(err, ErrNotFound) {
		return nil, problem.From(a.DB.Tx(ctx, func(tx *sql.Tx) error { return a.missingTuple(ctx, tx, id) }))
	}
	if err != nil {
		return nil, problem.Internal(err)
	}
	if err := a.checkTupleScope(ctx, old); err != nil {
		return nil, err
	}
	repl := Row{Tuple: authz.Tuple{Resource: res, Relation: b.Relation, Subject: sub}}
	if _, err := a.authorizeWrite(ctx, old.ProjectID, &repl, id); err != nil {
		return nil, err
	}
	if err := a.checkGrant(repl, b.CaveatName, b.CaveatContext); err != nil {
		return nil, err
	}
	var stored Row
	err = a.DB.Tx(ctx, func(tx *sql.Tx) error {
		prev, added, err := a.Tuples.Replace(ctx, tx, id, repl)
		if err != nil {
			return err
		}
		if prev.Tuple != old.Tuple {
			return problem.Conflict("relation_tuple_changed", "The tuple changed while it was being replaced; try again.")
		}
		stored = added
		return a.Audit.Commit(ctx, tx)
	})
	switch {
	case errors.Is(err, ErrExists):
		return nil, problem.Conflict("relation_tuple_conflict", "The replacement tuple already exists.")
	case errors.Is(err, ErrNotFound):
		return nil, problem.NotFound("relation_tuple_not_found", "No such relation tuple.")
	case err != nil:
		return nil, problem.From(err)
	}
	_ = a.Tuples.Sync(ctx) // the poller catches up if this fails
	return &patchTupleOutput{Body: wireTuple(stored)}, nil
}
