package tuples

import (
	"context"

	"github.com/plexsphere/plexsphere/internal/authz"
)

// DomainOf resolves the Domain an object of type typ and id belongs to
// through the structural tuples (domain ← project ← Project children), and
// only for a Domain that exists: every Domain is linked to the platform. It
// answers false for the platform, groups, principals and unknown objects.
// The audit log uses it to write a denial to the target's Domain chain
// (issue 7 row 9); tuples.API uses it to choose an operation's chain.
func (s *Store) DomainOf(ctx context.Context, typ, id string) (string, bool) {
	obj := authz.ObjectRef{Type: typ, ID: id}
	for range 4 {
		switch obj.Type {
		case authz.TypeDomain:
			if p, ok := s.parent(ctx, obj, "platform"); !ok || p != authz.Platform {
				return "", false
			}
			return obj.ID, true
		case authz.TypeProject:
			next, ok := s.parent(ctx, obj, "domain")
			if !ok {
				return "", false
			}
			obj = next
			continue
		case "", authz.TypePlatform, authz.TypeGroup, authz.TypeUser, authz.TypeServiceIdentity:
			return "", false
		}
		next, ok := s.parent(ctx, obj, "project")
		if !ok {
			return "", false
		}
		obj = next
	}
	return "", false
}

// parent follows a structural relation: the one plain object subject of
// obj's relation.
func (s *Store) parent(ctx context.Context, obj authz.ObjectRef, relation string) (authz.ObjectRef, bool) {
	if obj.ID == "" {
		return authz.ObjectRef{}, false
	}
	subs, err := s.index.SubjectsOf(ctx, obj, relation)
	if err != nil || len(subs) != 1 || subs[0].Relation != "" {
		return authz.ObjectRef{}, false
	}
	return subs[0].Object, true
}
