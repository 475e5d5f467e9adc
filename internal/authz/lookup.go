package authz

import (
	"context"
	"fmt"
	"slices"
)

// LookupResources returns every object of resourceType on which subject
// holds permission, sorted by id.
//
// It evaluates bottom-up from the subject rather than checking every object:
// starting from the tuples that name the subject, it propagates membership
// along the schema's reverse dependencies (usersets, computed relations,
// arrows) with a worklist, so its cost grows with what the subject can reach,
// not with the number of objects. Relations are settled in dependency order,
// so exclusions and intersections are decided against complete sets. It is
// iterative and cycle-safe and needs no depth bound.
func (e *Engine) LookupResources(ctx context.Context, subject SubjectRef, permission, resourceType string) ([]ObjectRef, error) {
	t := e.schema.types[resourceType]
	if t == nil {
		return nil, fmt.Errorf("authz: lookup resources: %w: %q", ErrUnknownType, resourceType)
	}
	target := t.rels[permission]
	if target == nil {
		return nil, fmt.Errorf("authz: lookup resources: %w: %s#%s", ErrUnknownRelation, resourceType, permission)
	}
	if err := e.schema.ValidateSubject(subject); err != nil {
		return nil, fmt.Errorf("authz: lookup resources: subject: %w", err)
	}
	l := newResourceLookup(ctx, e, subject, target)
	if err := l.run(); err != nil {
		return nil, fmt.Errorf("authz: lookup resources %s#%s for %s: %w", resourceType, permission, subject, err)
	}
	ids := make([]string, 0, len(l.sets[target.id]))
	for id := range l.sets[target.id] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]ObjectRef, len(ids))
	for i, id := range ids {
		out[i] = ObjectRef{Type: resourceType, ID: id}
	}
	return out, nil
}

// resourceLookup holds one bottom-up evaluation: for every relation the
// target depends on, the set of object ids on which the subject holds it.
type resourceLookup struct {
	ctx      context.Context
	e        *Engine
	subject  SubjectRef
	subjType SubjectType
	relevant []bool                // by relInfo.id: in the target's closure
	sets     []map[string]struct{} // by relInfo.id
	facts    []candidate           // settled memberships still to propagate
	pending  [][]candidate         // by component: memberships to evaluate
	cur      int                   // lowest component that may have pending work
}

type candidate struct {
	rel *relInfo
	id  string
}

func newResourceLookup(ctx context.Context, e *Engine, subject SubjectRef, target *relInfo) *resourceLookup {
	l := &resourceLookup{
		ctx: ctx, e: e, subject: subject, subjType: subject.Type(),
		relevant: make([]bool, len(e.schema.rels)),
		sets:     make([]map[string]struct{}, len(e.schema.rels)),
		pending:  make([][]candidate, e.schema.comps),
	}
	for _, ri := range target.closure {
		l.relevant[ri.id] = true
		l.sets[ri.id] = make(map[string]struct{})
	}
	return l
}

func (l *resourceLookup) run() error {
	// A userset subject o#r holds r on o.
	if l.subject.Relation != "" {
		if ri := l.e.schema.types[l.subject.Object.Type].rels[l.subject.Relation]; l.relevant[ri.id] {
			l.add(ri, l.subject.Object.ID)
		}
	}
	// Tuples naming the subject directly.
	for _, d := range l.e.schema.seeds[l.subjType] {
		if !l.relevant[d.rel.id] {
			continue
		}
		objs, err := l.e.tuples.ResourcesOf(l.ctx, d.rel.typ.name, d.rel.name, l.subject)
		if err != nil {
			return err
		}
		for _, o := range objs {
			l.offer(d, o.ID)
		}
	}
	for {
		if err := l.drainFacts(); err != nil {
			return err
		}
		c, ok := l.nextPending()
		if !ok {
			return l.ctx.Err()
		}
		if _, done := l.sets[c.rel.id][c.id]; done {
			continue
		}
		ok, err := l.eval(c.rel, c.id, c.rel.root)
		if err != nil {
			return err
		}
		if ok {
			l.add(c.rel, c.id)
		}
	}
}

// offer records that d.rel may hold on id: settled at once when the
// reference is direct (unions only), otherwise queued for evaluation.
func (l *resourceLookup) offer(d dep, id string) {
	if _, done := l.sets[d.rel.id][id]; done {
		return
	}
	if d.direct {
		l.add(d.rel, id)
		return
	}
	scc := d.rel.scc
	l.pending[scc] = append(l.pending[scc], candidate{d.rel, id})
	l.cur = min(l.cur, scc)
}

