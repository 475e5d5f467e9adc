package authz

import (
	"errors"
	"fmt"
	"slices"
)

// TypeDef declares one object type.
type TypeDef struct {
	Name string
	// SingletonID, when set, makes the type a singleton: its only object has
	// this id (the platform: [PlatformID]).
	SingletonID string
	Relations   []RelationDef
}

// RelationDef declares one relation of a type.
//
// With Subjects and no Rewrite it is a plain assignable relation. With a
// Rewrite and no Subjects it is computed only (a permission). With both, the
// Rewrite must use [This] to include the stored tuples.
type RelationDef struct {
	Name     string
	Subjects []SubjectType
	Rewrite  Expr
}

// Schema is a validated, compiled set of type definitions. It is immutable
// and safe for concurrent use.
type Schema struct {
	defs  []TypeDef
	types map[string]*typeInfo
	rels  []*relInfo
	comps int // number of strongly connected components of the dependency graph
	// seeds lists, per subject type, the relations whose stored tuples may
	// name that subject type in a positive position (lookup entry points).
	seeds map[SubjectType][]dep
}

type typeInfo struct {
	name        string
	singletonID string
	rels        map[string]*relInfo
	order       []*relInfo
}

// relInfo is one compiled relation: a node of the dependency graph.
type relInfo struct {
	id       int
	typ      *typeInfo
	name     string
	def      RelationDef
	root     *cnode
	subjects []SubjectType
	allowed  map[SubjectType]bool
	usersets map[SubjectType]*relInfo // allowed userset subject types → their relation
	plain    bool                     // assignable, rewrite is exactly This, no usersets: may be a tupleset

	edges   []depEdge
	scc     int
	closure []*relInfo // every relation this one depends on, itself included

	// Reverse positive dependencies, for lookups.
	thisDeps     []dep      // relations whose This accepts this relation as a userset subject
	computedDeps []dep      // relations on the same type that reference this one
	arrowDeps    []arrowDep // relations that reach this one through an arrow
}

func (r *relInfo) String() string { return r.typ.name + "#" + r.name }

// cnode is a compiled rewrite node.
type cnode struct {
	op       ExprOp
	rel      *relInfo            // OpThis: the owning relation; OpComputed: the target
	tupleset *relInfo            // OpArrow
	targets  map[string]*relInfo // OpArrow: tupleset subject type → target relation
	label    string              // OpArrow: "tupleset->relation"
	args     []*cnode
}

type depEdge struct {
	to       *relInfo
	negative bool
}

// dep is a reverse dependency. direct means the reference sits under unions
// only, so a hit through it grants the dependent without re-evaluation.
type dep struct {
	rel    *relInfo
	direct bool
}

type arrowDep struct {
	dep
	tupleset string
}

// NewSchema validates and compiles type definitions. Every problem found is
// reported, joined: unknown types ([ErrUnknownType]), unknown relations
// ([ErrUnknownRelation]), and structural faults ([ErrInvalidSchema]).
func NewSchema(types ...TypeDef) (*Schema, error) {
	s := &Schema{types: make(map[string]*typeInfo), seeds: make(map[SubjectType][]dep)}
	var errs []error
	s.declare(types, &errs)
	if len(errs) == 0 {
		s.resolveSubjects(&errs)
	}
	if len(errs) == 0 {
		s.resolveRewrites(&errs)
	}
	if len(errs) == 0 {
		s.link(&errs)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("authz: schema: %w", errors.Join(errs...))
	}
	return s, nil
}

func (s *Schema) declare(types []TypeDef, errs *[]error) {
	for _, td := range types {
		if !validType(td.Name) {
			*errs = append(*errs, fmt.Errorf("%w: bad type name %q", ErrInvalidSchema, td.Name))
			continue
		}
		if _, dup := s.types[td.Name]; dup {
			*errs = append(*errs, fmt.Errorf("%w: type %s declared twice", ErrInvalidSchema, td.Name))
			continue
		}
		if td.SingletonID != "" && !validID(td.SingletonID) {
			*errs = append(*errs, fmt.Errorf("%w: type %s: bad singleton id %q", ErrInvalidSchema, td.Name, td.SingletonID))
		}
		ti := &typeInfo{name: td.Name, singletonID: td.SingletonID, rels: make(map[string]*relInfo)}
		s.types[td.Name] = ti
		cp := TypeDef{Name: td.Name, SingletonID: td.SingletonID}
		for _, rd := range td.Relations {
			if !validRelation(rd.Name) {
				*errs = append(*errs, fmt.Errorf("%w: type %s: bad relation name %q", ErrInvalidSchema, td.Name, rd.Name))
				continue
			}
			if _, dup := ti.rels[rd.Name]; dup {
				*errs = append(*errs, fmt.Errorf("%w: relation %s#%s declared twice", ErrInvalidSchema, td.Name, rd.Name))
				continue
			}
			rd = RelationDef{Name: rd.Name, Subjects: slices.Clone(rd.Subjects), Rewrite: cloneExpr(rd.Rewrite)}
			ri := &relInfo{id: len(s.rels), typ: ti, name: rd.Name, def: rd}
			s.rels = append(s.rels, ri)
			ti.rels[rd.Name] = ri
			ti.order = append(ti.order, ri)
			cp.Relations = append(cp.Relations, rd)
		}
		s.defs = append(s.defs, cp)
	}
}

