package guard

import (
	"context"
	"fmt"

	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/principal"
)

// Engine is the Decider backed by the ReBAC engine. Platform managers
// (platform#manage) hold every permission, also on objects that are not (or
// no longer) linked into the platform's object graph, so that for them a
// missing object is a 404 after authorization rather than a 403; everyone
// else gets the engine's answer, which denies unknown objects (no existence
// oracle).
type Engine struct {
	Authz *authz.Engine
	// Ready, when set, is asked before every decision; an error (e.g. the
	// tuple index is stale) makes the decision fail closed with 503.
	Ready func() error
}

// Begin returns ctx with a fresh per-request memo: checks made with it share
// their intermediate results. Call it once per API request.
func (e Engine) Begin(ctx context.Context) context.Context {
	return authz.WithRequest(ctx, e.Authz.NewRequest())
}

// Subject is the ReBAC subject of a principal.
func Subject(p *principal.Principal) authz.SubjectRef {
	return authz.SubjectRef{Object: authz.ObjectRef{Type: string(p.Kind), ID: p.IdentityID}}
}

// Decide implements Decider.
func (e Engine) Decide(ctx context.Context, p *principal.Principal, permission, object string) (Decision, error) {
	if err := e.ready(); err != nil {
		return Decision{}, err
	}
	obj, err := authz.ParseObjectRef(object)
	if err != nil {
		return Decision{}, fmt.Errorf("guard: %w", err)
	}
	sub := Subject(p)
	d, err := e.Authz.Check(ctx, sub, permission, obj)
	if err != nil {
		return Decision{}, err
	}
	if !d.Allowed {
		admin, err := e.platformManager(ctx, sub)
		if err != nil {
			return Decision{}, err
		}
		if admin.Allowed {
			d = admin
		}
	}
	return Decision{Allowed: d.Allowed, Reason: string(d.Reason), Path: d.RelationPath()}, nil
}

// DecideMany implements BulkDecider with the engine's batched check.
func (e Engine) DecideMany(ctx context.Context, p *principal.Principal, permission string, objects []string) ([]bool, error) {
	if err := e.ready(); err != nil {
		return nil, err
	}
	objs := make([]authz.ObjectRef, len(objects))
	for i, o := range objects {
		ref, err := authz.ParseObjectRef(o)
		if err != nil {
			return nil, fmt.Errorf("guard: %w", err)
		}
		objs[i] = ref
	}
	sub := Subject(p)
	ok, err := e.Authz.CheckMany(ctx, sub, permission, objs)
	if err != nil {
		return nil, err
	}
	for _, v := range ok {
		if v {
			continue
		}
		admin, err := e.platformManager(ctx, sub)
		if err != nil {
			return nil, err
		}
		if admin.Allowed {
			for i := range ok {
				ok[i] = true
			}
		}
		break
	}
	return ok, nil
}

func (e Engine) platformManager(ctx context.Context, sub authz.SubjectRef) (authz.Decision, error) {
	return e.Authz.Check(ctx, sub, "manage", authz.Platform)
}

func (e Engine) ready() error {
	if e.Ready == nil {
		return nil
	}
	return e.Ready()
}
