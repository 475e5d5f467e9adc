package authz

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// The property test generates random small schemas (unions, intersections,
// exclusions, arrows, usersets, self-reference) and random tuple sets over
// three objects per type, so cyclic data is common, and compares Check,
// LookupResources and LookupSubjects with the naive evaluator of
// reference_test.go.

var (
	genTypes = []string{"a", "b", "c"}
	genRels  = []string{"r0", "r1", "r2", "r3"}
	genIDs   = []string{"0", "1", "2"}
)

const genUser = "u"

func genSchema(r *rand.Rand) []TypeDef {
	defs := []TypeDef{{Name: genUser}}
	for _, t := range genTypes {
		td := TypeDef{Name: t}
		var ps []SubjectType
		for _, x := range genTypes {
			if r.IntN(2) == 0 {
				ps = append(ps, SubjectType{Type: x})
			}
		}
		if len(ps) == 0 {
			ps = []SubjectType{{Type: genTypes[r.IntN(len(genTypes))]}}
		}
		td.Relations = append(td.Relations, RelationDef{Name: "p", Subjects: ps})
		for _, name := range genRels {
			td.Relations = append(td.Relations, genRelation(r, name))
		}
		defs = append(defs, td)
	}
	return defs
}

func genRelation(r *rand.Rand, name string) RelationDef {
	switch r.IntN(3) {
	case 0:
		return RelationDef{Name: name, Subjects: genSubjects(r)}
	case 1:
		this, other := This(), genExpr(r, 2, true)
		var rw Expr
		switch r.IntN(7) {
		case 0, 1, 2:
			rw = Union(this, other)
		case 3, 4:
			rw = Intersect(this, other)
		case 5:
			rw = Exclude(this, other)
		default:
			rw = Exclude(other, this)
		}
		return RelationDef{Name: name, Subjects: genSubjects(r), Rewrite: rw}
	default:
		return RelationDef{Name: name, Rewrite: genExpr(r, 2, false)}
	}
}

func genSubjects(r *rand.Rand) []SubjectType {
	var out []SubjectType
	for n := 1 + r.IntN(3); len(out) < n; {
		var st SubjectType
		switch r.IntN(4) {
		case 0, 1:
			st = SubjectType{Type: genUser}
		case 2:
			st = SubjectType{Type: genTypes[r.IntN(3)]}
		default:
			st = SubjectType{Type: genTypes[r.IntN(3)], Relation: genRels[r.IntN(4)]}
		}
		if !slices.Contains(out, st) {
			out = append(out, st)
		}
	}
	return out
}

func genExpr(r *rand.Rand, depth int, this bool) Expr {
	if depth == 0 || r.IntN(3) == 0 {
		switch k := r.IntN(5); {
		case k == 0 && this:
			return This()
		case k <= 2:
			return Rel(genRels[r.IntN(4)])
		default:
			return Arrow("p", genRels[r.IntN(4)])
		}
	}
	a, b := genExpr(r, depth-1, this), genExpr(r, depth-1, this)
	switch r.IntN(6) {
	case 0, 1, 2:
		return Union(a, b)
	case 3, 4:
		return Intersect(a, b)
	default:
		return Exclude(a, b)
	}
}

func genTuples(r *rand.Rand, defs []TypeDef) []Tuple {
	var out []Tuple
	for n := 15 + r.IntN(31); len(out) < n; {
		td := defs[1+r.IntN(len(genTypes))]
		rd := td.Relations[r.IntN(len(td.Relations))]
		for tries := 0; len(rd.Subjects) == 0 && tries < 5 && r.IntN(8) != 0; tries++ {
			rd = td.Relations[r.IntN(len(td.Relations))]
		}
		t := Tuple{Resource: ObjectRef{td.Name, genIDs[r.IntN(3)]}, Relation: rd.Name}
		if len(rd.Subjects) > 0 && r.IntN(8) != 0 {
			st := rd.Subjects[r.IntN(len(rd.Subjects))]
			t.Subject = SubjectRef{Object: ObjectRef{st.Type, genIDs[r.IntN(3)]}, Relation: st.Relation}
		} else { // possibly not allowed by the schema: both evaluators must ignore it
			types := append([]string{genUser}, genTypes...)
			t.Subject = SubjectRef{Object: ObjectRef{types[r.IntN(4)], genIDs[r.IntN(3)]}}
			if r.IntN(2) == 0 {
				t.Subject.Relation = genRels[r.IntN(4)]
			}
		}
		out = append(out, t)
	}
	return out
}

