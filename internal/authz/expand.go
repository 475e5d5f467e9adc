package authz

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// ExpandKind is the kind of an [ExpandNode].
type ExpandKind string

// Expand node kinds (api.md §4.2).
const (
	ExpandUnion        ExpandKind = "union"
	ExpandIntersection ExpandKind = "intersection"
	ExpandExclusion    ExpandKind = "exclusion"
	ExpandLeaf         ExpandKind = "leaf"
)

// maxExpandNodes bounds the size of one expansion tree.
const maxExpandNodes = 10_000

// ExpandNode is one node of a permission's expansion tree, shaped as the
// API's ExpandNode.
//
// A node for a named relation carries Relation and Resource. A leaf lists the
// objects stored directly on Resource#Relation; stored usersets become child
// nodes of a union instead. An arrow becomes a union whose Relation reads
// "tupleset->relation", with one child per object followed. Truncated marks a
// node not expanded further: the depth limit, a cycle back to a relation
// already being expanded on the same branch, or the tree size limit.
type ExpandNode struct {
	Kind      ExpandKind    `json:"kind"`
	Relation  string        `json:"relation,omitempty"`
	Resource  ObjectRef     `json:"resource,omitzero"`
	Subjects  []SubjectRef  `json:"subjects,omitempty"`
	Children  []*ExpandNode `json:"children,omitempty"`
	Truncated bool          `json:"truncated,omitempty"`
}

// Expand returns the tree of usersets that make up permission on resource,
// expanding nested relations to maxDepth levels. maxDepth <= 0 means
// [DefaultExpandDepth]; values above the engine's maximum depth are clamped
// to it. Expand never fails for depth: it truncates.
func (e *Engine) Expand(ctx context.Context, resource ObjectRef, permission string, maxDepth int) (*ExpandNode, error) {
	ri, err := e.schema.rel(resource, permission)
	if err != nil {
		return nil, fmt.Errorf("authz: expand: %w", err)
	}
	if maxDepth <= 0 {
		maxDepth = DefaultExpandDepth
	}
	x := expander{ctx: ctx, e: e, maxDepth: min(maxDepth, e.maxDepth), onPath: make(map[nodeKey]bool), budget: maxExpandNodes}
	n, err := x.relation(resource, ri, 0)
	if err != nil {
		return nil, fmt.Errorf("authz: expand %s#%s: %w", resource, permission, err)
	}
	return n, nil
}

type expander struct {
	ctx      context.Context
	e        *Engine
	maxDepth int
	onPath   map[nodeKey]bool
	budget   int
}

func (x *expander) relation(obj ObjectRef, ri *relInfo, depth int) (*ExpandNode, error) {
	key := nodeKey{obj, ri}
	if depth >= x.maxDepth || x.onPath[key] || x.budget <= 0 {
		return &ExpandNode{Kind: ExpandLeaf, Relation: ri.name, Resource: obj, Truncated: true}, nil
	}
	if err := x.ctx.Err(); err != nil {
		return nil, err
	}
	x.budget--
	x.onPath[key] = true
	defer delete(x.onPath, key)
	n, err := x.expr(obj, ri, ri.root, depth)
	if err != nil {
		return nil, err
	}
	switch {
	case n.Relation == "":
		n.Relation = ri.name
		return n, nil
	case n.Relation == ri.name && n.Resource == obj:
		return n, nil
	}
	// The rewrite is a single computed relation or arrow: name this level.
	return &ExpandNode{Kind: ExpandUnion, Relation: ri.name, Resource: obj, Children: []*ExpandNode{n}}, nil
}

func (x *expander) expr(obj ObjectRef, ri *relInfo, n *cnode, depth int) (*ExpandNode, error) {
	switch n.op {
	case OpThis:
		return x.this(obj, ri, depth)
	case OpComputed:
		return x.relation(obj, n.rel, depth+1)
	case OpArrow:
		subs, err := x.e.tuples.SubjectsOf(x.ctx, obj, n.tupleset.name)
		if err != nil {
			return nil, err
		}
		out := &ExpandNode{Kind: ExpandUnion, Relation: n.label, Resource: obj}
		for _, s := range sortedSubjects(subs) {
			if t := n.targets[s.Object.Type]; t != nil && s.Relation == "" {
				c, err := x.relation(s.Object, t, depth+1)
				if err != nil {
					return nil, err
				}
				out.Children = append(out.Children, c)
			}
		}
		return out, nil
	}
	kind := map[ExprOp]ExpandKind{OpUnion: ExpandUnion, OpIntersection: ExpandIntersection, OpExclusion: ExpandExclusion}[n.op]
	if kind == "" {
		return nil, fmt.Errorf("authz: internal: unknown rewrite operator %d", n.op)
	}
	out := &ExpandNode{Kind: kind, Resource: obj}
	for _, a := range n.args {
		c, err := x.expr(obj, ri, a, depth)
		if err != nil {
			return nil, err
		}
		if kind == ExpandUnion && a.op == OpThis && c.Kind == ExpandUnion {
			out.Children = append(out.Children, c.Children...) // a union within a union
			continue
		}
		out.Children = append(out.Children, c)
	}
	return out, nil
}

// this expands ri's stored tuples: a leaf of the objects, plus one child per
// stored userset when there are any.
func (x *expander) this(obj ObjectRef, ri *relInfo, depth int) (*ExpandNode, error) {
	subs, err := x.e.tuples.SubjectsOf(x.ctx, obj, ri.name)
	if err != nil {
		return nil, err
	}
	leaf := &ExpandNode{Kind: ExpandLeaf, Relation: ri.name, Resource: obj}
	var sets []*ExpandNode
	for _, s := range sortedSubjects(subs) {
		if !ri.allowed[s.Type()] {
			continue
		}
		if s.Relation == "" {
			leaf.Subjects = append(leaf.Subjects, s)
			continue
		}
		c, err := x.relation(s.Object, ri.usersets[s.Type()], depth+1)
		if err != nil {
			return nil, err
		}
		sets = append(sets, c)
	}
	if len(sets) == 0 {
		return leaf, nil
	}
	children := sets
	if len(leaf.Subjects) > 0 {
		children = append([]*ExpandNode{leaf}, sets...)
	}
	return &ExpandNode{Kind: ExpandUnion, Relation: ri.name, Resource: obj, Children: children}, nil
}

func sortedSubjects(subs []SubjectRef) []SubjectRef {
	out := slices.Clone(subs)
	slices.SortFunc(out, func(a, b SubjectRef) int { return strings.Compare(a.String(), b.String()) })
	return out
}
