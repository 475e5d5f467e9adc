// Package selector owns plexsphere's label-selector language: the one parser,
// AST and matcher shared by policy and fleet dispatch (api.md §3.4).
//
// A selector is a comma-separated list of clauses that must all hold (there is
// no OR):
//
//	key=value   key==value   key!=value
//	key in (a, b)            key notin (a, b)
//	key                      !key
//
// Keys are label qualified keys such as "env", "platform/env" or
// "team.example/x-y": the characters [A-Za-z0-9._/-], starting with a letter
// or digit, at most [MaxKeyLen] bytes. Values are the characters
// [A-Za-z0-9._-], at most [MaxValueLen] bytes. Whitespace (space, tab, CR,
// LF) is allowed around every token.
//
// Values are never empty. "env=" is rejected rather than read as "env has the
// empty value": it is far more often a template that rendered nothing than an
// intent, and "env!=" would then quietly select every object in the fleet. Use
// "env" or "!env" to test for presence. For the same reason "k in ()" is
// rejected.
//
// Matching follows Kubernetes: "k!=v" and "k notin (…)" also match objects
// that have no label k. The empty selector (no clauses) matches everything;
// callers that act on a whole fleet should check [Selector.Empty] first.
package selector

import (
	"slices"
	"strings"
)

// Limits enforced by [Parse].
const (
	MaxLen      = 4096 // bytes in one selector expression
	MaxClauses  = 64   // clauses joined by commas
	MaxValues   = 64   // values in one in/notin list, as written
	MaxKeyLen   = 128  // bytes in a key
	MaxValueLen = 256  // bytes in a value
)

// Op is the operator of an AST [Node] or a [Requirement].
type Op string

// Operators. OpNotIn is an addition to the op list of api.md §3.4.
const (
	OpEq     Op = "eq"
	OpNeq    Op = "neq"
	OpIn     Op = "in"
	OpNotIn  Op = "notin"
	OpExists Op = "exists"
	OpAbsent Op = "absent"
	OpAnd    Op = "and"
)

// Node is the selector AST of api.md §3.4. A selector with several clauses is
// an OpAnd node whose Children are the clauses in written order; a selector
// with one clause is that clause's node; the empty selector is an OpAnd node
// without children. Value is set for eq/neq, Values (sorted, without
// duplicates) for in/notin.
type Node struct {
	Op       Op       `json:"op"`
	Key      string   `json:"key,omitempty"`
	Value    string   `json:"value,omitempty"`
	Values   []string `json:"values,omitempty"`
	Children []Node   `json:"children,omitempty"`
}

// Requirement is one clause of a selector, in a form meant for compiling to
// other languages (SQL, for one).
type Requirement struct {
	Key string
	// Op is never OpAnd.
	Op Op
	// Values holds exactly one value for OpEq and OpNeq, one or more sorted,
	// distinct values for OpIn and OpNotIn, and nothing for OpExists and
	// OpAbsent.
	Values []string
}

// Matches reports whether labels satisfy the requirement.
func (r Requirement) Matches(labels map[string]string) bool {
	v, ok := labels[r.Key]
	switch r.Op {
	case OpEq:
		return ok && v == r.Values[0]
	case OpNeq:
		return !ok || v != r.Values[0]
	case OpIn:
		return ok && contains(r.Values, v)
	case OpNotIn:
		return !ok || !contains(r.Values, v)
	case OpExists:
		return ok
	case OpAbsent:
		return !ok
	}
	return false
}

func contains(sorted []string, v string) bool {
	_, found := slices.BinarySearch(sorted, v)
	return found
}

// String returns the canonical text of the clause.
func (r Requirement) String() string {
	var b strings.Builder
	r.writeTo(&b)
	return b.String()
}

func (r Requirement) writeTo(b *strings.Builder) {
	switch r.Op {
	case OpEq:
		b.WriteString(r.Key)
		b.WriteByte('=')
		b.WriteString(r.Values[0])
	case OpNeq:
		b.WriteString(r.Key)
		b.WriteString("!=")
		b.WriteString(r.Values[0])
	case OpIn, OpNotIn:
		b.WriteString(r.Key)
		b.WriteByte(' ')
		b.WriteString(string(r.Op))
		b.WriteByte('(')
		for i, v := range r.Values {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(v)
		}
		b.WriteByte(')')
	case OpExists:
		b.WriteString(r.Key)
	case OpAbsent:
		b.WriteByte('!')
		b.WriteString(r.Key)
	}
}

func (r Requirement) node() Node {
	n := Node{Op: r.Op, Key: r.Key}
	switch r.Op {
	case OpEq, OpNeq:
		n.Value = r.Values[0]
	case OpIn, OpNotIn:
		n.Values = slices.Clone(r.Values)
	}
	return n
}

// Selector is a parsed selector. The zero value is the empty selector, which
// matches everything. A Selector is immutable and safe for concurrent use.
type Selector struct {
	reqs []Requirement
}

// Empty reports whether the selector has no clauses (and so matches every
// label set).
func (s Selector) Empty() bool { return len(s.reqs) == 0 }

// Matches reports whether labels satisfy every clause. A nil map is an object
// without labels.
func (s Selector) Matches(labels map[string]string) bool {
	for _, r := range s.reqs {
		if !r.Matches(labels) {
			return false
		}
	}
	return true
}

// String returns the canonical text of the selector: clauses in written
// order joined by ",", "==" written as "=", in/notin values sorted and
// deduplicated, and no optional whitespace ("k in(a,b)"). Because the
// canonical form is never longer than any expression that parses to the same
// selector, it is always within [MaxLen] and Parse(s.String()) equals s.
func (s Selector) String() string {
	var b strings.Builder
	for i, r := range s.reqs {
		if i > 0 {
			b.WriteByte(',')
		}
		r.writeTo(&b)
	}
	return b.String()
}

// Requirements returns a copy of the clauses in written order.
func (s Selector) Requirements() []Requirement {
	out := make([]Requirement, len(s.reqs))
	for i, r := range s.reqs {
		out[i] = Requirement{Key: r.Key, Op: r.Op, Values: slices.Clone(r.Values)}
	}
	return out
}

// AST returns the selector as an api.md §3.4 AST.
func (s Selector) AST() Node {
	switch len(s.reqs) {
	case 0:
		return Node{Op: OpAnd}
	case 1:
		return s.reqs[0].node()
	}
	children := make([]Node, len(s.reqs))
	for i, r := range s.reqs {
		children[i] = r.node()
	}
	return Node{Op: OpAnd, Children: children}
}

// Equal reports whether s and t have the same clauses in the same order.
func (s Selector) Equal(t Selector) bool {
	return slices.EqualFunc(s.reqs, t.reqs, func(a, b Requirement) bool {
		return a.Key == b.Key && a.Op == b.Op && slices.Equal(a.Values, b.Values)
	})
}

// MarshalText implements encoding.TextMarshaler with the canonical form.
func (s Selector) MarshalText() ([]byte, error) {
	return []byte(s.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with [Parse].
func (s *Selector) UnmarshalText(text []byte) error {
	p, err := Parse(string(text))
	if err != nil {
		return err
	}
	*s = p
	return nil
}
