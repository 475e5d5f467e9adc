package labels

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Scope kinds of a Definition (api.md §3.4).
const (
	ScopePlatform = "platform"
	ScopeDomain   = "domain"
	ScopeProject  = "project"
)

// platformScopeID is the scope_id of platform Definitions: the zero UUID.
var platformScopeID = uuid.Nil.String()

// scope is where a Definition lives.
type scope struct {
	kind string // ScopePlatform, ScopeDomain or ScopeProject
	id   string // platformScopeID for the platform
}

// object is the ReBAC object the scope's permissions are checked on.
func (sc scope) object() string {
	if sc.kind == ScopePlatform {
		return "platform:platform"
	}
	return sc.kind + ":" + sc.id
}

// String is the compact form: platform, domain:<uuid> or project:<uuid>.
func (sc scope) String() string {
	if sc.kind == ScopePlatform {
		return ScopePlatform
	}
	return sc.kind + ":" + sc.id
}

func badScope(detail string) error { return problem.BadRequest("invalid_scope", detail) }

// parseScopeRef parses the compact scope form of the list filter.
func parseScopeRef(ref string) (scope, error) {
	if ref == ScopePlatform {
		return scope{kind: ScopePlatform, id: platformScopeID}, nil
	}
	kind, id, ok := strings.Cut(ref, ":")
	if !ok || (kind != ScopeDomain && kind != ScopeProject) {
		return scope{}, badScope("scope must be platform, domain:<uuid> or project:<uuid>.")
	}
	u, err := uuid.Parse(id)
	if err != nil || u == uuid.Nil || len(id) != 36 {
		return scope{}, badScope("The scope's id must be a UUID.")
	}
	return scope{kind: kind, id: u.String()}, nil
}

// parseCreateScope reads the scope of a create body: `platform`, `domain` or
// `project` with scope_id, or the compact `domain:<uuid>` form (where a
// scope_id, if also sent, must agree).
func parseCreateScope(kind, id string) (scope, error) {
	if strings.Contains(kind, ":") {
		sc, err := parseScopeRef(kind)
		if err != nil {
			return sc, err
		}
		if id != "" && id != sc.id {
			return sc, badScope("scope_id disagrees with the id in scope.")
		}
		return sc, nil
	}
	switch kind {
	case ScopePlatform:
		if id != "" && id != platformScopeID {
			return scope{}, badScope("A platform Definition takes no scope_id (or the zero UUID).")
		}
		return scope{kind: ScopePlatform, id: platformScopeID}, nil
	case ScopeDomain, ScopeProject:
		if id == "" {
			return scope{}, badScope("A " + kind + " Definition needs scope_id.")
		}
		return parseScopeRef(kind + ":" + id)
	}
	return scope{}, badScope("scope must be platform, domain or project.")
}

// scopeChain is the audit chain of a scope as far as it is known without a
// read: the platform chain, the Domain's own chain, or "" for a Project
// (whose Domain is found later).
func scopeChain(sc scope) string {
	switch sc.kind {
	case ScopePlatform:
		return audit.PlatformChain
	case ScopeDomain:
		return sc.id
	}
	return ""
}

// resolved is a scope as found in the database.
type resolved struct {
	// prefix starts the qualified keys of the scope's Definitions:
	// platform, <domain-slug> or <domain-slug>.<project-slug>.
	prefix string
	// chain is the audit chain: the platform chain or the Domain's.
	chain string
}

// resolveScope checks that the scope's Domain or Project exists and returns
// its key prefix and audit chain.
func resolveScope(ctx context.Context, q store.Querier, sc scope) (resolved, error) {
	var (
		r   resolved
		err error
	)
	switch sc.kind {
	case ScopePlatform:
		return resolved{prefix: ScopePlatform, chain: audit.PlatformChain}, nil
	case ScopeDomain:
		r.chain = sc.id
		err = q.QueryRowContext(ctx, `SELECT slug FROM domains WHERE id = $1`, sc.id).Scan(&r.prefix)
		if errors.Is(err, sql.ErrNoRows) {
			return r, problem.NotFound("domain_not_found", "No such Domain.")
		}
	default:
		var dslug, pslug string
		err = q.QueryRowContext(ctx, `SELECT d.slug, p.slug, d.id FROM projects p JOIN domains d ON d.id = p.domain_id
			WHERE p.id = $1`, sc.id).Scan(&dslug, &pslug, &r.chain)
		if errors.Is(err, sql.ErrNoRows) {
			return r, problem.NotFound("project_not_found", "No such Project.")
		}
		r.prefix = dslug + "." + pslug
	}
	if err != nil {
		return r, problem.Internal(err)
	}
	return r, nil
}
