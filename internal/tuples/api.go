package tuples

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Authorizer is the enforcement the API needs (internal/guard).
type Authorizer interface {
	Check(ctx context.Context, permission, object string) error
	Visible(ctx context.Context, permission string, objects []string) ([]bool, error)
}

// Projects reads a Project without authorization (internal/tenancy); it
// answers a 404 problem for a missing one.
type Projects interface {
	GetProject(ctx context.Context, q store.Querier, id string) (apiv1.Project, error)
}

// API serves the authorization operations.
type API struct {
	DB       *store.DB
	Audit    *audit.Log
	Authz    Authorizer
	Engine   *authz.Engine
	Tuples   *Store
	Projects Projects
	Pages    *page.Codec
}

type checkInput struct{ Body apiv1.AuthzCheck }
type checkOutput struct{ Body apiv1.AuthzDecision }
type lookupInput struct{ Body apiv1.AuthzLookupResources }
type lookupOutput struct{ Body apiv1.AuthzResources }
type expandInput struct{ Body apiv1.AuthzExpand }
type expandOutput struct{ Body apiv1.AuthzExpansion }
type listTuplesInput struct {
	ProjectID string `query:"project_id" required:"true" doc:"Project id (UUID)."`
	page.Params
}
type listTuplesOutput struct {
	Body apiv1.List[apiv1.RelationTuple]
}
type writeTupleInput struct {
	ProjectID string `query:"project_id" doc:"Project id (UUID). Required for tuples on a Project or its objects; without it the resource must be a Domain, a group or the platform."`
	Body      apiv1.WriteRelationTuple
}
type tupleOutput struct {
	Location string `header:"Location"`
	Body     apiv1.RelationTuple
}
type tupleIDInput struct {
	ID string `path:"id" doc:"Relation tuple id (UUID)."`
}

// Register adds the authorization operations to api.
func (a *API) Register(api huma.API) {
	huma.Register(api, route.Op(http.MethodPost, "/v1/authz/check", "checkPermission", "authz.check", route.Operator,
		"Evaluate a permission", "Authorization"), a.check)
	huma.Register(api, route.Op(http.MethodPost, "/v1/authz/lookup-resources", "lookupResources", "authz.lookup_resources",
		route.Operator, "Objects a subject reaches", "Authorization"), a.lookupResources)
	huma.Register(api, route.Op(http.MethodGet, "/v1/authz/relation-tuples", "listRelationTuples", "authz.tuple_list",
		route.Operator, "List the tuples of a Project", "Authorization"), a.listTuples)
	op := route.Op(http.MethodPost, "/v1/authz/relation-tuples", "createRelationTuple", "authz.tuple_create", route.Operator,
		"Write a tuple", "Authorization")
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, a.writeTuple)
	op = route.Op(http.MethodDelete, "/v1/authz/relation-tuples/{id}", "deleteRelationTuple", "authz.tuple_delete",
		route.Operator, "Delete a tuple", "Authorization")
	op.DefaultStatus = http.StatusNoContent
	huma.Register(api, op, a.deleteTuple)
	a.registerSubjects(api)
	huma.Register(api, route.Op(http.MethodPost, "/v1/authz/expand", "expandPermission", "authz.expand", route.Operator,
		"Expand a permission into its tree", "Authorization"), a.expand)
}

// parseRefs parses a subject and a resource, answering 400s.
func parseRefs(subject, resource string) (authz.SubjectRef, authz.ObjectRef, error) {
	sub, err := authz.ParseSubjectRef(subject)
	if err != nil {
		return sub, authz.ObjectRef{}, problem.BadRequest("invalid_subject", "subject must be type:id or type:id#relation.")
	}
	res, err := authz.ParseObjectRef(resource)
	if err != nil {
		return sub, res, problem.BadRequest("invalid_resource", "resource must be type:id, or platform.")
	}
	return sub, res, nil
}