func (s *Schema) resolveSubjects(errs *[]error) {
	for _, ri := range s.rels {
		ri.allowed = make(map[SubjectType]bool)
		ri.usersets = make(map[SubjectType]*relInfo)
		for _, st := range ri.def.Subjects {
			t := s.types[st.Type]
			if t == nil {
				*errs = append(*errs, fmt.Errorf("%w: %q (a subject type of %s)", ErrUnknownType, st.Type, ri))
				continue
			}
			if ri.allowed[st] {
				*errs = append(*errs, fmt.Errorf("%w: %s lists subject type %s twice", ErrInvalidSchema, ri, st))
				continue
			}
			if st.Relation != "" {
				target := t.rels[st.Relation]
				if target == nil {
					*errs = append(*errs, fmt.Errorf("%w: %s#%s (a subject type of %s)", ErrUnknownRelation, st.Type, st.Relation, ri))
					continue
				}
				ri.usersets[st] = target
			}
			ri.allowed[st] = true
			ri.subjects = append(ri.subjects, st)
		}
		rw := ri.def.Rewrite
		ri.plain = len(ri.subjects) > 0 && len(ri.usersets) == 0 &&
			(rw.IsZero() || (rw.Op == OpThis && len(rw.Args) == 0))
	}
}

func (s *Schema) resolveRewrites(errs *[]error) {
	for _, ri := range s.rels {
		rw := ri.def.Rewrite
		if rw.IsZero() {
			if len(ri.subjects) == 0 {
				*errs = append(*errs, fmt.Errorf("%w: %s has neither subject types nor a rewrite", ErrInvalidSchema, ri))
				continue
			}
			rw = This()
		}
		hasThis := false
		rw.walk(false, func(e Expr, _ bool) { hasThis = hasThis || e.Op == OpThis })
		switch {
		case hasThis && len(ri.subjects) == 0:
			*errs = append(*errs, fmt.Errorf("%w: %s uses this but has no subject types", ErrInvalidSchema, ri))
			continue
		case !hasThis && len(ri.subjects) > 0:
			*errs = append(*errs, fmt.Errorf("%w: %s has subject types but its rewrite %s never uses this", ErrInvalidSchema, ri, rw))
			continue
		}
		root, cerrs := s.compile(ri, rw)
		*errs = append(*errs, cerrs...)
		ri.root = root
	}
}

func (s *Schema) compile(ri *relInfo, x Expr) (*cnode, []error) {
	n := &cnode{op: x.Op}
	switch x.Op {
	case OpThis:
		n.rel = ri
	case OpComputed:
		n.rel = ri.typ.rels[x.Relation]
		if n.rel == nil {
			return nil, []error{fmt.Errorf("%w: %s#%s (referenced by %s)", ErrUnknownRelation, ri.typ.name, x.Relation, ri)}
		}
	case OpArrow:
		return s.compileArrow(ri, x)
	case OpUnion, OpIntersection, OpExclusion:
		if len(x.Args) == 0 || (x.Op == OpExclusion && len(x.Args) != 2) {
			return nil, []error{fmt.Errorf("%w: %s: %s has a wrong number of arguments", ErrInvalidSchema, ri, x)}
		}
		var errs []error
		for _, a := range x.Args {
			c, cerrs := s.compile(ri, a)
			errs = append(errs, cerrs...)
			n.args = append(n.args, c)
		}
		return n, errs
	default:
		return nil, []error{fmt.Errorf("%w: %s: unknown rewrite operator %d", ErrInvalidSchema, ri, x.Op)}
	}
	if len(x.Args) > 0 {
		return nil, []error{fmt.Errorf("%w: %s: %s takes no arguments", ErrInvalidSchema, ri, x)}
	}
	return n, nil
}

