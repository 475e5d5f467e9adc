package authz

import (
	"errors"
	"strings"
	"testing"
)

func TestNewSchemaRejects(t *testing.T) {
	user := TypeDef{Name: "user"}
	users := []SubjectType{{Type: "user"}}
	doc := func(rels ...RelationDef) []TypeDef {
		return []TypeDef{user, {Name: "folder", Relations: []RelationDef{{Name: "viewer", Subjects: users}}},
			{Name: "doc", Relations: rels}}
	}
	parent := RelationDef{Name: "parent", Subjects: []SubjectType{{Type: "folder"}}}
	tests := []struct {
		name  string
		types []TypeDef
		want  error
		names []string // must all appear in the message
	}{
		{"unknown subject type", doc(RelationDef{Name: "viewer", Subjects: []SubjectType{{Type: "team"}}}),
			ErrUnknownType, []string{`"team"`, "doc#viewer"}},
		{"unknown userset relation", doc(RelationDef{Name: "viewer", Subjects: []SubjectType{{Type: "folder", Relation: "owner"}}}),
			ErrUnknownRelation, []string{"folder#owner", "doc#viewer"}},
		{"unknown computed relation", doc(RelationDef{Name: "view", Rewrite: Rel("editor")}),
			ErrUnknownRelation, []string{"doc#editor", "doc#view"}},
		{"unknown tupleset", doc(RelationDef{Name: "view", Rewrite: Arrow("parent", "viewer")}),
			ErrUnknownRelation, []string{"doc#parent", "parent->viewer"}},
		{"unknown arrow target", doc(parent, RelationDef{Name: "view", Rewrite: Arrow("parent", "owner")}),
			ErrUnknownRelation, []string{"folder#owner", "parent->owner"}},
		{"every unknown name is reported", doc(
			RelationDef{Name: "a", Subjects: []SubjectType{{Type: "team"}}},
			RelationDef{Name: "b", Rewrite: Rel("nope")}),
			ErrUnknownType, []string{`"team"`}},
		{"arrow through a userset relation", doc(
			RelationDef{Name: "parent", Subjects: []SubjectType{{Type: "folder", Relation: "viewer"}}},
			RelationDef{Name: "view", Rewrite: Arrow("parent", "viewer")}),
			ErrInvalidSchema, []string{"doc#parent", "plain relation"}},
		{"arrow through a computed relation", doc(
			RelationDef{Name: "parent", Subjects: []SubjectType{{Type: "folder"}}, Rewrite: Union(This(), Rel("x"))},
			RelationDef{Name: "x", Rewrite: Rel("parent")},
			RelationDef{Name: "view", Rewrite: Arrow("parent", "viewer")}),
			ErrInvalidSchema, []string{"doc#parent"}},
		{"exclusion in a cycle", doc(
			RelationDef{Name: "a", Subjects: users, Rewrite: Exclude(This(), Rel("b"))},
			RelationDef{Name: "b", Rewrite: Rel("a")}),
			ErrInvalidSchema, []string{"doc#a", "doc#b", "exclusion"}},
		{"nothing to evaluate", doc(RelationDef{Name: "x"}), ErrInvalidSchema, []string{"doc#x"}},
		{"this without subjects", doc(RelationDef{Name: "x", Rewrite: Union(This(), Rel("x"))}),
			ErrInvalidSchema, []string{"doc#x", "this"}},
		{"subjects never read", doc(RelationDef{Name: "y", Subjects: users}, RelationDef{Name: "x", Subjects: users, Rewrite: Rel("y")}),
			ErrInvalidSchema, []string{"doc#x"}},
		{"empty union", doc(RelationDef{Name: "x", Rewrite: Union()}), ErrInvalidSchema, []string{"doc#x"}},
		{"one-sided exclusion", doc(RelationDef{Name: "x", Rewrite: Expr{Op: OpExclusion, Args: []Expr{Rel("x")}}}),
			ErrInvalidSchema, []string{"doc#x"}},
		{"duplicate type", []TypeDef{user, user}, ErrInvalidSchema, []string{"user"}},
		{"duplicate relation", doc(RelationDef{Name: "x", Subjects: users}, RelationDef{Name: "x", Subjects: users}),
			ErrInvalidSchema, []string{"doc#x"}},
		{"duplicate subject type", doc(RelationDef{Name: "x", Subjects: []SubjectType{{Type: "user"}, {Type: "user"}}}),
			ErrInvalidSchema, []string{"doc#x"}},
		{"bad type name", []TypeDef{{Name: "Doc"}}, ErrInvalidSchema, []string{`"Doc"`}},
		{"bad relation name", doc(RelationDef{Name: "has space", Subjects: users}), ErrInvalidSchema, []string{`"has space"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSchema(tc.types...)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			for _, n := range tc.names {
				if !strings.Contains(err.Error(), n) {
					t.Errorf("error %q does not name %s", err, n)
				}
			}
		})
	}
}

func TestNewSchemaReportsAllProblems(t *testing.T) {
	_, err := NewSchema(TypeDef{Name: "doc", Relations: []RelationDef{
		{Name: "a", Subjects: []SubjectType{{Type: "team"}}},
		{Name: "b", Subjects: []SubjectType{{Type: "doc", Relation: "nope"}}},
	}})
	if !errors.Is(err, ErrUnknownType) || !errors.Is(err, ErrUnknownRelation) {
		t.Fatalf("err = %v, want both unknown type and unknown relation", err)
	}
}

func TestNewSchemaAcceptsStratifiedRecursion(t *testing.T) {
	// Positive recursion (nested folders) and an exclusion of a relation
	// outside the cycle are fine.
	_, err := NewSchema(
		TypeDef{Name: "user"},
		TypeDef{Name: "folder", Relations: []RelationDef{
			{Name: "parent", Subjects: []SubjectType{{Type: "folder"}}},
			{Name: "banned", Subjects: []SubjectType{{Type: "user"}}},
			{Name: "viewer", Subjects: []SubjectType{{Type: "user"}}, Rewrite: Union(This(), Arrow("parent", "view"))},
			{Name: "view", Rewrite: Exclude(Rel("viewer"), Rel("banned"))},
		}},
	)
	// view and viewer form a cycle (through parent->view); the exclusion's
	// subtracted side, banned, lies outside it.
	if err != nil {
		t.Fatal(err)
	}
}

func TestValidateTuple(t *testing.T) {
	s := DefaultSchema()
	ok := []string{
		"domain:a#admin@user:u",
		"domain:a#admin@group:g#member",
		"domain:a#platform@platform",
		"project:p#viewer@service_identity:s",
		"node:n#agent@node:n",
	}
	for _, str := range ok {
		if err := s.ValidateTuple(mustTuple(t, nil, str)); err != nil {
			t.Errorf("%s: %v", str, err)
		}
	}
	bad := []struct {
		tuple string
		want  error
	}{
		{"domain:a#manage@user:u", ErrSubjectNotAllowed},           // computed
		{"domain:a#admin@node:n", ErrSubjectNotAllowed},            // wrong subject type
		{"domain:a#admin@group:g#admin", ErrUnknownRelation},       // unknown userset relation
		{"domain:a#platform@platform#admin", ErrSubjectNotAllowed}, // userset where objects go
		{"domain:a#owner@user:u", ErrUnknownRelation},
		{"planet:a#owner@user:u", ErrUnknownType},
		{"domain:a#platform@platform:x", ErrInvalidRef}, // not the singleton's id
	}
	for _, tc := range bad {
		if err := s.ValidateTuple(mustTuple(t, nil, tc.tuple)); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.tuple, err, tc.want)
		}
	}
	noID := Tuple{Resource: ObjectRef{Type: "domain"}, Relation: "admin", Subject: ObjectRef{"user", "u"}.Subject()}
	if err := s.ValidateTuple(noID); !errors.Is(err, ErrInvalidRef) {
		t.Errorf("a resource without an id: err = %v", err)
	}
}

func TestExprString(t *testing.T) {
	x := Exclude(Union(This(), Rel("admin"), Arrow("domain", "admin")), Intersect(Rel("banned"), Rel("x")))
	if got, want := x.String(), "(this + admin + domain->admin) - (banned & x)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestDefinitionsAreCopies(t *testing.T) {
	s := DefaultSchema()
	defs := s.Definitions()
	defs[0].Name = "mutated"
	for i := range defs {
		for j := range defs[i].Relations {
			defs[i].Relations[j].Subjects = nil
		}
	}
	if s.Types()[0] == "mutated" {
		t.Fatal("Definitions returned the schema's own slice")
	}
	if err := s.ValidateTuple(mustTuple(t, nil, "domain:a#admin@user:u")); err != nil {
		t.Fatal(err)
	}
	if again := s.Definitions(); len(again[2].Relations[0].Subjects) == 0 {
		t.Fatal("Definitions shares subject slices")
	}
}