// world is one generated schema, tuple set and engine.
type world struct {
	defs     []TypeDef
	tuples   []Tuple
	engine   *Engine
	ref      *refEval
	subjects []SubjectRef
	models   map[SubjectRef]map[refAtom]bool
}

func (w *world) model(s SubjectRef) map[refAtom]bool {
	if m, ok := w.models[s]; ok {
		return m
	}
	m := w.ref.model(s)
	w.models[s] = m
	return m
}

func (w *world) describe() string {
	var b strings.Builder
	for _, td := range w.defs[1:] {
		for _, rd := range td.Relations {
			fmt.Fprintf(&b, "  %s#%s: %v = %s\n", td.Name, rd.Name, rd.Subjects, rd.Rewrite)
		}
	}
	for _, t := range w.tuples {
		fmt.Fprintf(&b, "  %s\n", t)
	}
	return b.String()
}

// newWorld generates a world whose schema the engine accepts. It checks that
// every rejection is a stratification failure the reference agrees with.
func newWorld(t *testing.T, r *rand.Rand, stats *propStats) *world {
	for {
		defs := genSchema(r)
		s, err := NewSchema(defs...)
		ref := newRefEval(defs, nil)
		if err != nil {
			stats.rejected++
			if !errors.Is(err, ErrInvalidSchema) || ref.stratify() {
				t.Fatalf("schema rejected but the reference stratifies it: %v", err)
			}
			continue
		}
		if !ref.stratify() {
			t.Fatalf("schema accepted but the reference cannot stratify it")
		}
		tuples := genTuples(r, defs)
		mem := NewMemTuples()
		if err := mem.Add(tuples...); err != nil {
			t.Fatal(err)
		}
		e, err := New(Config{Schema: s, Tuples: mem, MaxDepth: 1000})
		if err != nil {
			t.Fatal(err)
		}
		w := &world{defs: defs, tuples: tuples, engine: e, models: map[SubjectRef]map[refAtom]bool{}}
		w.ref = newRefEval(defs, tuples)
		w.ref.stratify()
		for _, typ := range append([]string{genUser}, genTypes...) {
			for _, id := range genIDs {
				w.ref.note(ObjectRef{typ, id})
				w.subjects = append(w.subjects, ObjectRef{typ, id}.Subject())
			}
		}
		for range 4 {
			o := ObjectRef{genTypes[r.IntN(3)], genIDs[r.IntN(3)]}
			w.subjects = append(w.subjects, o.Userset(genRels[r.IntN(4)]))
		}
		if hasUsersetCycle(tuples) {
			stats.cyclic++
		}
		return w
	}
}

// hasUsersetCycle reports whether the stored usersets form a cycle
// (o#r stores o2#r2 which stores … o#r).
func hasUsersetCycle(tuples []Tuple) bool {
	next := map[refAtom][]refAtom{}
	for _, t := range tuples {
		if t.Subject.Relation != "" {
			from := refAtom{t.Resource, t.Relation}
			next[from] = append(next[from], refAtom{t.Subject.Object, t.Subject.Relation})
		}
	}
	state := map[refAtom]int{} // 1 on stack, 2 done
	var visit func(a refAtom) bool
	visit = func(a refAtom) bool {
		state[a] = 1
		for _, b := range next[a] {
			if state[b] == 1 || (state[b] == 0 && visit(b)) {
				return true
			}
		}
		state[a] = 2
		return false
	}
	for a := range next {
		if state[a] == 0 && visit(a) {
			return true
		}
	}
	return false
}

type propStats struct {
	worlds, rejected, cyclic, checks, allowed, lookups, nonEmpty, subjectLookups int
}

func TestPropertyEngineMatchesReference(t *testing.T) {
	worlds := 1500
	if testing.Short() {
		worlds = 200
	}
	r := rand.New(rand.NewPCG(20240601, 7))
	var stats propStats
	ctx := context.Background()
	for i := range worlds {
		w := newWorld(t, r, &stats)
		stats.worlds++
		req := w.engine.NewRequest() // shared across the world's checks
		for range 40 {
			propCheck(t, ctx, r, w, req, i, &stats)
		}
		for range 12 {
			propLookupResources(t, ctx, r, w, i, &stats)
		}
		for range 8 {
			propLookupSubjects(t, ctx, r, w, i, &stats)
		}
		if t.Failed() {
			t.Fatalf("world %d:\n%s", i, w.describe())
		}
	}
	t.Logf("%+v", stats)
	// The generator must exercise what it claims to.
	if stats.cyclic < stats.worlds/10 || stats.rejected == 0 ||
		stats.allowed < stats.checks/20 || stats.nonEmpty < stats.lookups/10 {
		t.Fatalf("generator coverage too thin: %+v", stats)
	}
}

