package authz

import (
	"context"
	"slices"
	"testing"
)

// defaultFixture is a small plexsphere: two domains (a with projects a1 and
// a2, b with b1), one resource per project, nodes, project children, and
// nested groups with a membership cycle (ops ∋ oncall ∋ ops).
var defaultFixture = []string{
	"platform#admin@group:platform-admins#member",
	"group:platform-admins#member@user:pa",
	"platform#auditor@user:paud",
	"domain:a#platform@platform",
	"domain:b#platform@platform",
	"domain:a#admin@user:da",
	"domain:a#auditor@user:daud",
	"domain:a#member@user:dm",
	"domain:a#emergency_approver@user:eap",
	"project:a1#domain@domain:a",
	"project:a2#domain@domain:a",
	"project:b1#domain@domain:b",
	"project:a1#viewer@user:pv",
	"project:a1#operator@group:ops#member",
	"group:ops#member@group:oncall#member",
	"group:oncall#member@user:oncall",
	"group:oncall#member@group:ops#member",
	"project:a1#admin@service_identity:ci",
	"resource:ra1#project@project:a1",
	"resource:ra2#project@project:a2",
	"resource:rb1#project@project:b1",
	"resource:ra2#operator@user:ro",
	"node:na1#project@project:a1",
	"node:na1#resource@resource:ra1",
	"node:na1#agent@node:na1",
	"node:nb1#project@project:b1",
	"policy:pol1#project@project:a1",
	"secret:s1#project@project:a1",
	"session:ss1#project@project:a1",
	"session:ss1#owner@user:pv",
	"execution:x1#project@project:a1",
}

func mustTuple(t testing.TB, s *Schema, str string) Tuple {
	t.Helper()
	tu, err := ParseTuple(str)
	if err != nil {
		t.Fatal(err)
	}
	if s != nil {
		if err := s.ValidateTuple(tu); err != nil {
			t.Fatal(err)
		}
	}
	return tu
}

