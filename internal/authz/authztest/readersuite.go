// Package authztest holds test helpers for implementations and consumers of
// package authz: a compliance suite that every [authz.TupleReader] (the
// in-memory index, or a future SQL-backed reader) must pass.
package authztest

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/authz"
)

// OpenFunc returns a reader holding exactly tuples.
type OpenFunc func(t *testing.T, tuples []authz.Tuple) authz.TupleReader

// suiteTuples covers singletons, usersets, several relations between the
// same objects, and the same subject as object and as userset.
var suiteTuples = []string{
	"domain:a#platform@platform",
	"domain:b#platform@platform",
	"domain:a#admin@user:u",
	"domain:a#admin@group:g#member",
	"domain:a#member@user:u",
	"domain:b#admin@group:g#member",
	"group:g#member@user:u",
	"group:g#member@group:h#member",
	"project:p#domain@domain:a",
	"project:p#viewer@group:g",
}

// TestTupleReader runs the compliance suite against readers made by open.
func TestTupleReader(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	var ts []authz.Tuple
	for _, s := range suiteTuples {
		tu, err := authz.ParseTuple(s)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tu)
	}
	r := open(t, ts)
	t.Run("HasTuple", func(t *testing.T) {
		for _, tu := range ts {
			if ok, err := r.HasTuple(ctx, tu.Resource, tu.Relation, tu.Subject); err != nil || !ok {
				t.Errorf("HasTuple(%s) = %v, %v", tu, ok, err)
			}
		}
		for _, s := range []string{
			"domain:a#admin@group:g",          // object, not the stored userset
			"project:p#viewer@group:g#member", // userset, not the stored object
			"domain:b#member@user:u",
			"domain:a#admin@user:v",
			"domain:c#platform@platform",
		} {
			tu := mustParse(t, s)
			if ok, err := r.HasTuple(ctx, tu.Resource, tu.Relation, tu.Subject); err != nil || ok {
				t.Errorf("HasTuple(%s) = %v, %v; not stored", s, ok, err)
			}
		}
	})
	t.Run("SubjectsOf", func(t *testing.T) {
		check(t, "SubjectsOf(domain:a#admin)", call(r.SubjectsOf(ctx, obj("domain", "a"), "admin")), "group:g#member", "user:u")
		check(t, "SubjectsOf(domain:a#platform)", call(r.SubjectsOf(ctx, obj("domain", "a"), "platform")), "platform")
		check(t, "SubjectsOf(domain:a#viewer)", call(r.SubjectsOf(ctx, obj("domain", "a"), "viewer")))
	})
	t.Run("UsersetsOf", func(t *testing.T) {
		check(t, "UsersetsOf(domain:a#admin)", call(r.UsersetsOf(ctx, obj("domain", "a"), "admin")), "group:g#member")
		check(t, "UsersetsOf(group:g#member)", call(r.UsersetsOf(ctx, obj("group", "g"), "member")), "group:h#member")
		check(t, "UsersetsOf(project:p#viewer)", call(r.UsersetsOf(ctx, obj("project", "p"), "viewer")))
	})
	t.Run("ResourcesOf", func(t *testing.T) {
		g := obj("group", "g")
		check(t, "ResourcesOf(domain#admin, group:g#member)", call(r.ResourcesOf(ctx, "domain", "admin", g.Userset("member"))), "domain:a", "domain:b")
		check(t, "ResourcesOf(project#viewer, group:g)", call(r.ResourcesOf(ctx, "project", "viewer", g.Subject())), "project:p")
		check(t, "ResourcesOf(project#viewer, group:g#member)", call(r.ResourcesOf(ctx, "project", "viewer", g.Userset("member"))))
		check(t, "ResourcesOf(domain#platform, platform)", call(r.ResourcesOf(ctx, "domain", "platform", authz.Platform.Subject())), "domain:a", "domain:b")
		check(t, "ResourcesOf(group#admin, user:u)", call(r.ResourcesOf(ctx, "group", "admin", obj("user", "u").Subject())))
	})
	t.Run("Engine", func(t *testing.T) {
		e, err := authz.New(authz.Config{Schema: authz.DefaultSchema(), Tuples: r})
		if err != nil {
			t.Fatal(err)
		}
		d, err := e.Check(ctx, obj("user", "u").Subject(), "read", obj("project", "p"))
		if err != nil || !d.Allowed {
			t.Errorf("a domain admin cannot read its project: %+v, %v", d, err)
		}
	})
}

func obj(typ, id string) authz.ObjectRef { return authz.ObjectRef{Type: typ, ID: id} }

func mustParse(t *testing.T, s string) authz.Tuple {
	t.Helper()
	tu, err := authz.ParseTuple(s)
	if err != nil {
		t.Fatal(err)
	}
	return tu
}

type result struct {
	got []string
	err error
}

// call renders a reader answer as sorted strings.
func call[T interface{ String() string }](xs []T, err error) result {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = x.String()
	}
	slices.Sort(out)
	return result{out, err}
}

func check(t *testing.T, what string, r result, want ...string) {
	t.Helper()
	if r.err != nil {
		t.Errorf("%s: %v", what, r.err)
		return
	}
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(r.got, want) {
		t.Errorf("%s = [%s], want [%s]", what, strings.Join(r.got, " "), strings.Join(want, " "))
	}
}