// schemaProblem turns a schema validation failure into a 400.
func schemaProblem(err error) error {
	switch {
	case errors.Is(err, authz.ErrUnknownType):
		return problem.BadRequest("unknown_object_type", "The schema has no such object type.")
	case errors.Is(err, authz.ErrUnknownRelation):
		return problem.BadRequest("unknown_relation", "The schema has no such relation on that type.")
	case errors.Is(err, authz.ErrSubjectNotAllowed):
		return problem.BadRequest("subject_not_allowed", "That relation cannot be written, or not with this subject type.")
	case errors.Is(err, authz.ErrInvalidRef):
		return problem.BadRequest("invalid_relation_tuple", "The tuple is malformed.")
	}
	return nil
}

// ready fails closed (503) while this replica's index is stale.
func (a *API) ready() error {
	if err := a.Tuples.Healthy(); err != nil {
		return problem.Unavailable("authz_unavailable", err)
	}
	return nil
}

// engineError maps an engine failure: a schema mismatch in the request is a
// 400, anything else means the answer is unknown (503, never fail open).
func engineError(err error) error {
	if p := schemaProblem(err); p != nil {
		return p
	}
	return problem.Unavailable("authz_unavailable", err)
}

// parentOf follows a structural relation in the index.
func (a *API) parentOf(ctx context.Context, obj authz.ObjectRef, relation string) (authz.ObjectRef, bool) {
	subs, err := a.Tuples.Index().SubjectsOf(ctx, obj, relation)
	if err != nil || len(subs) != 1 || subs[0].Relation != "" {
		return authz.ObjectRef{}, false
	}
	return subs[0].Object, true
}

// domainOf resolves the Domain an object belongs to through the structural
// tuples; false for the platform, groups and unknown objects.
func (a *API) domainOf(ctx context.Context, obj authz.ObjectRef) (authz.ObjectRef, bool) {
	for range 4 {
		switch obj.Type {
		case authz.TypeDomain:
			return obj, true
		case authz.TypeProject:
			return a.parentOf(ctx, obj, "domain")
		case authz.TypePlatform, authz.TypeGroup, authz.TypeUser, authz.TypeServiceIdentity:
			return authz.ObjectRef{}, false
		}
		next, ok := a.parentOf(ctx, obj, "project")
		if !ok {
			return authz.ObjectRef{}, false
		}
		obj = next
	}
	return authz.ObjectRef{}, false
}

// auditorScope is the object on which a caller needs auditor to ask about
// another subject's access to obj: obj's Domain, else the platform.
func (a *API) auditorScope(ctx context.Context, obj authz.ObjectRef) string {
	if d, ok := a.domainOf(ctx, obj); ok {
		return d.String()
	}
	return "platform:platform"
}

// chainOf is the audit chain for obj: its existing Domain's, else the
// platform's (never a chain for a Domain that does not exist).
func (a *API) chainOf(ctx context.Context, obj authz.ObjectRef) string {
	if d, ok := a.Tuples.DomainOf(ctx, obj.Type, obj.ID); ok {
		return d
	}
	return audit.PlatformChain
}

// strangerTo reports whether the caller, asking about its own access, was
// refused a relation on an object of the Domain whose chain is given and
// cannot read that Domain either: such a check is no business of that
// Domain, so it is written to the platform chain (issue 7 row 10: nobody
// appends entries to a Domain chain they have no standing in).
func (a *API) strangerTo(ctx context.Context, chain string, allowed bool) bool {
	if allowed || chain == audit.PlatformChain {
		return false
	}
	reads, err := a.Authz.Visible(ctx, "read", []string{authz.TypeDomain + ":" + chain})
	return err != nil || !reads[0]
}

func isCaller(ctx context.Context, sub authz.SubjectRef) bool {
	p := principal.From(ctx)
	return p != nil && sub.Relation == "" && sub.Object.Type == string(p.Kind) && sub.Object.ID == p.IdentityID
}

