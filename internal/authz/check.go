package authz

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// Check reports whether subject holds permission (any relation of the
// resource's type) on resource. A denial is a Decision, not an error; an
// error means the answer is unknown and the caller must deny (api.md §2.11:
// authorization never fails open).
func (e *Engine) Check(ctx context.Context, subject SubjectRef, permission string, resource ObjectRef) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, fmt.Errorf("authz: check: %w", err)
	}
	ri, err := e.schema.rel(resource, permission)
	if err != nil {
		return Decision{}, fmt.Errorf("authz: check: %w", err)
	}
	if err := e.schema.ValidateSubject(subject); err != nil {
		return Decision{}, fmt.Errorf("authz: check: subject: %w", err)
	}
	c := e.newChecker(ctx, e.request(ctx), subject)
	r, err := c.check(resource, ri)
	if err != nil {
		return Decision{}, fmt.Errorf("authz: check %s#%s for %s: %w", resource, permission, subject, err)
	}
	if r.ok {
		return Decision{Allowed: true, Reason: ReasonGranted, Path: r.path.slice()}, nil
	}
	return c.explainDenial(resource, ri)
}

// CheckMany reports, per resource, whether subject holds permission on it:
// the list-filtering form of Check. All answers share one memo (the context's
// [Request], or a fresh one), and denials are not explained. Any error fails
// the whole call.
func (e *Engine) CheckMany(ctx context.Context, subject SubjectRef, permission string, resources []ObjectRef) ([]bool, error) {
	if err := e.schema.ValidateSubject(subject); err != nil {
		return nil, fmt.Errorf("authz: check many: subject: %w", err)
	}
	c := e.newChecker(ctx, e.request(ctx), subject)
	out := make([]bool, len(resources))
	for i, res := range resources {
		ri, err := e.schema.rel(res, permission)
		if err != nil {
			return nil, fmt.Errorf("authz: check many: %w", err)
		}
		r, err := c.check(res, ri)
		if err != nil {
			return nil, fmt.Errorf("authz: check %s#%s for %s: %w", res, permission, subject, err)
		}
		out[i] = r.ok
	}
	return out, nil
}

// explainDenial looks for the first other relation the subject holds on the
// resource: if there is one the denial is insufficient_relation with its
// path, else out_of_scope.
func (c *checker) explainDenial(resource ObjectRef, denied *relInfo) (Decision, error) {
	for _, ri := range denied.typ.order {
		if ri == denied {
			continue
		}
		r, err := c.check(resource, ri)
		switch {
		case errors.Is(err, ErrDepthExceeded):
			continue // explanation only; the denial stands
		case err != nil:
			return Decision{}, fmt.Errorf("authz: check %s#%s for %s: %w", resource, denied.name, c.subject, err)
		case r.ok:
			return Decision{Reason: ReasonInsufficientRelation, Path: r.path.slice()}, nil
		}
	}
	return Decision{Reason: ReasonOutOfScope}, nil
}

// noLow marks a result that did not depend on any in-progress evaluation.
const noLow = math.MaxInt

// result is the outcome of evaluating one node. low is the lowest stack index
// of an in-progress (object, relation) the evaluation ran into: such a node
// was assumed not to hold, so a negative result with low below the current
// frame is provisional and must not be memoised. Positive results are always
// final: assuming less can only lose grants, never invent them.
type result struct {
	ok   bool
	path *pathNode
	low  int
}

// checker evaluates one subject depth-first, detecting cycles with the stack
// of in-progress nodes and memoising final results in the Request.
type checker struct {
	ctx      context.Context
	e        *Engine
	req      *Request
	memo     subjectMemo
	subject  SubjectRef
	subjType SubjectType
	stack    []nodeKey // in-progress evaluations; the index is the depth
	visits   int
}

func (e *Engine) newChecker(ctx context.Context, req *Request, subject SubjectRef) *checker {
	return &checker{
		ctx: ctx, e: e, req: req, memo: req.forSubject(subject), subject: subject, subjType: subject.Type(),
		stack: make([]nodeKey, 0, 16),
	}
}

// onStack returns the depth of an in-progress evaluation of k, or -1. The
// stack is short (bounded by the depth limit), so a scan beats a map.
func (c *checker) onStack(k nodeKey) int {
	for i := len(c.stack) - 1; i >= 0; i-- {
		if c.stack[i] == k {
			return i
		}
	}
	return -1
}