func (s *Schema) compileArrow(ri *relInfo, x Expr) (*cnode, []error) {
	label := x.Tupleset + "->" + x.Relation
	ts := ri.typ.rels[x.Tupleset]
	if ts == nil {
		return nil, []error{fmt.Errorf("%w: %s#%s (the tupleset of %s in %s)", ErrUnknownRelation, ri.typ.name, x.Tupleset, label, ri)}
	}
	if !ts.plain {
		return nil, []error{fmt.Errorf("%w: %s: arrow %s needs %s to be a plain relation of objects (no rewrite, no usersets)", ErrInvalidSchema, ri, label, ts)}
	}
	if len(x.Args) > 0 {
		return nil, []error{fmt.Errorf("%w: %s: %s takes no arguments", ErrInvalidSchema, ri, label)}
	}
	n := &cnode{op: OpArrow, tupleset: ts, label: label, targets: make(map[string]*relInfo)}
	var errs []error
	for _, st := range ts.subjects {
		target := s.types[st.Type].rels[x.Relation]
		if target == nil {
			errs = append(errs, fmt.Errorf("%w: %s#%s (reached by arrow %s in %s)", ErrUnknownRelation, st.Type, x.Relation, label, ri))
			continue
		}
		n.targets[st.Type] = target
	}
	return n, errs
}

func cloneExpr(x Expr) Expr {
	if len(x.Args) == 0 {
		x.Args = nil
		return x
	}
	args := make([]Expr, len(x.Args))
	for i, a := range x.Args {
		args[i] = cloneExpr(a)
	}
	x.Args = args
	return x
}

// Definitions returns a copy of the type definitions the schema was built from.
func (s *Schema) Definitions() []TypeDef {
	out := make([]TypeDef, len(s.defs))
	for i, td := range s.defs {
		td.Relations = slices.Clone(td.Relations)
		for j, rd := range td.Relations {
			td.Relations[j].Subjects = slices.Clone(rd.Subjects)
			td.Relations[j].Rewrite = cloneExpr(rd.Rewrite)
		}
		out[i] = td
	}
	return out
}

// Types returns the type names in declaration order.
func (s *Schema) Types() []string {
	out := make([]string, len(s.defs))
	for i, td := range s.defs {
		out[i] = td.Name
	}
	return out
}

// Relations returns the relation names of a type in declaration order.
func (s *Schema) Relations(typ string) ([]string, error) {
	t := s.types[typ]
	if t == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, typ)
	}
	out := make([]string, len(t.order))
	for i, ri := range t.order {
		out[i] = ri.name
	}
	return out, nil
}

// ValidateObject checks that o names a declared type with a well-formed id,
// the singleton's id for a singleton type.
func (s *Schema) ValidateObject(o ObjectRef) error {
	_, err := s.object(o)
	return err
}

func (s *Schema) object(o ObjectRef) (*typeInfo, error) {
	if err := validateObject(o); err != nil {
		return nil, err
	}
	t := s.types[o.Type]
	switch {
	case t == nil:
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, o.Type)
	case t.singletonID != "" && o.ID != t.singletonID:
		return nil, fmt.Errorf("%w: %s is a singleton with id %q, not %q", ErrInvalidRef, o.Type, t.singletonID, o.ID)
	}
	return t, nil
}

// rel resolves relation on o's type, validating o.
func (s *Schema) rel(o ObjectRef, relation string) (*relInfo, error) {
	t, err := s.object(o)
	if err != nil {
		return nil, err
	}
	ri := t.rels[relation]
	if ri == nil {
		return nil, fmt.Errorf("%w: %s#%s", ErrUnknownRelation, o.Type, relation)
	}
	return ri, nil
}

// ValidateSubject checks that a subject's object is valid and, for a userset,
// that its relation exists.
func (s *Schema) ValidateSubject(sub SubjectRef) error {
	if sub.Relation == "" {
		return s.ValidateObject(sub.Object)
	}
	_, err := s.rel(sub.Object, sub.Relation)
	return err
}

// ValidateTuple checks a tuple against the schema: both ends exist, the
// relation is assignable, and it accepts the subject's type. Writers call it
// before storing a tuple.
func (s *Schema) ValidateTuple(t Tuple) error {
	if err := t.Validate(); err != nil {
		return err
	}
	ri, err := s.rel(t.Resource, t.Relation)
	if err != nil {
		return fmt.Errorf("tuple %s: %w", t, err)
	}
	if err := s.ValidateSubject(t.Subject); err != nil {
		return fmt.Errorf("tuple %s: subject: %w", t, err)
	}
	if len(ri.subjects) == 0 {
		return fmt.Errorf("%w: %s is computed and cannot be written", ErrSubjectNotAllowed, ri)
	}
	if !ri.allowed[t.Subject.Type()] {
		return fmt.Errorf("%w: %s accepts %v, not %s", ErrSubjectNotAllowed, ri, ri.subjects, t.Subject.Type())
	}
	return nil
}