// commitAudit appends the request's success entry in its own transaction.
func (a *API) commitAudit(ctx context.Context) error {
	return problem.From(a.DB.Tx(ctx, func(tx *sql.Tx) error { return a.Audit.Commit(ctx, tx) }))
}

func (a *API) check(ctx context.Context, in *checkInput) (*checkOutput, error) {
	sub, res, err := parseRefs(in.Body.Subject, in.Body.Resource)
	if err != nil {
		return nil, err
	}
	if err := a.ready(); err != nil {
		return nil, err
	}
	ar := audit.RequestFrom(ctx)
	ar.Target(a.chainOf(ctx, res), res.Type, res.ID)
	if !isCaller(ctx, sub) {
		if err := a.Authz.Check(ctx, "auditor", a.auditorScope(ctx, res)); err != nil {
			return nil, err
		}
	}
	d, err := a.Engine.Check(ctx, sub, in.Body.Relation, res)
	if err != nil {
		return nil, engineError(err)
	}
	if chain := a.chainOf(ctx, res); isCaller(ctx, sub) && a.strangerTo(ctx, chain, d.Allowed) {
		ar.Target(audit.PlatformChain, res.Type, res.ID)
	}
	if err := a.commitAudit(ctx); err != nil {
		return nil, err
	}
	out := &checkOutput{Body: apiv1.AuthzDecision{Decision: "denied", Reason: string(d.Reason),
		RelationPath: d.RelationPath(), CorrelationID: ar.CorrelationID}}
	if d.Allowed {
		out.Body.Decision = "allowed"
	}
	return out, nil
}

func (a *API) lookupResources(ctx context.Context, in *lookupInput) (*lookupOutput, error) {
	sub, err := authz.ParseSubjectRef(in.Body.Subject)
	if err != nil {
		return nil, problem.BadRequest("invalid_subject", "subject must be type:id or type:id#relation.")
	}
	if err := a.ready(); err != nil {
		return nil, err
	}
	ar := audit.RequestFrom(ctx)
	ar.Target(audit.PlatformChain, in.Body.ResourceType, "")
	refs, err := a.Engine.LookupResources(ctx, sub, in.Body.Relation, in.Body.ResourceType)
	if err != nil {
		return nil, engineError(err)
	}
	items := make([]string, 0, len(refs))
	if isCaller(ctx, sub) {
		for _, r := range refs {
			items = append(items, r.String())
		}
	} else if items, err = a.auditable(ctx, refs); err != nil {
		return nil, err
	}
	if err := a.commitAudit(ctx); err != nil {
		return nil, err
	}
	return &lookupOutput{Body: apiv1.AuthzResources{Items: items, CorrelationID: ar.CorrelationID}}, nil
}

// auditable keeps the objects whose Domain (or, without one, the platform)
// the caller audits: what another subject reaches is shown only there.
func (a *API) auditable(ctx context.Context, refs []authz.ObjectRef) ([]string, error) {
	scopes := make([]string, len(refs))
	for i, r := range refs {
		scopes[i] = a.auditorScope(ctx, r)
	}
	ok, err := a.Authz.Visible(ctx, "auditor", scopes)
	if err != nil {
		return nil, err
	}
	items := []string{}
	for i, r := range refs {
		if ok[i] {
			items = append(items, r.String())
		}
	}
	return items, nil
}

func wireTuple(r Row) apiv1.RelationTuple {
	return apiv1.RelationTuple{ID: r.ID, Subject: r.Tuple.Subject.String(), Relation: r.Tuple.Relation,
		Resource: r.Tuple.Resource.String(), CreatedAt: r.CreatedAt}
}

func parseUUID(kind, s string) (string, error) {
	u, err := parseUUIDValue(s)
	if err != nil {
		return "", problem.BadRequest("invalid_"+kind+"_id", fmt.Sprintf("%s is not a valid %s id.", s, kind))
	}
	return u, nil
}
