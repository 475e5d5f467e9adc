package authz

import (
	"context"
	"slices"
	"testing"
)

// TestUsersetSubjectHoldsOnlyItsOwnObject checks a userset subject
// (group:a#member) as itself: it holds member on group:a and nothing it
// does not reach through stored tuples, in particular not group:b's member
// relation and not what group:b's members may do.
//
// Mutation (issue 17): drop `&& c.subject.Object == obj` from the
// self-check in checker.check → group:a#member holds member on every
// group, so it reaches doc:d through group:b, and this test fails.
func TestUsersetSubjectHoldsOnlyItsOwnObject(t *testing.T) {
	e, _ := newTestEngine(t, docSchema(t), []string{
		"doc:d#viewer@group:b#member",
		"group:b#member@user:bob",
	}, 0)
	ctx := context.Background()
	a := ObjectRef{"group", "a"}.Userset("member")
	b := ObjectRef{"group", "b"}.Userset("member")
	tests := []struct {
		subject  SubjectRef
		perm     string
		resource ObjectRef
		want     bool
	}{
		{a, "member", ObjectRef{"group", "a"}, true},
		{a, "member", ObjectRef{"group", "b"}, false},
		{a, "view", ObjectRef{"doc", "d"}, false},
		{b, "view", ObjectRef{"doc", "d"}, true},
	}
	for _, tc := range tests {
		d, err := e.Check(ctx, tc.subject, tc.perm, tc.resource)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed != tc.want {
			t.Errorf("Check(%s, %s, %s) = %v, want %v", tc.subject, tc.perm, tc.resource, d.Allowed, tc.want)
		}
	}
	got, err := e.CheckMany(ctx, a, "view", []ObjectRef{{"doc", "d"}})
	if err != nil || got[0] {
		t.Errorf("CheckMany(group:a#member, view, doc:d) = %v, %v; want false", got, err)
	}
}

// TestRequestMemoIsPerSubject: one Request (one API call's memo) serves
// checks for several subjects; a grant or a denial memoised for one never
// answers for another, in Check and in the list-filtering CheckMany.
//
// Mutation (issue 17): key the Request's memo by the request alone
// (r.memo[SubjectRef{}] in forSubject) → alice's memoised grant on doc:d
// filters dave's list, and this test fails.
func TestRequestMemoIsPerSubject(t *testing.T) {
	e, _ := newTestEngine(t, docSchema(t), []string{
		"doc:d#viewer@user:alice",
		"doc:e#viewer@user:dave",
	}, 0)
	docs := []ObjectRef{{"doc", "d"}, {"doc", "e"}}
	alice, dave := ObjectRef{"user", "alice"}.Subject(), ObjectRef{"user", "dave"}.Subject()
	for _, order := range [][]SubjectRef{{alice, dave}, {dave, alice}} {
		ctx := WithRequest(context.Background(), e.NewRequest())
		for _, s := range order {
			want := []bool{s == alice, s == dave}
			got, err := e.CheckMany(ctx, s, "view", docs)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("order %v: CheckMany(%s) = %v, want %v", order, s, got, want)
			}
			for i, doc := range docs {
				d, err := e.Check(ctx, s, "view", doc)
				if err != nil || d.Allowed != want[i] {
					t.Errorf("order %v: Check(%s, view, %s) = %v, %v; want %v", order, s, doc, d.Allowed, err, want[i])
				}
			}
		}
	}
}
