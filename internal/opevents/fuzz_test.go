package opevents

import (
	"slices"
	"testing"
)

// FuzzParseTypes: any types filter either fails with a problem or yields
// known, distinct types.
func FuzzParseTypes(f *testing.F) {
	for _, s := range []string{"", "node_registered", "audit_appended, node_deleted", ",,", "nope", "node_registered,node_registered"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTypes(s)
		if err != nil {
			if got != nil {
				t.Fatalf("error with types %v", got)
			}
			return
		}
		for i, typ := range got {
			if !slices.Contains(Types, typ) || slices.Contains(got[:i], typ) {
				t.Fatalf("%q: %v", s, got)
			}
		}
	})
}
