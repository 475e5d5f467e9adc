package selector

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestMatches(t *testing.T) {
	labels := map[string]string{
		"env":          "prod",
		"tier":         "web",
		"platform/env": "prod",
		"empty":        "",
	}
	tests := []struct {
		sel    string
		labels map[string]string
		want   bool
	}{
		{"", labels, true},
		{"", nil, true},
		{"env=prod", labels, true},
		{"env==prod", labels, true},
		{"env=dev", labels, false},
		{"missing=x", labels, false},
		{"env!=dev", labels, true},
		{"env!=prod", labels, false},
		{"missing!=x", labels, true},
		{"tier in (api, web)", labels, true},
		{"tier in (api)", labels, false},
		{"missing in (a)", labels, false},
		{"tier notin (api)", labels, true},
		{"tier notin (api,web)", labels, false},
		{"missing notin (a)", labels, true},
		{"empty", labels, true},
		{"!empty", labels, false},
		{"missing", labels, false},
		{"!missing", labels, true},
		{"platform/env=prod", labels, true},
		{"env=prod,tier=web,!missing", labels, true},
		{"env=prod,tier=api", labels, false},
		{"env=prod,env=dev", labels, false},
		{"!env", nil, true},
		{"env!=x", nil, true},
		{"env", nil, false},
		{"env in (prod)", nil, false},
	}
	for _, tt := range tests {
		s := MustParse(tt.sel)
		if got := s.Matches(tt.labels); got != tt.want {
			t.Errorf("Parse(%q).Matches(%v) = %v, want %v", tt.sel, tt.labels, got, tt.want)
		}
	}
}

func TestZeroSelector(t *testing.T) {
	var s Selector
	if !s.Empty() || !s.Matches(nil) || s.String() != "" || !s.Equal(MustParse("  ")) {
		t.Errorf("zero Selector is not the empty selector: %q", s)
	}
}

func TestASTJSON(t *testing.T) {
	tests := []struct{ sel, want string }{
		{"", `{"op":"and"}`},
		{"gpu", `{"op":"exists","key":"gpu"}`},
		{"a!=b", `{"op":"neq","key":"a","value":"b"}`},
		{
			"a=b, c in (y, x), d notin (z), !e",
			`{"op":"and","children":[` +
				`{"op":"eq","key":"a","value":"b"},` +
				`{"op":"in","key":"c","values":["x","y"]},` +
				`{"op":"notin","key":"d","values":["z"]},` +
				`{"op":"absent","key":"e"}]}`,
		},
	}
	for _, tt := range tests {
		got, err := json.Marshal(MustParse(tt.sel).AST())
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("AST(%q) JSON =\n%s\nwant\n%s", tt.sel, got, tt.want)
		}
	}
}

func TestRequirementsAreCopies(t *testing.T) {
	s := MustParse("k in (a,b),j=c")
	reqs := s.Requirements()
	if len(reqs) != 2 || reqs[0].Op != OpIn || !slices.Equal(reqs[0].Values, []string{"a", "b"}) ||
		reqs[1].Op != OpEq || !slices.Equal(reqs[1].Values, []string{"c"}) {
		t.Fatalf("Requirements() = %+v", reqs)
	}
	reqs[0].Values[0] = "z"
	reqs[1].Key = "x"
	if got := s.String(); got != "k in(a,b),j=c" {
		t.Errorf("mutating Requirements() changed the selector to %q", got)
	}
	ast := s.AST()
	ast.Children[0].Values[1] = "z"
	if got := s.String(); got != "k in(a,b),j=c" {
		t.Errorf("mutating AST() changed the selector to %q", got)
	}
}

func TestTextMarshaling(t *testing.T) {
	var v struct {
		S Selector `json:"s"`
	}
	if err := json.Unmarshal([]byte(`{"s":"b in (y, x), a == 1"}`), &v); err != nil {
		t.Fatal(err)
	}
	if got := v.S.String(); got != "b in(x,y),a=1" {
		t.Errorf("decoded selector = %q", got)
	}
	out, _ := json.Marshal(v)
	if string(out) != `{"s":"b in(x,y),a=1"}` {
		t.Errorf("encoded = %s", out)
	}
	err := json.Unmarshal([]byte(`{"s":"a="}`), &v)
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Errorf("decoding an invalid selector: error = %v, want *SyntaxError", err)
	}
}

