package authz

import "strings"

// ExprOp is the operator of a rewrite expression node.
type ExprOp uint8

// Rewrite operators.
const (
	opNone         ExprOp = iota // the zero Expr: no rewrite
	OpThis                       // the relation's stored tuples
	OpComputed                   // another relation on the same object
	OpArrow                      // tuple-to-userset: Tupleset->Relation
	OpUnion                      // any argument
	OpIntersection               // every argument
	OpExclusion                  // the first argument but not the second
)

// Expr is a relation's rewrite: how it is derived from stored tuples and
// other relations. Build it with [This], [Rel], [Arrow], [Union], [Intersect]
// and [Exclude]. The zero Expr means "no rewrite" (just [This]).
type Expr struct {
	Op       ExprOp
	Relation string // OpComputed: relation on the same object; OpArrow: relation on the tupleset's subjects
	Tupleset string // OpArrow: relation on this object whose subjects are followed
	Args     []Expr // OpUnion, OpIntersection (one or more); OpExclusion (exactly two)
}

// This is the relation's directly stored tuples (Zanzibar's _this), including
// the members of the usersets stored as its subjects.
func This() Expr { return Expr{Op: OpThis} }

// Rel is a computed userset: whoever holds relation on the same object.
func Rel(relation string) Expr { return Expr{Op: OpComputed, Relation: relation} }

// Arrow is a tuple-to-userset: for every object stored as a subject of
// tupleset on this object, whoever holds relation on that object
// (e.g. Arrow("domain", "admin") on a project is the admins of its domain).
func Arrow(tupleset, relation string) Expr {
	return Expr{Op: OpArrow, Tupleset: tupleset, Relation: relation}
}

// Union admits whoever any argument admits.
func Union(args ...Expr) Expr { return Expr{Op: OpUnion, Args: args} }

// Intersect admits whoever every argument admits.
func Intersect(args ...Expr) Expr { return Expr{Op: OpIntersection, Args: args} }

// Exclude admits whoever base admits and subtract does not.
func Exclude(base, subtract Expr) Expr {
	return Expr{Op: OpExclusion, Args: []Expr{base, subtract}}
}

// IsZero reports whether x is the zero Expr (no rewrite).
func (x Expr) IsZero() bool { return x.Op == opNone }

// String renders the expression in a SpiceDB-like notation:
// this, admin, domain->admin, (a + b), (a & b), (a - b).
func (x Expr) String() string {
	var b strings.Builder
	x.write(&b, true)
	return b.String()
}

func (x Expr) write(b *strings.Builder, top bool) {
	var sep string
	switch x.Op {
	case opNone:
		b.WriteString("<none>")
		return
	case OpThis:
		b.WriteString("this")
		return
	case OpComputed:
		b.WriteString(x.Relation)
		return
	case OpArrow:
		b.WriteString(x.Tupleset + "->" + x.Relation)
		return
	case OpUnion:
		sep = " + "
	case OpIntersection:
		sep = " & "
	case OpExclusion:
		sep = " - "
	default:
		b.WriteString("<invalid>")
		return
	}
	if !top {
		b.WriteByte('(')
	}
	for i, a := range x.Args {
		if i > 0 {
			b.WriteString(sep)
		}
		a.write(b, false)
	}
	if !top {
		b.WriteByte(')')
	}
}

// walk calls fn for every node of x, passing whether the node sits inside the
// subtracted side of an exclusion (negative).
func (x Expr) walk(negative bool, fn func(e Expr, negative bool)) {
	fn(x, negative)
	for i, a := range x.Args {
		a.walk(negative || (x.Op == OpExclusion && i == 1), fn)
	}
}
