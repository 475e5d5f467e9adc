package authz

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// LookupSubjects returns every subject of subjectType (objects such as
// "user", or usersets such as "group#member") that holds permission on
// resource, sorted.
//
// It gathers candidates by walking the rewrite top-down along the branches
// that can grant (every union branch, the first intersection branch, an
// exclusion's base), then confirms each with a check, sharing the context's
// [Request]. Confirming is depth-bounded like [Engine.Check].
func (e *Engine) LookupSubjects(ctx context.Context, resource ObjectRef, permission string, subjectType SubjectType) ([]SubjectRef, error) {
	ri, err := e.schema.rel(resource, permission)
	if err != nil {
		return nil, fmt.Errorf("authz: lookup subjects: %w", err)
	}
	if err := e.validateSubjectType(subjectType); err != nil {
		return nil, fmt.Errorf("authz: lookup subjects: %w", err)
	}
	cands, err := e.subjectCandidates(ctx, resource, ri, subjectType)
	if err != nil {
		return nil, fmt.Errorf("authz: lookup subjects %s#%s: %w", resource, permission, err)
	}
	req := e.request(ctx)
	var out []SubjectRef
	for _, s := range cands {
		r, err := e.newChecker(ctx, req, s).check(resource, ri)
		if err != nil {
			return nil, fmt.Errorf("authz: lookup subjects %s#%s: %s: %w", resource, permission, s, err)
		}
		if r.ok {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b SubjectRef) int { return strings.Compare(a.String(), b.String()) })
	return out, nil
}

func (e *Engine) validateSubjectType(st SubjectType) error {
	t := e.schema.types[st.Type]
	if t == nil {
		return fmt.Errorf("%w: %q", ErrUnknownType, st.Type)
	}
	if st.Relation != "" && t.rels[st.Relation] == nil {
		return fmt.Errorf("%w: %s", ErrUnknownRelation, st)
	}
	return nil
}

// subjectCandidates walks from resource#ri towards subjects over the
// branches that can grant, collecting every subject of type st it meets. The
// walk visits each (object, relation) once, so cycles end it.
func (e *Engine) subjectCandidates(ctx context.Context, resource ObjectRef, ri *relInfo, st SubjectType) ([]SubjectRef, error) {
	w := subjectWalk{ctx: ctx, e: e, st: st, seen: make(map[nodeKey]bool), found: make(map[SubjectRef]bool)}
	w.visit(resource, ri)
	for len(w.queue) > 0 {
		n := w.queue[len(w.queue)-1]
		w.queue = w.queue[:len(w.queue)-1]
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := w.walk(n.obj, n.rel, n.rel.root); err != nil {
			return nil, err
		}
	}
	return w.out, nil
}

type subjectWalk struct {
	ctx   context.Context
	e     *Engine
	st    SubjectType
	seen  map[nodeKey]bool
	queue []walkItem
	found map[SubjectRef]bool
	out   []SubjectRef
}

type walkItem struct {
	obj ObjectRef
	rel *relInfo
}

func (w *subjectWalk) visit(obj ObjectRef, ri *relInfo) {
	k := nodeKey{obj, ri}
	if w.seen[k] {
		return
	}
	w.seen[k] = true
	if w.st.Relation == ri.name && w.st.Type == obj.Type {
		w.emit(obj.Userset(ri.name)) // a userset holds its own relation
	}
	w.queue = append(w.queue, walkItem{obj, ri})
}

func (w *subjectWalk) emit(s SubjectRef) {
	if !w.found[s] {
		w.found[s] = true
		w.out = append(w.out, s)
	}
}

func (w *subjectWalk) walk(obj ObjectRef, ri *relInfo, n *cnode) error {
	switch n.op {
	case OpThis:
		subs, err := w.e.tuples.SubjectsOf(w.ctx, obj, ri.name)
		if err != nil {
			return err
		}
		for _, s := range subs {
			if !ri.allowed[s.Type()] {
				continue
			}
			if s.Type() == w.st {
				w.emit(s)
			}
			if u := ri.usersets[s.Type()]; u != nil {
				w.visit(s.Object, u)
			}
		}
	case OpComputed:
		w.visit(obj, n.rel)
	case OpArrow:
		subs, err := w.e.tuples.SubjectsOf(w.ctx, obj, n.tupleset.name)
		if err != nil {
			return err
		}
		for _, s := range subs {
			if t := n.targets[s.Object.Type]; t != nil && s.Relation == "" {
				w.visit(s.Object, t)
			}
		}
	case OpUnion:
		for _, a := range n.args {
			if err := w.walk(obj, ri, a); err != nil {
				return err
			}
		}
	case OpIntersection, OpExclusion:
		// A grant needs the first intersection branch, and an exclusion's base.
		return w.walk(obj, ri, n.args[0])
	}
	return nil
}