// model is a selector clause as the generator wrote it, with an independent
// reference matcher.
type model struct {
	key    string
	op     Op
	values []string
}

func (m model) matches(labels map[string]string) bool {
	v, ok := labels[m.key]
	found := false
	for _, x := range m.values {
		if x == v {
			found = true
		}
	}
	switch m.op {
	case OpEq, OpIn:
		return ok && found
	case OpNeq, OpNotIn:
		return !ok || !found
	case OpExists:
		return ok
	default:
		return !ok
	}
}

var (
	genKeys   = []string{"env", "platform/env", "team.example/x-y", "in", "notin", "Z9", "a_b"}
	genValues = []string{"prod", "dev", "in", "a.b", "-", "X_1", "notin"}
	genSpace  = []string{"", "", " ", "\t", " \n "}
)

func generate(r *rand.Rand) (string, []model) {
	ws := func() string { return genSpace[r.IntN(len(genSpace))] }
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	n := r.IntN(6)
	var b strings.Builder
	var ms []model
	for i := range n {
		if i > 0 {
			b.WriteString(ws() + "," + ws())
		}
		m := model{key: pick(genKeys)}
		switch r.IntN(6) {
		case 0:
			m.op, m.values = OpEq, []string{pick(genValues)}
			b.WriteString(m.key + ws() + pick([]string{"=", "=="}) + ws() + m.values[0])
		case 1:
			m.op, m.values = OpNeq, []string{pick(genValues)}
			b.WriteString(m.key + ws() + "!=" + ws() + m.values[0])
		case 2, 3:
			m.op = OpIn
			if r.IntN(2) == 0 {
				m.op = OpNotIn
			}
			b.WriteString(m.key + " " + ws() + string(m.op) + ws() + "(" + ws())
			for j := range 1 + r.IntN(4) {
				if j > 0 {
					b.WriteString(ws() + "," + ws())
				}
				v := pick(genValues)
				m.values = append(m.values, v)
				b.WriteString(v)
			}
			b.WriteString(ws() + ")")
		case 4:
			m.op = OpExists
			b.WriteString(m.key)
		case 5:
			m.op = OpAbsent
			b.WriteString("!" + ws() + m.key)
		}
		ms = append(ms, m)
	}
	return ws() + b.String() + ws(), ms
}

// TestRoundTripProperty checks, over generated selectors, that parsing
// accepts every generated form, that the canonical form re-parses to an equal
// selector and is a fixed point, and that Matches agrees with a reference.
func TestRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		expr, ms := generate(r)
		s, err := Parse(expr)
		if err != nil {
			t.Fatalf("Parse(%q): %v", expr, err)
		}
		if got := len(s.Requirements()); got != len(ms) {
			t.Fatalf("Parse(%q) has %d clauses, want %d", expr, got, len(ms))
		}
		canon := s.String()
		if len(canon) > len(expr) {
			t.Fatalf("canonical %q is longer than input %q", canon, expr)
		}
		s2, err := Parse(canon)
		if err != nil || !s2.Equal(s) || s2.String() != canon {
			t.Fatalf("Parse(%q) = %q, %v; want %q", canon, s2, err, canon)
		}
		for range 8 {
			labels := map[string]string{}
			for _, k := range genKeys {
				if r.IntN(2) == 0 {
					labels[k] = genValues[r.IntN(len(genValues))]
				}
			}
			want := true
			for _, m := range ms {
				want = want && m.matches(labels)
			}
			if got := s.Matches(labels); got != want {
				t.Fatalf("Parse(%q).Matches(%v) = %v, want %v", expr, labels, got, want)
			}
		}
	}
}

func ExampleParse() {
	s, err := Parse("platform/env = prod, tier in (web, api), !quarantined")
	if err != nil {
		panic(err)
	}
	fmt.Println(s)
	fmt.Println(s.Matches(map[string]string{"platform/env": "prod", "tier": "api"}))
	fmt.Println(s.Matches(map[string]string{"platform/env": "prod", "tier": "api", "quarantined": "yes"}))

	_, err = Parse("env=prod, tier in ()")
	for _, is := range err.(*SyntaxError).Issues() {
		fmt.Println(is.Position, is.Message)
	}
	// Output:
	// platform/env=prod,tier in(api,web),!quarantined
	// true
	// false
	// 19 empty value list after 'in'
}
