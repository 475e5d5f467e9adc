// Package pathid parses the ids operations take in their paths and
// queries, and gates Domain-scoped operations: one definition of the
// checks and codes every such operation answers with.
package pathid

import (
	"context"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Parse returns v as a canonical UUID, or 400 invalid_<kind>_id when it is
// not one in its 36-character form or is the nil UUID.
func Parse(kind, v string) (string, error) {
	u, err := uuid.Parse(v)
	if err != nil || u == uuid.Nil || len(v) != 36 {
		return "", problem.BadRequest("invalid_"+kind+"_id", "The "+kind+" id must be a UUID.")
	}
	return u.String(), nil
}

// Checker checks a permission on an object (the guard).
type Checker interface {
	Check(ctx context.Context, permission, object string) error
}

// Domain parses a Domain id, names it as the request's audit target and
// checks permission on it before anything is read (403 before 404), then
// that it exists (404 domain_not_found).
func Domain(ctx context.Context, q store.Querier, authz Checker, raw, permission string) (string, error) {
	id, err := Parse("domain", raw)
	if err != nil {
		return "", err
	}
	audit.RequestFrom(ctx).Target(id, "domain", id)
	if err := authz.Check(ctx, permission, "domain:"+id); err != nil {
		return "", err
	}
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM domains WHERE id = $1`, id).Scan(&n); err != nil {
		return "", problem.Internal(err)
	}
	if n == 0 {
		return "", problem.NotFound("domain_not_found", "No such Domain.")
	}
	return id, nil
}
