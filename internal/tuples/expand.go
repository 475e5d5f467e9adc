package tuples

import (
	"context"
	"errors"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/problem"
)

// expand answers POST /v1/authz/expand (docs/authorization.md, "Expand").
//
// The relation is checked against the schema first, so a relation the type
// does not have is a 400 and never reaches an authorization check that would
// ask the engine about it (issue 7 row 19). The caller must be allowed to
// expand the resource itself; in the tree, nodes the caller may not expand
// are cut (issue 7 row 21), see [API.reveal].
func (a *API) expand(ctx context.Context, in *expandInput) (*expandOutput, error) {
	res, err := authz.ParseObjectRef(in.Body.Resource)
	if err != nil {
		return nil, problem.BadRequest("invalid_resource", "resource must be type:id, or platform.")
	}
	if err := a.validateRelation(res, in.Body.Relation); err != nil {
		return nil, err
	}
	if err := a.ready(); err != nil {
		return nil, err
	}
	ar := audit.RequestFrom(ctx)
	ar.Target(a.chainOf(ctx, res), res.Type, res.ID)
	if err := a.checkExpand(ctx, res); err != nil {
		return nil, err
	}
	tree, err := a.Engine.Expand(ctx, res, in.Body.Relation, in.Body.MaxDepth)
	if err != nil {
		return nil, engineError(err)
	}
	shown, err := a.reveal(ctx, tree)
	if err != nil {
		return nil, err
	}
	if err := a.commitAudit(ctx); err != nil {
		return nil, err
	}
	return &expandOutput{Body: apiv1.AuthzExpansion{Tree: wireNode(tree, shown), CorrelationID: ar.CorrelationID}}, nil
}

// validateRelation answers a 400 unless the schema defines relation on
// res's type and res is well formed for it.
func (a *API) validateRelation(res authz.ObjectRef, relation string) error {
	err := a.Engine.Schema().ValidateSubject(authz.SubjectRef{Object: res, Relation: relation})
	if err == nil && relation == "" {
		err = authz.ErrUnknownRelation
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, authz.ErrInvalidRef):
		return problem.BadRequest("invalid_resource", "resource must be type:id, or platform.")
	}
	if p := schemaProblem(err); p != nil {
		return p
	}
	return problem.BadRequest("unknown_relation", "The schema has no such relation on that type.")
}

// checkExpand lets an auditor of res's Domain (of the platform outside
// any Domain) through, else requires manage on res; a type without manage
// (group) is for auditors only. The guard records a manage decision and
// answers the 403.
func (a *API) checkExpand(ctx context.Context, res authz.ObjectRef) error {
	scope := a.auditorScope(ctx, res)
	auditor, err := a.Authz.Visible(ctx, "auditor", []string{scope})
	if err != nil || auditor[0] {
		return err
	}
	if a.hasRelation(res, "manage") {
		return a.Authz.Check(ctx, "manage", res.String())
	}
	return a.Authz.Check(ctx, "auditor", scope)
}

// hasRelation reports whether the schema defines relation on obj's type.
func (a *API) hasRelation(obj authz.ObjectRef, relation string) bool {
	return a.Engine.Schema().ValidateSubject(authz.SubjectRef{Object: obj, Relation: relation}) == nil
}

// expandable reports, per object, whether the caller may see its expansion:
// as an auditor of the object's Domain (of the platform for objects outside
// any Domain), or with manage on the object itself where its type has
// manage. Groups have no manage, so only platform auditors see their
// members. Nothing is recorded on the audit entry.
func (a *API) expandable(ctx context.Context, objs []authz.ObjectRef) ([]bool, error) {
	scopes := make([]string, len(objs))
	for i, o := range objs {
		scopes[i] = a.auditorScope(ctx, o)
	}
	ok, err := a.Authz.Visible(ctx, "auditor", scopes)
	if err != nil {
		return nil, err
	}
	var managed []string
	var at []int
	for i, o := range objs {
		if !ok[i] && a.hasRelation(o, "manage") {
			managed, at = append(managed, o.String()), append(at, i)
		}
	}
	if len(managed) == 0 {
		return ok, nil
	}
	m, err := a.Authz.Visible(ctx, "manage", managed)
	if err != nil {
		return nil, err
	}
	for j, i := range at {
		ok[i] = m[j]
	}
	return ok, nil
}

// reveal decides which objects of tree the caller may see expanded: those
// it may expand directly (see [API.expandable]). A node on any other object,
// such as the Domain's or the platform's admins seen from a Project, keeps
// its relation and resource (the parent node already names them) but loses
// its subjects and children and is marked truncated, so a Project admin
// learns neither who administers the Domain nor who runs the platform.
func (a *API) reveal(ctx context.Context, tree *authz.ExpandNode) (map[authz.ObjectRef]bool, error) {
	seen := map[authz.ObjectRef]bool{}
	var objs []authz.ObjectRef
	var walk func(n *authz.ExpandNode)
	walk = func(n *authz.ExpandNode) {
		if n == nil {
			return
		}
		if _, ok := seen[n.Resource]; !ok && n.Resource != (authz.ObjectRef{}) {
			seen[n.Resource] = false
			objs = append(objs, n.Resource)
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(tree)
	ok, err := a.expandable(ctx, objs)
	if err != nil {
		return nil, err
	}
	for i, o := range objs {
		seen[o] = ok[i]
	}
	return seen, nil
}

// wireNode converts n for the API, cutting the nodes on objects that shown
// does not allow.
func wireNode(n *authz.ExpandNode, shown map[authz.ObjectRef]bool) *apiv1.ExpandNode {
	if n == nil {
		return nil
	}
	out := &apiv1.ExpandNode{Kind: string(n.Kind), Relation: n.Relation, Truncated: n.Truncated}
	if n.Resource != (authz.ObjectRef{}) {
		out.Resource = n.Resource.String()
		if !shown[n.Resource] {
			out.Kind, out.Truncated = string(authz.ExpandLeaf), true
			return out
		}
	}
	for _, s := range n.Subjects {
		out.Subjects = append(out.Subjects, s.String())
	}
	for _, c := range n.Children {
		out.Children = append(out.Children, wireNode(c, shown))
	}
	return out
}
