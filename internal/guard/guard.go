// Package guard enforces authorization on API requests: the check every
// handler runs before it reads (403 before 404, so existence never leaks),
// per-row filtering of lists, the PermissionDenied problem, and recording
// each decision on the request's audit state.
//
// The decision itself comes from a Decider; [Engine] is the one backed by
// the ReBAC engine (internal/authz).
package guard

import (
	"context"
	"net/http"
	"strings"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
)

// Decision is a Decider's answer.
type Decision struct {
	Allowed bool
	// Reason is granted, insufficient_relation or out_of_scope (api.md §2.3).
	Reason string
	// Path lists the relations traversed (type:id#relation).
	Path []string
}

// Decider answers whether a principal holds a permission on an object
// (`type:id`), and through which relations.
type Decider interface {
	Decide(ctx context.Context, p *principal.Principal, permission, object string) (Decision, error)
}

// BulkDecider is an optional Decider extension that answers a whole list
// page at once.
type BulkDecider interface {
	DecideMany(ctx context.Context, p *principal.Principal, permission string, objects []string) ([]bool, error)
}

// Guard enforces a Decider's answers.
type Guard struct {
	decider Decider
}

// New returns a Guard.
func New(d Decider) *Guard { return &Guard{decider: d} }

// Check returns nil when the caller holds permission on object, else a 403
// PermissionDenied problem (or 503 authz_unavailable: never fail open).
func (g *Guard) Check(ctx context.Context, permission, object string) error {
	p := principal.From(ctx)
	if p == nil {
		return problem.Unauthenticated()
	}
	typ, id, _ := strings.Cut(object, ":")
	d, err := g.decider.Decide(ctx, p, permission, object)
	if err != nil {
		return problem.Unavailable("authz_unavailable", err)
	}
	ar := audit.RequestFrom(ctx)
	if d.Allowed {
		ar.Decide(true, permission, typ, id, "granted")
		return nil
	}
	reason := d.Reason
	if reason == "" || reason == "granted" {
		reason = "insufficient_relation"
	}
	ar.Decide(false, permission, typ, id, reason)
	pd := problem.New(http.StatusForbidden, "permission_denied", "The caller lacks "+permission+" on this object.")
	pd.Reason = reason
	pd.RelationPath = d.Path
	if pd.RelationPath == nil {
		pd.RelationPath = []string{}
	}
	pd.CorrelationID = ar.CorrelationID
	return pd
}

// Visible reports, per object, whether the caller holds permission on it; a
// list handler drops the rows that are not.
func (g *Guard) Visible(ctx context.Context, permission string, objects []string) ([]bool, error) {
	p := principal.From(ctx)
	out := make([]bool, len(objects))
	if p == nil {
		return out, nil
	}
	if bd, ok := g.decider.(BulkDecider); ok {
		out, err := bd.DecideMany(ctx, p, permission, objects)
		if err != nil {
			return nil, problem.Unavailable("authz_unavailable", err)
		}
		return out, nil
	}
	for i, o := range objects {
		d, err := g.decider.Decide(ctx, p, permission, o)
		if err != nil {
			return nil, problem.Unavailable("authz_unavailable", err)
		}
		out[i] = d.Allowed
	}
	return out, nil
}
