package authz

// This file holds a deliberately naive evaluator, written from the type
// definitions alone and sharing no code with the engine, that the property
// test compares the engine against. It computes, for one subject at a time,
// the full model by stratified fixpoint iteration over all tuples.

// refEval evaluates schemas by brute force.
type refEval struct {
	defs    map[string]map[string]RelationDef // type → relation → definition
	rels    map[string][]string               // type → relation names
	types   []string
	byRes   map[refAtom][]SubjectRef // stored subjects of (object, relation)
	objects map[string][]string      // type → every id mentioned anywhere
	stratum map[string]int           // "type#relation" → stratum
	top     int
}

// refAtom is "some subject holds rel on obj".
type refAtom struct {
	obj ObjectRef
	rel string
}

func newRefEval(defs []TypeDef, tuples []Tuple) *refEval {
	r := &refEval{
		defs: map[string]map[string]RelationDef{}, rels: map[string][]string{},
		byRes: map[refAtom][]SubjectRef{}, objects: map[string][]string{},
	}
	for _, td := range defs {
		r.types = append(r.types, td.Name)
		r.defs[td.Name] = map[string]RelationDef{}
		for _, rd := range td.Relations {
			r.defs[td.Name][rd.Name] = rd
			r.rels[td.Name] = append(r.rels[td.Name], rd.Name)
		}
	}
	seen := map[ObjectRef]bool{}
	note := func(o ObjectRef) {
		if !seen[o] {
			seen[o] = true
			r.objects[o.Type] = append(r.objects[o.Type], o.ID)
		}
	}
	for _, t := range tuples {
		a := refAtom{t.Resource, t.Relation}
		dup := false
		for _, s := range r.byRes[a] {
			dup = dup || s == t.Subject
		}
		if !dup {
			r.byRes[a] = append(r.byRes[a], t.Subject)
		}
		note(t.Resource)
		note(t.Subject.Object)
	}
	return r
}

// note adds an object to the universe (query subjects and resources).
func (r *refEval) note(o ObjectRef) {
	for _, id := range r.objects[o.Type] {
		if id == o.ID {
			return
		}
	}
	r.objects[o.Type] = append(r.objects[o.Type], o.ID)
}

func (r *refEval) rewrite(typ, rel string) Expr {
	rd := r.defs[typ][rel]
	if rd.Rewrite.Op == 0 {
		return This()
	}
	return rd.Rewrite
}

func (r *refEval) allows(typ, rel string, st SubjectType) bool {
	for _, x := range r.defs[typ][rel].Subjects {
		if x == st {
			return true
		}
	}
	return false
}

// refDeps lists the relations an expression reads, with negativity.
func (r *refEval) refDeps(typ, rel string, x Expr, neg bool, out *[][2]any) {
	switch x.Op {
	case OpThis:
		for _, st := range r.defs[typ][rel].Subjects {
			if st.Relation != "" {
				*out = append(*out, [2]any{st.Type + "#" + st.Relation, neg})
			}
		}
	case OpComputed:
		*out = append(*out, [2]any{typ + "#" + x.Relation, neg})
	case OpArrow:
		*out = append(*out, [2]any{typ + "#" + x.Tupleset, neg})
		for _, st := range r.defs[typ][x.Tupleset].Subjects {
			*out = append(*out, [2]any{st.Type + "#" + x.Relation, neg})
		}
	}
	for i, a := range x.Args {
		r.refDeps(typ, rel, a, neg || (x.Op == OpExclusion && i == 1), out)
	}
}

// stratify assigns strata by the textbook iteration; false if the
// definitions recurse through negation.
func (r *refEval) stratify() bool {
	r.stratum = map[string]int{}
	total := 0
	for _, t := range r.types {
		total += len(r.rels[t])
	}
	for changed := true; changed; {
		changed = false
		for _, t := range r.types {
			for _, rel := range r.rels[t] {
				var deps [][2]any
				r.refDeps(t, rel, r.rewrite(t, rel), false, &deps)
				me := t + "#" + rel
				for _, d := range deps {
					need := r.stratum[d[0].(string)]
					if d[1].(bool) {
						need++
					}
					if need > r.stratum[me] {
						r.stratum[me] = need
						changed = true
						if need > total {
							return false
						}
					}
				}
			}
		}
	}
	for _, s := range r.stratum {
		r.top = max(r.top, s)
	}
	return true
}

// model returns every (object, relation) the subject holds.
func (r *refEval) model(subject SubjectRef) map[refAtom]bool {
	holds := map[refAtom]bool{}
	for s := 0; s <= r.top; s++ {
		for changed := true; changed; {
			changed = false
			for _, t := range r.types {
				for _, id := range r.objects[t] {
					for _, rel := range r.rels[t] {
						a := refAtom{ObjectRef{t, id}, rel}
						if r.stratum[t+"#"+rel] != s || holds[a] {
							continue
						}
						self := subject.Object == a.obj && subject.Relation == rel
						if self || r.eval(a.obj, rel, r.rewrite(t, rel), holds, subject) {
							holds[a] = true
							changed = true
						}
					}
				}
			}
		}
	}
	return holds
}

func (r *refEval) eval(o ObjectRef, rel string, x Expr, holds map[refAtom]bool, subject SubjectRef) bool {
	switch x.Op {
	case OpThis:
		for _, s := range r.byRes[refAtom{o, rel}] {
			if !r.allows(o.Type, rel, SubjectType{s.Object.Type, s.Relation}) {
				continue
			}
			if s == subject || (s.Relation != "" && holds[refAtom{s.Object, s.Relation}]) {
				return true
			}
		}
		return false
	case OpComputed:
		return holds[refAtom{o, x.Relation}]
	case OpArrow:
		for _, s := range r.byRes[refAtom{o, x.Tupleset}] {
			if s.Relation == "" && r.allows(o.Type, x.Tupleset, SubjectType{Type: s.Object.Type}) &&
				holds[refAtom{s.Object, x.Relation}] {
				return true
			}
		}
		return false
	case OpUnion:
		for _, a := range x.Args {
			if r.eval(o, rel, a, holds, subject) {
				return true
			}
		}
		return false
	case OpIntersection:
		for _, a := range x.Args {
			if !r.eval(o, rel, a, holds, subject) {
				return false
			}
		}
		return true
	case OpExclusion:
		return r.eval(o, rel, x.Args[0], holds, subject) && !r.eval(o, rel, x.Args[1], holds, subject)
	}
	panic("reference: unknown operator")
}
