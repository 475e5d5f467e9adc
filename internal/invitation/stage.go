package invitation

import (
	"context"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/problem"
)

// placeholder stands for the invitee when a staged tuple is checked
// against the schema (the identity does not exist yet).
var placeholder = authz.ObjectRef{Type: authz.TypeUser, ID: uuid.Nil.String()}.Subject()

// stage validates the initial tuples of an invitation to domainID: each
// names this Domain, one of its Projects or one of its groups (member
// only), with a relation the schema lets a user hold; the inviter must be
// able to assign roles on each Domain or Project named (no escalation
// through an invitation). Duplicates collapse.
func (s *Service) stage(ctx context.Context, domainID string, in []apiv1.InvitationTuple) ([]apiv1.InvitationTuple, error) {
	if len(in) > MaxTuples {
		return nil, problem.Unprocessable("too_many_initial_tuples", "An invitation carries at most 32 initial tuples.")
	}
	out := []apiv1.InvitationTuple{}
	seen := map[string]bool{}
	for _, t := range in {
		if len(t.CaveatContext) > 0 {
			return nil, problem.Unprocessable("invalid_caveat_context", "Caveats are not supported on invitation tuples.")
		}
		obj, err := s.inDomain(ctx, domainID, t.Object)
		if err != nil {
			return nil, err
		}
		tuple := authz.Tuple{Resource: obj, Relation: t.Relation, Subject: placeholder}
		if err := s.schema.ValidateTuple(tuple); err != nil || obj.Type == authz.TypeGroup && t.Relation != "member" {
			return nil, problem.BadRequest("invalid_body", "initial_tuples: "+t.Relation+" cannot be granted to a user on "+obj.Type+".")
		}
		if obj.Type != authz.TypeGroup {
			if err := s.authz.Check(ctx, "assign", obj.String()); err != nil {
				return nil, err
			}
		}
		key := obj.String() + "#" + t.Relation
		if !seen[key] {
			seen[key] = true
			out = append(out, apiv1.InvitationTuple{Relation: t.Relation, Object: obj.String()})
		}
	}
	return out, nil
}

// inDomain parses object and checks it is this Domain, one of its
// Projects or one of its groups.
func (s *Service) inDomain(ctx context.Context, domainID, object string) (authz.ObjectRef, error) {
	outOfScope := problem.Unprocessable("invitation_object_out_of_scope",
		"initial_tuples[].object must be domain:<this-id>, project:<uuid> or group:<uuid> of this Domain.")
	obj, err := authz.ParseObjectRef(object)
	if err != nil {
		return obj, outOfScope
	}
	var query string
	switch obj.Type {
	case authz.TypeDomain:
		if obj.ID != domainID {
			return obj, outOfScope
		}
		return obj, nil
	case authz.TypeProject:
		query = `SELECT COUNT(*) FROM projects WHERE id = $1 AND domain_id = $2`
	case authz.TypeGroup:
		query = `SELECT COUNT(*) FROM principal_groups WHERE id = $1 AND domain_id = $2 AND source = 'manual'`
	default:
		return obj, outOfScope
	}
	id, err := uuid.Parse(obj.ID)
	if err != nil {
		return obj, outOfScope
	}
	obj.ID = id.String()
	var n int
	if err := s.db.QueryRowContext(ctx, query, obj.ID, domainID).Scan(&n); err != nil {
		return obj, problem.Internal(err)
	}
	if n == 0 {
		return obj, outOfScope
	}
	return obj, nil
}
