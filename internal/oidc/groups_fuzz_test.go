package oidc

import (
	"regexp"
	"testing"
)

// groupSlugRE is the group slug form of api.md §2.6.
var groupSlugRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$`)

// FuzzGroupSlug: any groups-claim value (untrusted IdP input) yields a
// valid slug, and distinct values yield distinct slugs in practice.
func FuzzGroupSlug(f *testing.F) {
	for _, s := range []string{"ops", "dev team", "", "---", "Ünïcode Grüppe", "a/b\\c", string(make([]byte, 300))} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		s := groupSlug("b", v)
		if !groupSlugRE.MatchString(s) {
			t.Fatalf("groupSlug(%q) = %q is not a valid slug", v, s)
		}
		if v != "" && groupSlug("b", v+"x") == s {
			t.Fatalf("%q and %q share slug %q", v, v+"x", s)
		}
	})
}

func TestClaimStrings(t *testing.T) {
	for _, c := range []struct {
		in   any
		want int
	}{{"one", 1}, {[]any{"a", 2, "", "b"}, 2}, {map[string]any{}, 0}, {nil, 0}} {
		if got := strs(c.in); len(got) != c.want {
			t.Errorf("strs(%v) = %v", c.in, got)
		}
	}
}

// TestGroupSlugPerBinding: the same claim value from two bindings of one
// Domain must not collide on the (scope, slug) uniqueness.
func TestGroupSlugPerBinding(t *testing.T) {
	if groupSlug("binding-a", "ops") == groupSlug("binding-b", "ops") {
		t.Fatal("two bindings share the slug of one claim value")
	}
}
