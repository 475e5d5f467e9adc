package directory

import (
	"context"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/store"
)

// roleRelations are the roles the view reports, per object type, strongest
// first (inherited ones included: a Domain admin is also member, viewer and
// auditor there).
var roleRelations = map[string][]string{
	authz.TypeDomain:  {"admin", "member", "viewer", "auditor"},
	authz.TypeProject: {"admin", "operator", "viewer"},
}

// roles are the identity's effective roles on domainID and its Projects,
// from the ReBAC engine's lookup (through groups, nesting and
// inheritance), limited to this Domain's objects.
func (s *Service) roles(ctx context.Context, domainID, kind, id string) ([]apiv1.IdentityRole, error) {
	typ := authz.TypeUser
	if kind == "service_identity" {
		typ = authz.TypeServiceIdentity
	}
	subject := authz.ObjectRef{Type: typ, ID: id}.Subject()
	projects, err := store.Strings(ctx, s.db, `SELECT id FROM projects WHERE domain_id = $1`, domainID)
	if err != nil {
		return nil, problem.Internal(err)
	}
	ours := map[string]bool{authz.TypeDomain + ":" + domainID: true}
	for _, p := range projects {
		ours[authz.TypeProject+":"+p] = true
	}
	out := []apiv1.IdentityRole{}
	for _, typ := range []string{authz.TypeDomain, authz.TypeProject} {
		for _, rel := range roleRelations[typ] {
			objs, err := s.lookup.LookupResources(ctx, subject, rel, typ)
			if err != nil {
				return nil, problem.Unavailable("authz_unavailable", err)
			}
			for _, o := range objs {
				if ours[o.String()] {
					out = append(out, apiv1.IdentityRole{Object: o.String(), Relation: rel})
				}
			}
		}
	}
	return out, nil
}
