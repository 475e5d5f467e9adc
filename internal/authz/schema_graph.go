package authz

import "fmt"

// link builds the relation dependency graph, orders it into strongly
// connected components (dependencies first), rejects exclusions inside a
// cycle, and records the reverse dependencies lookups propagate along.
func (s *Schema) link(errs *[]error) {
	for _, ri := range s.rels {
		ri.root.edges(false, func(to *relInfo, negative bool) {
			ri.edges = append(ri.edges, depEdge{to: to, negative: negative})
		})
	}
	s.components()
	for _, ri := range s.rels {
		for _, e := range ri.edges {
			if e.negative && e.to.scc == ri.scc {
				*errs = append(*errs, fmt.Errorf(
					"%w: %s depends on %s through the subtracted side of an exclusion, and %s depends back on %s",
					ErrInvalidSchema, ri, e.to, e.to, ri))
			}
		}
	}
	if len(*errs) > 0 {
		return
	}
	for _, ri := range s.rels {
		s.reverse(ri, ri.root, true)
		ri.closure = closure(ri)
	}
}

// edges reports every relation n reads, with whether it sits under the
// subtracted side of an exclusion.
func (n *cnode) edges(negative bool, fn func(to *relInfo, negative bool)) {
	switch n.op {
	case OpThis:
		for _, st := range n.rel.subjects {
			if u := n.rel.usersets[st]; u != nil {
				fn(u, negative)
			}
		}
	case OpComputed:
		fn(n.rel, negative)
	case OpArrow:
		fn(n.tupleset, negative)
		for _, st := range n.tupleset.subjects {
			fn(n.targets[st.Type], negative)
		}
	}
	for i, a := range n.args {
		a.edges(negative || (n.op == OpExclusion && i == 1), fn)
	}
}

// reverse records ri as a dependent of what n reads positively. direct stays
// true while every operator above n is a union.
func (s *Schema) reverse(ri *relInfo, n *cnode, direct bool) {
	d := dep{rel: ri, direct: direct}
	switch n.op {
	case OpThis:
		for _, st := range ri.subjects {
			s.seeds[st] = addDep(s.seeds[st], d)
			if u := ri.usersets[st]; u != nil {
				u.thisDeps = addDep(u.thisDeps, d)
			}
		}
	case OpComputed:
		n.rel.computedDeps = addDep(n.rel.computedDeps, d)
	case OpArrow:
		for _, st := range n.tupleset.subjects {
			t := n.targets[st.Type]
			ad := arrowDep{dep: d, tupleset: n.tupleset.name}
			if !containsArrowDep(t.arrowDeps, ad) {
				t.arrowDeps = append(t.arrowDeps, ad)
			}
		}
	case OpUnion:
		for _, a := range n.args {
			s.reverse(ri, a, direct)
		}
	case OpIntersection:
		for _, a := range n.args {
			s.reverse(ri, a, false)
		}
	case OpExclusion:
		s.reverse(ri, n.args[0], false) // the subtracted side never adds anyone
	}
}

// addDep appends d unless present; a direct entry supersedes an indirect one.
func addDep(ds []dep, d dep) []dep {
	for i, x := range ds {
		if x.rel == d.rel {
			ds[i].direct = x.direct || d.direct
			return ds
		}
	}
	return append(ds, d)
}

func containsArrowDep(ds []arrowDep, d arrowDep) bool {
	for i, x := range ds {
		if x.rel == d.rel && x.tupleset == d.tupleset {
			ds[i].direct = x.direct || d.direct
			return true
		}
	}
	return false
}

// components numbers the strongly connected components of the dependency
// graph with Tarjan's algorithm. Tarjan completes a component only after
// every component it depends on, so the numbers are a dependencies-first
// order.
func (s *Schema) components() {
	t := tarjan{index: make([]int, len(s.rels)), low: make([]int, len(s.rels)), on: make([]bool, len(s.rels))}
	for i := range t.index {
		t.index[i] = -1
	}
	for _, ri := range s.rels {
		if t.index[ri.id] < 0 {
			t.visit(ri)
		}
	}
	s.comps = t.comps
}

type tarjan struct {
	next  int
	comps int
	index []int
	low   []int
	on    []bool
	stack []*relInfo
}

func (t *tarjan) visit(v *relInfo) {
	t.index[v.id], t.low[v.id] = t.next, t.next
	t.next++
	t.stack = append(t.stack, v)
	t.on[v.id] = true
	for _, e := range v.edges {
		w := e.to
		switch {
		case t.index[w.id] < 0:
			t.visit(w)
			t.low[v.id] = min(t.low[v.id], t.low[w.id])
		case t.on[w.id]:
			t.low[v.id] = min(t.low[v.id], t.index[w.id])
		}
	}
	if t.low[v.id] != t.index[v.id] {
		return
	}
	for {
		w := t.stack[len(t.stack)-1]
		t.stack = t.stack[:len(t.stack)-1]
		t.on[w.id] = false
		w.scc = t.comps
		if w == v {
			break
		}
	}
	t.comps++
}

// closure returns every relation ri depends on, itself included.
func closure(ri *relInfo) []*relInfo {
	seen := map[*relInfo]bool{ri: true}
	out := []*relInfo{ri}
	for i := 0; i < len(out); i++ {
		for _, e := range out[i].edges {
			if !seen[e.to] {
				seen[e.to] = true
				out = append(out, e.to)
			}
		}
	}
	return out
}
