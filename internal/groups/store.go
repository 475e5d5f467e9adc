package groups

import (
	"context"
	"database/sql"
	"errors"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/store"
)

var errNotFound = errors.New("groups: not found")

// group is a principal_groups row.
type group struct {
	apiv1.Group
}

const groupColumns = `id, COALESCE(domain_id, ''), slug, display_name, source, COALESCE(idp_binding_id, ''),
	COALESCE(idp_claim_value, ''), created_at, updated_at`

func scanGroup(row interface{ Scan(...any) error }) (*group, error) {
	var (
		g                group
		created, updated int64
	)
	err := row.Scan(&g.ID, &g.DomainID, &g.Slug, &g.DisplayName, &g.Source, &g.IdPBindingID, &g.IdPClaimValue,
		&created, &updated)
	g.CreatedAt, g.UpdatedAt = store.Time(created), store.Time(updated)
	return &g, err
}

// loadGroup reads one group; errNotFound when there is none.
func loadGroup(ctx context.Context, q store.Querier, id string) (*group, error) {
	g, err := scanGroup(q.QueryRowContext(ctx, `SELECT `+groupColumns+` FROM principal_groups WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound
	}
	return g, err
}

// memberTuple is the relation tuple that makes a member a member.
func memberTuple(groupID, kind, principalID string) authz.Tuple {
	sub := authz.ObjectRef{Type: kind, ID: principalID}.Subject()
	if kind == apiv1.MemberGroup {
		sub = authz.ObjectRef{Type: authz.TypeGroup, ID: principalID}.Userset("member")
	}
	return authz.Tuple{Resource: authz.ObjectRef{Type: authz.TypeGroup, ID: groupID}, Relation: "member", Subject: sub}
}

// principalInScope reports whether a principal of kind may join a group of
// domainID: a service identity or group of the same Domain, or a user of
// the same Domain or of none (a platform user). Anything else, including
// another Domain's principal, does not exist for the caller.
func principalInScope(ctx context.Context, q store.Querier, domainID, kind, id string) (bool, error) {
	var query string
	switch kind {
	case apiv1.MemberUser:
		query = `SELECT COUNT(*) FROM identities WHERE id = $1 AND kind = 'user' AND (domain_id = $2 OR domain_id IS NULL)`
	case apiv1.MemberServiceIdentity:
		query = `SELECT COUNT(*) FROM identities WHERE id = $1 AND kind = 'service_identity' AND domain_id = $2`
	case apiv1.MemberGroup:
		query = `SELECT COUNT(*) FROM principal_groups WHERE id = $1 AND scope_key = $2`
	default:
		return false, nil
	}
	var n int
	err := q.QueryRowContext(ctx, query, id, domainID).Scan(&n)
	return n > 0, err
}

// groupEdges reads the group-in-group memberships among the groups of one
// scope: parent → child groups.
func groupEdges(ctx context.Context, q store.Querier, scopeKey string) (map[string][]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT m.group_id, m.principal_id FROM principal_group_members m
		JOIN principal_groups g ON g.id = m.group_id
		WHERE g.scope_key = $1 AND m.principal_kind = 'group'`, scopeKey)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	children := map[string][]string{}
	for rows.Next() {
		var parent, child string
		if err := rows.Scan(&parent, &child); err != nil {
			return nil, err
		}
		children[parent] = append(children[parent], child)
	}
	return children, rows.Err()
}