// check evaluates ri on obj: the unit of memoisation, cycle detection and
// depth accounting.
func (c *checker) check(obj ObjectRef, ri *relInfo) (result, error) {
	if c.subject.Relation == ri.name && c.subject.Object == obj {
		return result{ok: true, path: &pathNode{step: Step{obj, ri.name}}, low: noLow}, nil
	}
	key := nodeKey{obj, ri}
	if m, ok := c.req.get(c.memo, key); ok {
		return result{ok: m.ok, path: m.path, low: noLow}, nil
	}
	if idx := c.onStack(key); idx >= 0 {
		return result{low: idx}, nil
	}
	if len(c.stack) >= c.e.maxDepth {
		return result{}, fmt.Errorf("%w (%d) at %s#%s", ErrDepthExceeded, c.e.maxDepth, obj, ri.name)
	}
	if c.visits++; c.visits%64 == 0 {
		if err := c.ctx.Err(); err != nil {
			return result{}, err
		}
	}
	idx := len(c.stack)
	c.stack = append(c.stack, key)
	r, err := c.eval(obj, ri.root)
	c.stack = c.stack[:idx]
	if err != nil {
		return result{}, err
	}
	switch {
	case r.ok:
		r.path = &pathNode{step: Step{obj, ri.name}, next: r.path}
		r.low = noLow
		c.req.put(c.memo, key, memoEntry{ok: true, path: r.path})
	case r.low >= idx:
		r.low = noLow
		c.req.put(c.memo, key, memoEntry{})
	}
	return r, nil
}

func (c *checker) eval(obj ObjectRef, n *cnode) (result, error) {
	switch n.op {
	case OpThis:
		return c.evalThis(obj, n.rel)
	case OpComputed:
		return c.check(obj, n.rel)
	case OpArrow:
		return c.evalArrow(obj, n)
	case OpUnion:
		low := noLow
		for _, a := range n.args {
			r, err := c.eval(obj, a)
			if err != nil || r.ok {
				return r, err
			}
			low = min(low, r.low)
		}
		return result{low: low}, nil
	case OpIntersection:
		var first *pathNode
		for i, a := range n.args {
			r, err := c.eval(obj, a)
			if err != nil || !r.ok {
				return r, err
			}
			if i == 0 {
				first = r.path
			}
		}
		return result{ok: true, path: first, low: noLow}, nil
	case OpExclusion:
		base, err := c.eval(obj, n.args[0])
		if err != nil || !base.ok {
			return base, err
		}
		// The subtracted side never reaches an in-progress node (the schema
		// is stratified), so its answer is final either way.
		sub, err := c.eval(obj, n.args[1])
		if err != nil {
			return result{}, err
		}
		if sub.ok {
			return result{low: noLow}, nil
		}
		return base, nil
	}
	return result{}, fmt.Errorf("authz: internal: unknown rewrite operator %d", n.op)
}

// evalThis checks ri's stored tuples: the subject itself, then every allowed
// userset stored on obj#ri.
func (c *checker) evalThis(obj ObjectRef, ri *relInfo) (result, error) {
	if ri.allowed[c.subjType] {
		ok, err := c.e.tuples.HasTuple(c.ctx, obj, ri.name, c.subject)
		if err != nil || ok {
			return result{ok: ok, low: noLow}, err
		}
	}
	if len(ri.usersets) == 0 {
		return result{low: noLow}, nil
	}
	sets, err := c.e.tuples.UsersetsOf(c.ctx, obj, ri.name)
	if err != nil {
		return result{}, err
	}
	low := noLow
	for _, us := range sets {
		target := ri.usersets[us.Type()]
		if target == nil {
			continue // not allowed by the schema: ignored
		}
		r, err := c.check(us.Object, target)
		if err != nil || r.ok {
			return r, err
		}
		low = min(low, r.low)
	}
	return result{low: low}, nil
}

// evalArrow follows the tupleset's stored objects and checks the target
// relation on each.
func (c *checker) evalArrow(obj ObjectRef, n *cnode) (result, error) {
	subs, err := c.e.tuples.SubjectsOf(c.ctx, obj, n.tupleset.name)
	if err != nil {
		return result{}, err
	}
	low := noLow
	for _, s := range subs {
		if s.Relation != "" {
			continue
		}
		target := n.targets[s.Object.Type]
		if target == nil {
			continue
		}
		r, err := c.check(s.Object, target)
		if err != nil {
			return result{}, err
		}
		if r.ok {
			r.path = &pathNode{step: Step{obj, n.tupleset.name}, next: r.path}
			return r, nil
		}
		low = min(low, r.low)
	}
	return result{low: low}, nil
}
