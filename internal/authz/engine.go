package authz

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Engine defaults.
const (
	// DefaultMaxDepth bounds how many (object, relation) evaluations a check
	// may nest.
	DefaultMaxDepth = 16
	// DefaultExpandDepth is Expand's depth when the caller gives none
	// (api.md: max_depth defaults to 8).
	DefaultExpandDepth = 8
	// maxMemoEntries caps a Request's memo; past it, results are not cached.
	maxMemoEntries = 1 << 17
)

// Config configures an [Engine].
type Config struct {
	// Schema is the type system. Required.
	Schema *Schema
	// Tuples is the tuple source, typically a [MemTuples]. Required.
	Tuples TupleReader
	// MaxDepth bounds check nesting; 0 means [DefaultMaxDepth].
	MaxDepth int
}

// Engine evaluates checks, lookups and expansions. It is safe for
// concurrent use.
type Engine struct {
	schema   *Schema
	tuples   TupleReader
	maxDepth int
}

// New validates cfg, fills defaults and returns an engine.
func New(cfg Config) (*Engine, error) {
	switch {
	case cfg.Schema == nil:
		return nil, errors.New("authz: Config.Schema is required")
	case cfg.Tuples == nil:
		return nil, errors.New("authz: Config.Tuples is required")
	case cfg.MaxDepth < 0:
		return nil, fmt.Errorf("authz: Config.MaxDepth must not be negative, got %d", cfg.MaxDepth)
	}
	if cfg.MaxDepth == 0 {
		cfg.MaxDepth = DefaultMaxDepth
	}
	return &Engine{schema: cfg.Schema, tuples: cfg.Tuples, maxDepth: cfg.MaxDepth}, nil
}

// Schema returns the engine's schema.
func (e *Engine) Schema() *Schema { return e.schema }

// Reason explains a [Decision], as in the API's PermissionDenied body.
type Reason string

// Decision reasons.
const (
	// ReasonGranted: the subject holds the permission.
	ReasonGranted Reason = "granted"
	// ReasonInsufficientRelation: the subject holds some relation on the
	// object, but not the one asked for.
	ReasonInsufficientRelation Reason = "insufficient_relation"
	// ReasonOutOfScope: the subject holds nothing on the object.
	ReasonOutOfScope Reason = "out_of_scope"
)

// Step is one (object, relation) on a decision's path.
type Step struct {
	Object   ObjectRef
	Relation string
}

// String formats the step as type:id#relation.
func (s Step) String() string { return s.Object.String() + "#" + s.Relation }

// Decision is the answer to a check.
type Decision struct {
	Allowed bool
	Reason  Reason
	// Path lists the relations traversed, starting at the checked resource
	// and permission. When allowed, it ends at the relation whose stored
	// tuple (or userset identity) admitted the subject; an arrow contributes
	// its tupleset relation as a step. When denied with
	// ReasonInsufficientRelation, it is the path of the first relation (in
	// declaration order) the subject does hold on the resource. It is empty
	// for ReasonOutOfScope.
	Path []Step
}

// RelationPath renders Path for the API's relation_path[].
func (d Decision) RelationPath() []string {
	out := make([]string, len(d.Path))
	for i, s := range d.Path {
		out[i] = s.String()
	}
	return out
}

// Request memoises evaluation results across the checks of one short-lived
// unit of work (an API request). Attach it to a context with [WithRequest];
// engine calls with that context then reuse each other's results. Results
// are not invalidated by tuple writes, so do not keep a Request longer than
// the request it serves. A Request is safe for concurrent use.
type Request struct {
	engine *Engine
	// mu guards memo, the per-subject maps in it, and size.
	mu   sync.Mutex
	memo map[SubjectRef]subjectMemo
	size int
}

// nodeKey is one (object, relation) evaluation.
type nodeKey struct {
	obj ObjectRef
	rel *relInfo
}

type memoEntry struct {
	ok   bool
	path *pathNode
}

// subjectMemo holds one subject's final results.
type subjectMemo map[nodeKey]memoEntry

// NewRequest returns an empty memo bound to e.
func (e *Engine) NewRequest() *Request {
	return &Request{engine: e, memo: make(map[SubjectRef]subjectMemo)}
}

type requestKey struct{}

// WithRequest returns a context carrying r. The engine that created r uses it
// for every call made with the context; other engines ignore it.
func WithRequest(ctx context.Context, r *Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// request returns the context's Request for e, or a fresh one.
func (e *Engine) request(ctx context.Context) *Request {
	if r, ok := ctx.Value(requestKey{}).(*Request); ok && r != nil && r.engine == e {
		return r
	}
	return e.NewRequest()
}

// forSubject returns s's memo, creating it.
func (r *Request) forSubject(s SubjectRef) subjectMemo {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.memo[s]
	if m == nil {
		m = make(subjectMemo, 32)
		r.memo[s] = m
	}
	return m
}

func (r *Request) get(m subjectMemo, k nodeKey) (memoEntry, bool) {
	r.mu.Lock()
	v, ok := m[k]
	r.mu.Unlock()
	return v, ok
}

func (r *Request) put(m subjectMemo, k nodeKey, v memoEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.size >= maxMemoEntries {
		return
	}
	if _, ok := m[k]; !ok {
		r.size++
	}
	m[k] = v
}

// Len returns the number of memoised results.
func (r *Request) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.size
}

// pathNode is an immutable linked path, shared between memoised results.
type pathNode struct {
	step Step
	next *pathNode
}

func (p *pathNode) slice() []Step {
	var out []Step
	for ; p != nil; p = p.next {
		out = append(out, p.step)
	}
	return out
}
