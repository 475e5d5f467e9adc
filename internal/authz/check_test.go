package authz

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// docSchema exercises exclusion and intersection.
func docSchema(t testing.TB) *Schema {
	t.Helper()
	members := []SubjectType{{Type: "user"}, {Type: "group", Relation: "member"}}
	s, err := NewSchema(
		TypeDef{Name: "user"},
		TypeDef{Name: "group", Relations: []RelationDef{{Name: "member", Subjects: members}}},
		TypeDef{Name: "doc", Relations: []RelationDef{
			{Name: "viewer", Subjects: members},
			{Name: "banned", Subjects: members},
			{Name: "approved", Subjects: []SubjectType{{Type: "user"}}},
			{Name: "view", Rewrite: Exclude(Rel("viewer"), Rel("banned"))},
			{Name: "edit", Rewrite: Intersect(Rel("viewer"), Rel("approved"))},
			{Name: "review", Rewrite: Exclude(Union(Rel("viewer"), Rel("approved")), Intersect(Rel("banned"), Rel("approved")))},
		}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestExclusionAndIntersection(t *testing.T) {
	e, _ := newTestEngine(t, docSchema(t), []string{
		"doc:d#viewer@user:alice",
		"doc:d#viewer@group:staff#member",
		"group:staff#member@user:bob",
		"group:staff#member@user:carol",
		"group:staff#member@user:erin",
		"doc:d#banned@group:contractors#member",
		"group:contractors#member@user:bob",
		"group:contractors#member@user:erin",
		"doc:d#approved@user:carol",
		"doc:d#approved@user:dave",
		"doc:d#approved@user:erin",
	}, 0)
	tests := []struct {
		user, rel string
		want      bool
	}{
		{"alice", "view", true},   // viewer
		{"bob", "view", false},    // viewer through staff, banned through contractors
		{"carol", "view", true},   // viewer through staff
		{"dave", "view", false},   // not a viewer
		{"carol", "edit", true},   // viewer and approved
		{"alice", "edit", false},  // viewer, not approved
		{"dave", "edit", false},   // approved, not viewer
		{"dave", "review", true},  // approved, not banned
		{"erin", "review", false}, // banned and approved
		{"bob", "review", true},   // banned but not approved
		{"zed", "review", false},
	}
	ctx := context.Background()
	for _, tc := range tests {
		subj := ObjectRef{"user", tc.user}.Subject()
		d, err := e.Check(ctx, subj, tc.rel, ObjectRef{"doc", "d"})
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed != tc.want {
			t.Errorf("%s %s = %v, want %v", tc.user, tc.rel, d.Allowed, tc.want)
		}
		got, err := e.LookupResources(ctx, subj, tc.rel, "doc")
		if err != nil {
			t.Fatal(err)
		}
		if (len(got) == 1) != tc.want {
			t.Errorf("lookup %s %s = %v, want %v", tc.user, tc.rel, got, tc.want)
		}
	}
	users, err := e.LookupSubjects(ctx, ObjectRef{"doc", "d"}, "view", SubjectType{Type: "user"})
	if err != nil {
		t.Fatal(err)
	}
	if s := refStrings(users); !slices.Equal(s, []string{"user:alice", "user:carol"}) {
		t.Errorf("view subjects = %v", s)
	}
}

func TestCyclicGroups(t *testing.T) {
	e, _ := newTestEngine(t, docSchema(t), []string{
		"group:a#member@group:b#member",
		"group:b#member@group:a#member",
		"group:c#member@group:c#member",
		"doc:d#viewer@group:a#member",
		"doc:e#viewer@group:c#member",
	}, 0)
	ctx := context.Background()
	for _, doc := range []string{"d", "e"} {
		d, err := e.Check(ctx, ObjectRef{"user", "u"}.Subject(), "view", ObjectRef{"doc", doc})
		if err != nil || d.Allowed {
			t.Fatalf("a cycle granted or failed: %+v, %v", d, err)
		}
	}
	// Joining either group of the cycle grants through the other.
	e2, _ := newTestEngine(t, docSchema(t), []string{
		"group:a#member@group:b#member",
		"group:b#member@group:a#member",
		"group:b#member@user:u",
		"doc:d#viewer@group:a#member",
	}, 0)
	d, err := e2.Check(ctx, ObjectRef{"user", "u"}.Subject(), "view", ObjectRef{"doc", "d"})
	if err != nil || !d.Allowed {
		t.Fatalf("member of the cycle denied: %+v, %v", d, err)
	}
	if want := []string{"doc:d#view", "doc:d#viewer", "group:a#member", "group:b#member"}; !slices.Equal(d.RelationPath(), want) {
		t.Errorf("path %v, want %v", d.RelationPath(), want)
	}
	groups, err := e2.LookupResources(ctx, ObjectRef{"user", "u"}.Subject(), "member", "group")
	if err != nil || !slices.Equal(refStrings(groups), []string{"group:a", "group:b"}) {
		t.Errorf("groups = %v, %v", groups, err)
	}
}

// nestedChain returns tuples nesting n groups: user:u ∈ g0 ⊂ g1 ⊂ … ⊂ g(n-1),
// which views doc:d.
func nestedChain(n int) []string {
	out := []string{"group:g0#member@user:u", fmt.Sprintf("doc:d#viewer@group:g%d#member", n-1)}
	for i := 1; i < n; i++ {
		out = append(out, fmt.Sprintf("group:g%d#member@group:g%d#member", i, i-1))
	}
	return out
}

func TestDepthLimit(t *testing.T) {
	ctx := context.Background()
	u := ObjectRef{"user", "u"}.Subject()
	e, _ := newTestEngine(t, docSchema(t), nestedChain(30), 0)
	_, err := e.Check(ctx, u, "view", ObjectRef{"doc", "d"})
	if !errors.Is(err, ErrDepthExceeded) {
		t.Fatalf("30 nested groups with depth %d: err = %v, want ErrDepthExceeded", DefaultMaxDepth, err)
	}
	// Within the limit the same data grants (view, viewer, then 14 groups).
	e, _ = newTestEngine(t, docSchema(t), nestedChain(14), 0)
	if d, err := e.Check(ctx, u, "view", ObjectRef{"doc", "d"}); err != nil || !d.Allowed {
		t.Fatalf("14 nested groups: %+v, %v", d, err)
	}
	// A deep chain is fine with a larger bound, and never overflows the stack.
	e, _ = newTestEngine(t, docSchema(t), nestedChain(5000), 10_000)
	if d, err := e.Check(ctx, u, "view", ObjectRef{"doc", "d"}); err != nil || !d.Allowed {
		t.Fatalf("5000 nested groups: %+v, %v", d, err)
	}
	// Lookups are iterative: no depth bound applies.
	e, _ = newTestEngine(t, docSchema(t), nestedChain(30), 0)
	if docs, err := e.LookupResources(ctx, u, "view", "doc"); err != nil || len(docs) != 1 {
		t.Fatalf("lookup through 30 groups: %v, %v", docs, err)
	}
	// LookupSubjects confirms with checks, so it reports the depth error.
	if _, err := e.LookupSubjects(ctx, ObjectRef{"doc", "d"}, "view", SubjectType{Type: "user"}); !errors.Is(err, ErrDepthExceeded) {
		t.Fatalf("lookup subjects through 30 groups: err = %v", err)
	}
}

// countingReader counts tuple reads.
type countingReader struct {
	TupleReader
	reads atomic.Int64
	fail  error
}

func (c *countingReader) HasTuple(ctx context.Context, r ObjectRef, rel string, s SubjectRef) (bool, error) {
	c.reads.Add(1)
	if c.fail != nil {
		return false, c.fail
	}
	return c.TupleReader.HasTuple(ctx, r, rel, s)
}

func (c *countingReader) SubjectsOf(ctx context.Context, r ObjectRef, rel string) ([]SubjectRef, error) {
	c.reads.Add(1)
	if c.fail != nil {
		return nil, c.fail
	}
	return c.TupleReader.SubjectsOf(ctx, r, rel)
}

func (c *countingReader) UsersetsOf(ctx context.Context, r ObjectRef, rel string) ([]SubjectRef, error) {
	c.reads.Add(1)
	if c.fail != nil {
		return nil, c.fail
	}
	return c.TupleReader.UsersetsOf(ctx, r, rel)
}

func TestRequestMemoisesAcrossChecks(t *testing.T) {
	s := DefaultSchema()
	_, m := newTestEngine(t, s, defaultFixture, 0)
	cr := &countingReader{TupleReader: m}
	e, err := New(Config{Schema: s, Tuples: cr})
	if err != nil {
		t.Fatal(err)
	}
	req := e.NewRequest()
	ctx := WithRequest(context.Background(), req)
	pa := ObjectRef{"user", "pa"}.Subject()
	check := func(perm, res string) {
		t.Helper()
		if d, err := e.Check(ctx, pa, perm, mustObject(t, res)); err != nil || !d.Allowed {
			t.Fatalf("%s %s: %+v %v", perm, res, d, err)
		}
	}
	check("connect", "resource:ra1")
	first := cr.reads.Load()
	if first == 0 || req.Len() == 0 {
		t.Fatalf("reads %d, memo %d", first, req.Len())
	}
	check("connect", "resource:ra1")
	if n := cr.reads.Load(); n != first {
		t.Fatalf("repeated check read %d more tuples", n-first)
	}
	// A sibling resource reuses everything above its project link.
	before := cr.reads.Load()
	if _, err := e.Check(context.Background(), pa, "manage", mustObject(t, "resource:ra2")); err != nil {
		t.Fatal(err)
	}
	cold := cr.reads.Load() - before
	before = cr.reads.Load()
	check("manage", "resource:ra2")
	if warm := cr.reads.Load() - before; warm > 6 || warm >= cold {
		t.Errorf("sibling check read %d tuples (%d cold); the domain and platform levels were not reused", warm, cold)
	}
	// Without the request, nothing is shared.
	before = cr.reads.Load()
	if _, err := e.Check(context.Background(), pa, "connect", mustObject(t, "resource:ra1")); err != nil {
		t.Fatal(err)
	}
	if cr.reads.Load() == before {
		t.Error("a check without a request hit a memo")
	}
	// Another engine ignores this engine's request.
	other, _ := New(Config{Schema: s, Tuples: cr})
	before = cr.reads.Load()
	if _, err := other.Check(ctx, pa, "connect", mustObject(t, "resource:ra1")); err != nil {
		t.Fatal(err)
	}
	if cr.reads.Load() == before {
		t.Error("another engine used the request's memo")
	}
}

func TestFailsClosed(t *testing.T) {
	s := DefaultSchema()
	_, m := newTestEngine(t, s, defaultFixture, 0)
	boom := errors.New("database gone")
	e, _ := New(Config{Schema: s, Tuples: &countingReader{TupleReader: m, fail: boom}})
	ctx := context.Background()
	d, err := e.Check(ctx, ObjectRef{"user", "pa"}.Subject(), "read", Platform)
	if !errors.Is(err, boom) || d.Allowed {
		t.Fatalf("check with a failing reader: %+v, %v", d, err)
	}
	if _, err := e.LookupSubjects(ctx, Platform, "read", SubjectType{Type: "user"}); !errors.Is(err, boom) {
		t.Fatalf("lookup subjects: %v", err)
	}
	if _, err := e.Expand(ctx, Platform, "read", 0); !errors.Is(err, boom) {
		t.Fatalf("expand: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	e, _ = New(Config{Schema: s, Tuples: m})
	if d, err := e.Check(cancelled, ObjectRef{"user", "pa"}.Subject(), "read", Platform); !errors.Is(err, context.Canceled) || d.Allowed {
		t.Fatalf("cancelled check: %+v, %v", d, err)
	}
	if _, err := e.LookupResources(cancelled, ObjectRef{"user", "pa"}.Subject(), "read", "resource"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled lookup: %v", err)
	}
}

func TestCheckRejectsBadInput(t *testing.T) {
	e, _ := newTestEngine(t, DefaultSchema(), defaultFixture, 0)
	ctx := context.Background()
	u := ObjectRef{"user", "u"}.Subject()
	tests := []struct {
		subject  SubjectRef
		perm     string
		resource ObjectRef
		want     error
	}{
		{u, "read", ObjectRef{"planet", "x"}, ErrUnknownType},
		{u, "fly", ObjectRef{"project", "x"}, ErrUnknownRelation},
		{u, "read", ObjectRef{"project", ""}, ErrInvalidRef},
		{u, "read", ObjectRef{"platform", "other"}, ErrInvalidRef},
		{u, "read", ObjectRef{"project", "a b"}, ErrInvalidRef},
		{ObjectRef{"alien", "x"}.Subject(), "read", ObjectRef{"project", "x"}, ErrUnknownType},
		{ObjectRef{"group", "g"}.Userset("owner"), "read", ObjectRef{"project", "x"}, ErrUnknownRelation},
	}
	for _, tc := range tests {
		if _, err := e.Check(ctx, tc.subject, tc.perm, tc.resource); !errors.Is(err, tc.want) {
			t.Errorf("check %s %s %s: err = %v, want %v", tc.subject, tc.perm, tc.resource, err, tc.want)
		}
	}
	if _, err := e.LookupResources(ctx, u, "read", "planet"); !errors.Is(err, ErrUnknownType) {
		t.Errorf("lookup resources of an unknown type: %v", err)
	}
	if _, err := e.LookupResources(ctx, u, "fly", "project"); !errors.Is(err, ErrUnknownRelation) {
		t.Errorf("lookup resources of an unknown relation: %v", err)
	}
	if _, err := e.LookupSubjects(ctx, ObjectRef{"project", "x"}, "read", SubjectType{Type: "group", Relation: "owner"}); !errors.Is(err, ErrUnknownRelation) {
		t.Errorf("lookup subjects of an unknown userset: %v", err)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Tuples: NewMemTuples()}, "Config.Schema"},
		{Config{Schema: DefaultSchema()}, "Config.Tuples"},
		{Config{Schema: DefaultSchema(), Tuples: NewMemTuples(), MaxDepth: -1}, "Config.MaxDepth"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error naming %s", tc.cfg, err, tc.want)
		}
	}
}

func TestCheckMany(t *testing.T) {
	e, _ := newTestEngine(t, DefaultSchema(), defaultFixture, 0)
	ctx := context.Background()
	rows := []ObjectRef{{"resource", "ra1"}, {"resource", "ra2"}, {"resource", "rb1"}, {"node", "na1"}}
	got, err := e.CheckMany(ctx, ObjectRef{"user", "pv"}.Subject(), "read", rows)
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, false, false, true}; !slices.Equal(got, want) {
		t.Errorf("CheckMany = %v, want %v", got, want)
	}
	for i, res := range rows {
		d, err := e.Check(ctx, ObjectRef{"user", "pv"}.Subject(), "read", res)
		if err != nil || d.Allowed != got[i] {
			t.Errorf("Check %s = %v, %v; CheckMany said %v", res, d.Allowed, err, got[i])
		}
	}
	// Rows of different types each use their own type's permission: with
	// the project first, evaluating the resource and the node through the
	// project's rewrite of read would find no viewer on them (mutation:
	// resolve every row's permission from the first row's type → the
	// resource and the node come back false).
	mixed := []ObjectRef{{"project", "a1"}, {"resource", "ra1"}, {"node", "na1"}}
	got, err = e.CheckMany(ctx, ObjectRef{"user", "pv"}.Subject(), "read", mixed)
	if err != nil || !slices.Equal(got, []bool{true, true, true}) {
		t.Errorf("CheckMany over project, resource, node = %v, %v; want all true", got, err)
	}
	if _, err := e.CheckMany(ctx, ObjectRef{"user", "pv"}.Subject(), "read", []ObjectRef{{"group", "g"}}); !errors.Is(err, ErrUnknownRelation) {
		t.Errorf("CheckMany over a type without the permission: %v", err)
	}
}
