// Package guard enforces authorization on API requests: the check every
// handler runs before it reads (403 before 404, so existence never leaks),
// per-row filtering of lists, the PermissionDenied problem, and recording
// each decision on the request's audit state.
//
// The decision itself comes from a Decider. Until the ReBAC engine is wired
// in, the spine's decider grants everything to holders of the platform admin
// tuple (`platform:platform#admin@user:<id>`) and nothing to anyone else.
package guard

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strings"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Decider answers whether a principal holds a permission on an object
// (`type:id`), and through which relations.
type Decider interface {
	Decide(ctx context.Context, p *principal.Principal, permission, object string) (allowed bool, path []string, err error)
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
	ok, path, err := g.decider.Decide(ctx, p, permission, object)
	if err != nil {
		return problem.Unavailable("authz_unavailable", err)
	}
	ar := audit.RequestFrom(ctx)
	if ok {
		ar.Decide(true, permission, typ, id, "granted")
		return nil
	}
	ar.Decide(false, permission, typ, id, "insufficient_relation")
	pd := problem.New(http.StatusForbidden, "permission_denied", "The caller lacks "+permission+" on this object.")
	pd.Reason = "insufficient_relation"
	pd.RelationPath = path
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
		ok, _, err := g.decider.Decide(ctx, p, permission, o)
		if err != nil {
			return nil, problem.Unavailable("authz_unavailable", err)
		}
		out[i] = ok
	}
	return out, nil
}

// PlatformAdmins is the spine's Decider: platform admins may do everything.
type PlatformAdmins struct {
	DB *store.DB
}

// Decide implements Decider.
func (d PlatformAdmins) Decide(ctx context.Context, p *principal.Principal, _, _ string) (bool, []string, error) {
	var one int
	err := d.DB.QueryRowContext(ctx, `SELECT 1 FROM relation_tuples
		WHERE resource_type = 'platform' AND resource_id = 'platform' AND relation = 'admin'
		AND subject_type = $1 AND subject_id = $2 AND subject_relation = ''`, string(p.Kind), p.IdentityID).Scan(&one)
	if err == nil {
		return true, []string{"platform#admin"}, nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil, nil
	}
	return false, nil, err
}

// DecideMany implements BulkDecider with one query.
func (d PlatformAdmins) DecideMany(ctx context.Context, p *principal.Principal, permission string, objects []string) ([]bool, error) {
	out := make([]bool, len(objects))
	if len(objects) == 0 {
		return out, nil
	}
	ok, _, err := d.Decide(ctx, p, permission, "")
	for i := range out {
		out[i] = ok
	}
	return out, err
}