func mustSubject(t testing.TB, s string) SubjectRef {
	t.Helper()
	r, err := ParseSubjectRef(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustObject(t testing.TB, s string) ObjectRef {
	t.Helper()
	r, err := ParseObjectRef(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newTestEngine(t testing.TB, s *Schema, tuples []string, maxDepth int) (*Engine, *MemTuples) {
	t.Helper()
	m := NewMemTuples()
	for _, str := range tuples {
		if err := m.Add(mustTuple(t, s, str)); err != nil {
			t.Fatal(err)
		}
	}
	e, err := New(Config{Schema: s, Tuples: m, MaxDepth: maxDepth})
	if err != nil {
		t.Fatal(err)
	}
	return e, m
}

func TestDefaultSchemaChecks(t *testing.T) {
	e, _ := newTestEngine(t, DefaultSchema(), defaultFixture, 0)
	tests := []struct {
		subject, permission, resource string
		want                          bool
	}{
		// A platform admin (through a group) reaches everything.
		{"user:pa", "manage", "platform", true},
		{"user:pa", "read", "platform", true},
		{"user:pa", "auditor", "platform", true},
		{"user:pa", "admin", "domain:a", true},
		{"user:pa", "manage", "domain:b", true},
		{"user:pa", "approve", "domain:a", true},
		{"user:pa", "manage", "project:b1", true},
		{"user:pa", "connect", "resource:rb1", true},
		{"user:pa", "node-operate", "node:nb1", true},
		{"user:pa", "manage", "secret:s1", true},
		{"user:pa", "manage", "policy:pol1", true},
		{"user:pa", "manage", "execution:x1", true},
		// The platform auditor reads and audits everything, changes nothing.
		{"user:paud", "read", "platform", true},
		{"user:paud", "manage", "platform", false},
		{"user:paud", "auditor", "domain:b", true},
		{"user:paud", "read", "domain:b", true},
		{"user:paud", "manage", "domain:b", false},
		{"user:paud", "read", "project:b1", true},
		{"user:paud", "manage", "project:b1", false},
		{"user:paud", "observe", "resource:rb1", true},
		{"user:paud", "connect", "resource:rb1", false},
		{"user:paud", "read", "node:nb1", true},
		// A domain admin of a reaches a's projects and below, nothing of b.
		{"user:da", "manage", "domain:a", true},
		{"user:da", "auditor", "domain:a", true},
		{"user:da", "manage", "project:a1", true},
		{"user:da", "deploy", "project:a2", true},
		{"user:da", "connect", "resource:ra1", true},
		{"user:da", "node-operate", "node:na1", true},
		{"user:da", "manage", "secret:s1", true},
		{"user:da", "read", "domain:b", false},
		{"user:da", "read", "project:b1", false},
		{"user:da", "observe", "resource:rb1", false},
		{"user:da", "read", "node:nb1", false},
		{"user:da", "manage", "platform", false},
		{"user:da", "read", "platform", false},
		// Domain member and viewer roles stay at the domain.
		{"user:dm", "read", "domain:a", true},
		{"user:dm", "domain-view", "domain:a", true},
		{"user:dm", "domain-edit", "domain:a", true},
		{"user:dm", "manage", "domain:a", false},
		{"user:dm", "read", "project:a1", false},
		// A domain auditor reads the domain's projects and resources.
		{"user:daud", "auditor", "domain:a", true},
		{"user:daud", "read", "project:a1", true},
		{"user:daud", "observe", "project:a1", true},
		{"user:daud", "observe", "resource:ra1", true},
		{"user:daud", "manage", "project:a1", false},
		{"user:daud", "auditor", "domain:b", false},
		{"user:eap", "approve", "domain:a", true},
		{"user:eap", "manage", "domain:a", false},
		// A project viewer reads but does not manage.
		{"user:pv", "read", "project:a1", true},
		{"user:pv", "observe", "project:a1", true},
		{"user:pv", "manage", "project:a1", false},
		{"user:pv", "deploy", "project:a1", false},
		{"user:pv", "dispatch", "project:a1", false},
		{"user:pv", "observe", "resource:ra1", true},
		{"user:pv", "connect", "resource:ra1", false},
		{"user:pv", "read", "node:na1", true},
		{"user:pv", "node-operate", "node:na1", false},
		{"user:pv", "read", "policy:pol1", true},
		{"user:pv", "manage", "policy:pol1", false},
		{"user:pv", "read", "secret:s1", false},
		{"user:pv", "manage", "session:ss1", true},
		{"user:pv", "read", "project:a2", false},
		{"user:pv", "read", "domain:a", false},
		// Nested (and cyclic) group membership grants operator.
		{"user:oncall", "operator", "project:a1", true},
		{"user:oncall", "dispatch", "project:a1", true},
		{"user:oncall", "deploy", "project:a1", true},
		{"user:oncall", "connect", "resource:ra1", true},
		{"user:oncall", "node-agent", "node:na1", true},
		{"user:oncall", "node-operate", "node:na1", true},
		{"user:oncall", "manage", "policy:pol1", true},
		{"user:oncall", "read", "secret:s1", true},
		{"user:oncall", "manage", "secret:s1", false},
		{"user:oncall", "manage", "project:a1", false},
		{"user:oncall", "connect", "resource:ra2", false},
		{"group:ops#member", "dispatch", "project:a1", true},
		{"group:oncall#member", "member", "group:ops", true},
		// Service identities are principals too.
		{"service_identity:ci", "admin", "project:a1", true},
		{"service_identity:ci", "manage", "secret:s1", true},
		{"service_identity:ci", "manage", "resource:ra1", true},
		{"service_identity:ci", "read", "project:a2", false},
		// A resource-level grant stays on the resource.
		{"user:ro", "connect", "resource:ra2", true},
		{"user:ro", "manage", "resource:ra2", false},
		{"user:ro", "read", "project:a2", false},
		// A node acts on itself only.
		{"node:na1", "node-agent", "node:na1", true},
		{"node:na1", "node-agent", "node:nb1", false},
		{"node:na1", "node-operate", "node:na1", false},
		{"user:nobody", "read", "platform", false},
	}
	ctx := context.Background()
	for _, tc := range tests {
		d, err := e.Check(ctx, mustSubject(t, tc.subject), tc.permission, mustObject(t, tc.resource))
		if err != nil {
			t.Errorf("%s %s %s: %v", tc.subject, tc.permission, tc.resource, err)
			continue
		}
		if d.Allowed != tc.want {
			t.Errorf("%s %s %s = %v (%s %v), want %v", tc.subject, tc.permission, tc.resource,
				d.Allowed, d.Reason, d.RelationPath(), tc.want)
		}
	}
}

func TestDefaultSchemaDecisionPathAndReason(t *testing.T) {
	e, _ := newTestEngine(t, DefaultSchema(), defaultFixture, 0)
	ctx := context.Background()
	tests := []struct {
		subject, permission, resource string
		reason                        Reason
		path                          []string
	}{
		{"user:pa", "connect", "resource:rb1", ReasonGranted, []string{
			"resource:rb1#connect", "resource:rb1#operator", "resource:rb1#admin", "resource:rb1#project",
			"project:b1#admin", "project:b1#domain", "domain:b#admin", "domain:b#platform",
			"platform#manage", "platform#admin", "group:platform-admins#member",
		}},
		{"user:oncall", "connect", "resource:ra1", ReasonGranted, []string{
			"resource:ra1#connect", "resource:ra1#operator", "resource:ra1#project",
			"project:a1#operator", "group:ops#member", "group:oncall#member",
		}},
		// The stored tuple names the userset itself.
		{"group:ops#member", "dispatch", "project:a1", ReasonGranted, []string{
			"project:a1#dispatch", "project:a1#operator",
		}},
		// A userset holds its own relation.
		{"project:a1#admin", "manage", "project:a1", ReasonGranted, []string{
			"project:a1#manage", "project:a1#admin",
		}},
		// Denied, but the viewer holds viewer: insufficient_relation with its path.
		{"user:pv", "manage", "project:a1", ReasonInsufficientRelation, []string{"project:a1#viewer"}},
		// Denied with nothing held: out_of_scope, empty path.
		{"user:da", "read", "project:b1", ReasonOutOfScope, []string{}},
	}
	for _, tc := range tests {
		d, err := e.Check(ctx, mustSubject(t, tc.subject), tc.permission, mustObject(t, tc.resource))
		if err != nil {
			t.Fatal(err)
		}
		if d.Reason != tc.reason || !slices.Equal(d.RelationPath(), tc.path) {
			t.Errorf("%s %s %s = %s %q, want %s %q", tc.subject, tc.permission, tc.resource,
				d.Reason, d.RelationPath(), tc.reason, tc.path)
		}
	}
}

func TestDefaultSchemaLookups(t *testing.T) {
	e, _ := newTestEngine(t, DefaultSchema(), defaultFixture, 0)
	ctx := context.Background()
	resources := []struct {
		subject, permission, typ string
		want                     []string
	}{
		{"user:pa", "connect", "resource", []string{"resource:ra1", "resource:ra2", "resource:rb1"}},
		{"user:da", "observe", "resource", []string{"resource:ra1", "resource:ra2"}},
		{"user:oncall", "connect", "resource", []string{"resource:ra1"}},
		{"user:ro", "connect", "resource", []string{"resource:ra2"}},
		{"user:paud", "read", "domain", []string{"domain:a", "domain:b"}},
		{"user:pv", "read", "project", []string{"project:a1"}},
		{"user:pa", "manage", "platform", []string{"platform"}},
		{"user:nobody", "read", "project", []string{}},
	}
	for _, tc := range resources {
		got, err := e.LookupResources(ctx, mustSubject(t, tc.subject), tc.permission, tc.typ)
		if err != nil {
			t.Fatal(err)
		}
		if s := refStrings(got); !slices.Equal(s, tc.want) {
			t.Errorf("lookup resources %s %s %s = %q, want %q", tc.subject, tc.permission, tc.typ, s, tc.want)
		}
	}
	subjects := []struct {
		resource, permission, st string
		want                     []string
	}{
		{"project:a1", "dispatch", "user", []string{"user:da", "user:oncall", "user:pa"}},
		{"project:a1", "dispatch", "service_identity", []string{"service_identity:ci"}},
		{"project:a1", "dispatch", "group#member", []string{"group:oncall#member", "group:ops#member", "group:platform-admins#member"}},
		{"node:na1", "node-agent", "node", []string{"node:na1"}},
		{"secret:s1", "manage", "user", []string{"user:da", "user:pa"}},
	}
	for _, tc := range subjects {
		st, err := ParseSubjectType(tc.st)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.LookupSubjects(ctx, mustObject(t, tc.resource), tc.permission, st)
		if err != nil {
			t.Fatal(err)
		}
		if s := refStrings(got); !slices.Equal(s, tc.want) {
			t.Errorf("lookup subjects %s %s %s = %q, want %q", tc.resource, tc.permission, tc.st, s, tc.want)
		}
	}
}

func refStrings[T interface{ String() string }](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = x.String()
	}
	return out
}

// TestDefaultSchemaShape pins the relations api.md §3.3 names.
func TestDefaultSchemaShape(t *testing.T) {
	s := DefaultSchema()
	want := map[string][]string{
		TypePlatform:  {"read", "manage", "auditor"},
		TypeDomain:    {"read", "manage", "admin", "member", "auditor", "approve", "emergency_approver", "domain-view", "domain-edit"},
		TypeProject:   {"read", "manage", "observe", "deploy", "operator", "admin", "dispatch"},
		TypeResource:  {"observe", "manage", "connect"},
		TypeNode:      {"read", "node-agent", "node-operate"},
		TypePolicy:    {"read", "edit", "manage"},
		TypeSecret:    {"read", "edit", "manage"},
		TypeSession:   {"read", "edit", "manage"},
		TypeExecution: {"read", "edit", "manage"},
		TypeGroup:     {"member"},
	}
	for typ, rels := range want {
		have, err := s.Relations(typ)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rels {
			if !slices.Contains(have, r) {
				t.Errorf("%s lacks %s (has %v)", typ, r, have)
			}
		}
	}
	for _, typ := range []string{TypeUser, TypeServiceIdentity} {
		if err := s.ValidateObject(ObjectRef{typ, "x"}); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
}