func randomQuery(r *rand.Rand) (ObjectRef, string) {
	rels := append([]string{"p"}, genRels...)
	return ObjectRef{genTypes[r.IntN(3)], genIDs[r.IntN(3)]}, rels[r.IntN(len(rels))]
}

// randomSubject prefers users and usersets, the subjects real checks ask about.
func randomSubject(r *rand.Rand, w *world) SubjectRef {
	if r.IntN(2) == 0 {
		return w.subjects[r.IntN(3)] // u:0..2
	}
	return w.subjects[r.IntN(len(w.subjects))]
}

func propCheck(t *testing.T, ctx context.Context, r *rand.Rand, w *world, req *Request, i int, stats *propStats) {
	t.Helper()
	subj := randomSubject(r, w)
	res, rel := randomQuery(r)
	if r.IntN(2) == 0 { // aim at something the reference grants, if anything
		var held []refAtom
		for a, ok := range w.model(subj) {
			if ok && a.obj.Type != genUser {
				held = append(held, a)
			}
		}
		slices.SortFunc(held, func(x, y refAtom) int {
			return strings.Compare(x.obj.String()+"#"+x.rel, y.obj.String()+"#"+y.rel)
		})
		if len(held) > 0 {
			a := held[r.IntN(len(held))]
			res, rel = a.obj, a.rel
		}
	}
	want := w.model(subj)[refAtom{res, rel}]
	for _, c := range []context.Context{ctx, WithRequest(ctx, req)} {
		d, err := w.engine.Check(c, subj, rel, res)
		if err != nil {
			t.Errorf("world %d: check %s#%s@%s: %v", i, res, rel, subj, err)
			return
		}
		if d.Allowed != want {
			t.Errorf("world %d: check %s#%s@%s = %v, reference %v (path %v)", i, res, rel, subj, d.Allowed, want, d.RelationPath())
			return
		}
		if d.Allowed && (len(d.Path) == 0 || d.Path[0] != (Step{res, rel})) {
			t.Errorf("world %d: check %s#%s@%s: path %v does not start at the query", i, res, rel, subj, d.RelationPath())
		}
		if !d.Allowed && (d.Reason == ReasonOutOfScope) != (len(d.Path) == 0) {
			t.Errorf("world %d: denial %s with path %v", i, d.Reason, d.RelationPath())
		}
	}
	stats.checks++
	if want {
		stats.allowed++
	}
}

func propLookupResources(t *testing.T, ctx context.Context, r *rand.Rand, w *world, i int, stats *propStats) {
	t.Helper()
	subj := randomSubject(r, w)
	res, rel := randomQuery(r)
	got, err := w.engine.LookupResources(ctx, subj, rel, res.Type)
	if err != nil {
		t.Errorf("world %d: lookup resources %s#%s@%s: %v", i, res.Type, rel, subj, err)
		return
	}
	var want []ObjectRef
	m := w.model(subj)
	for _, id := range genIDs {
		if m[refAtom{ObjectRef{res.Type, id}, rel}] {
			want = append(want, ObjectRef{res.Type, id})
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("world %d: lookup resources %s#%s@%s = %v, reference %v", i, res.Type, rel, subj, got, want)
	}
	stats.lookups++
	if len(want) > 0 {
		stats.nonEmpty++
	}
}

func propLookupSubjects(t *testing.T, ctx context.Context, r *rand.Rand, w *world, i int, stats *propStats) {
	t.Helper()
	res, rel := randomQuery(r)
	st := SubjectType{Type: append([]string{genUser}, genTypes...)[r.IntN(4)]}
	if r.IntN(3) == 0 {
		st = SubjectType{Type: genTypes[r.IntN(3)], Relation: genRels[r.IntN(4)]}
	}
	got, err := w.engine.LookupSubjects(ctx, res, rel, st)
	if err != nil {
		t.Errorf("world %d: lookup subjects %s#%s %s: %v", i, res, rel, st, err)
		return
	}
	for _, s := range w.subjects {
		if s.Type() != st {
			continue // the reference only knows the sampled usersets
		}
		if want := w.model(s)[refAtom{res, rel}]; want != slices.Contains(got, s) {
			t.Errorf("world %d: lookup subjects %s#%s %s = %v; reference says %s: %v", i, res, rel, st, got, s, want)
		}
	}
	for _, s := range got {
		if s.Type() != st {
			t.Errorf("world %d: lookup subjects %s#%s %s returned %s", i, res, rel, st, s)
		}
	}
	stats.subjectLookups++
}
