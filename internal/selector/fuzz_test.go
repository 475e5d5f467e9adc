package selector

import (
	"errors"
	"reflect"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"",
		"env=prod",
		"env==prod,tier!=web",
		"platform/env in (b, a, b)",
		"k notin(x),!y,z",
		"in in (in, notin)",
		"k in (a, $, b), x=",
		"-a=b, c=d/e, f in ()",
		"é=1",
		"k=\xff",
		"!!k",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := Parse(expr)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not *SyntaxError", err)
			}
			is := se.Issues()
			if len(is) == 0 || len(is) > maxIssues {
				t.Fatalf("%d issues", len(is))
			}
			for i, x := range is {
				if x.Position < 0 || x.Position > len(expr) || x.Message == "" {
					t.Fatalf("bad issue %+v for %d-byte input", x, len(expr))
				}
				if i > 0 && x.Position < is[i-1].Position {
					t.Fatalf("issues out of order: %v", is)
				}
			}
			if !s.Empty() {
				t.Fatalf("failed Parse returned %q", s)
			}
			return
		}
		canon := s.String()
		if len(canon) > len(expr) {
			t.Fatalf("canonical %q longer than input %q", canon, expr)
		}
		s2, err := Parse(canon)
		if err != nil {
			t.Fatalf("Parse(String()) = %v for %q", err, canon)
		}
		if !reflect.DeepEqual(s.AST(), s2.AST()) || !s.Equal(s2) || s2.String() != canon {
			t.Fatalf("round trip of %q changed %+v to %+v", canon, s.AST(), s2.AST())
		}

		// Matches must not panic and must be the conjunction of the
		// requirements. Try label sets built from the selector itself.
		reqs := s.Requirements()
		sets := []map[string]string{nil, {}, {}, {}}
		for _, r := range reqs {
			sets[1][r.Key] = ""
			if len(r.Values) > 0 {
				sets[2][r.Key] = r.Values[0]
				sets[3][r.Key] = r.Values[len(r.Values)-1] + "x"
			}
		}
		for _, labels := range sets {
			want := true
			for _, r := range reqs {
				want = want && r.Matches(labels)
			}
			if got := s.Matches(labels); got != want {
				t.Fatalf("Matches(%v) = %v, want %v", labels, got, want)
			}
		}
	})
}