func (l *resourceLookup) add(ri *relInfo, id string) {
	l.sets[ri.id][id] = struct{}{}
	l.facts = append(l.facts, candidate{ri, id})
}

// nextPending pops a candidate of the lowest component with work: every
// component below it is then complete.
func (l *resourceLookup) nextPending() (candidate, bool) {
	for ; l.cur < len(l.pending); l.cur++ {
		if q := l.pending[l.cur]; len(q) > 0 {
			c := q[len(q)-1]
			l.pending[l.cur] = q[:len(q)-1]
			return c, true
		}
	}
	return candidate{}, false
}

// drainFacts propagates settled memberships to the relations that read them.
func (l *resourceLookup) drainFacts() error {
	for len(l.facts) > 0 {
		f := l.facts[len(l.facts)-1]
		l.facts = l.facts[:len(l.facts)-1]
		if err := l.ctx.Err(); err != nil {
			return err
		}
		if err := l.propagate(f); err != nil {
			return err
		}
	}
	return nil
}

func (l *resourceLookup) propagate(f candidate) error {
	obj := ObjectRef{Type: f.rel.typ.name, ID: f.id}
	for _, d := range f.rel.thisDeps {
		if !l.relevant[d.rel.id] {
			continue
		}
		objs, err := l.e.tuples.ResourcesOf(l.ctx, d.rel.typ.name, d.rel.name, obj.Userset(f.rel.name))
		if err != nil {
			return err
		}
		for _, o := range objs {
			l.offer(d, o.ID)
		}
	}
	for _, d := range f.rel.computedDeps {
		if l.relevant[d.rel.id] {
			l.offer(d, f.id)
		}
	}
	for _, d := range f.rel.arrowDeps {
		if !l.relevant[d.rel.id] {
			continue
		}
		objs, err := l.e.tuples.ResourcesOf(l.ctx, d.rel.typ.name, d.tupleset, obj.Subject())
		if err != nil {
			return err
		}
		for _, o := range objs {
			l.offer(d.dep, o.ID)
		}
	}
	return nil
}

func (l *resourceLookup) has(ri *relInfo, id string) bool {
	_, ok := l.sets[ri.id][id]
	return ok
}

// eval decides whether the subject holds the relation owning n's tree on
// type:id, reading the membership sets computed so far. Only candidates of
// the component being settled are evaluated, so every set below it is final.
func (l *resourceLookup) eval(ri *relInfo, id string, n *cnode) (bool, error) {
	obj := ObjectRef{Type: ri.typ.name, ID: id}
	switch n.op {
	case OpThis:
		return l.evalThis(obj, ri)
	case OpComputed:
		return l.has(n.rel, id), nil
	case OpArrow:
		subs, err := l.e.tuples.SubjectsOf(l.ctx, obj, n.tupleset.name)
		if err != nil {
			return false, err
		}
		for _, s := range subs {
			if t := n.targets[s.Object.Type]; t != nil && s.Relation == "" && l.has(t, s.Object.ID) {
				return true, nil
			}
		}
		return false, nil
	case OpUnion, OpIntersection:
		want := n.op == OpUnion
		for _, a := range n.args {
			ok, err := l.eval(ri, id, a)
			if err != nil || ok == want {
				return ok, err
			}
		}
		return !want, nil
	case OpExclusion:
		ok, err := l.eval(ri, id, n.args[0])
		if err != nil || !ok {
			return false, err
		}
		sub, err := l.eval(ri, id, n.args[1])
		return !sub, err
	}
	return false, fmt.Errorf("authz: internal: unknown rewrite operator %d", n.op)
}

func (l *resourceLookup) evalThis(obj ObjectRef, ri *relInfo) (bool, error) {
	if ri.allowed[l.subjType] {
		ok, err := l.e.tuples.HasTuple(l.ctx, obj, ri.name, l.subject)
		if err != nil || ok {
			return ok, err
		}
	}
	if len(ri.usersets) == 0 {
		return false, nil
	}
	sets, err := l.e.tuples.UsersetsOf(l.ctx, obj, ri.name)
	if err != nil {
		return false, err
	}
	for _, us := range sets {
		if t := ri.usersets[us.Type()]; t != nil && l.has(t, us.Object.ID) {
			return true, nil
		}
	}
	return false, nil
}
