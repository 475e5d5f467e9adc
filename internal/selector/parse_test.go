package selector

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func eq(k, v string) Node              { return Node{Op: OpEq, Key: k, Value: v} }
func neq(k, v string) Node             { return Node{Op: OpNeq, Key: k, Value: v} }
func in(k string, v ...string) Node    { return Node{Op: OpIn, Key: k, Values: v} }
func notin(k string, v ...string) Node { return Node{Op: OpNotIn, Key: k, Values: v} }
func exists(k string) Node             { return Node{Op: OpExists, Key: k} }
func absent(k string) Node             { return Node{Op: OpAbsent, Key: k} }
func and(c ...Node) Node               { return Node{Op: OpAnd, Children: c} }

func TestParseValid(t *testing.T) {
	tests := []struct {
		in    string
		canon string
		ast   Node
	}{
		{"", "", Node{Op: OpAnd}},
		{" \t\r\n ", "", Node{Op: OpAnd}},
		{"env=prod", "env=prod", eq("env", "prod")},
		{"env==prod", "env=prod", eq("env", "prod")},
		{" env != prod ", "env!=prod", neq("env", "prod")},
		{"platform/env in (b, a, b)", "platform/env in(a,b)", in("platform/env", "a", "b")},
		{"tier notin(web)", "tier notin(web)", notin("tier", "web")},
		{"tier\tnotin\n(\tweb , api )", "tier notin(api,web)", notin("tier", "api", "web")},
		{"gpu", "gpu", exists("gpu")},
		{"!gpu", "!gpu", absent("gpu")},
		{"! gpu", "!gpu", absent("gpu")},
		{"in in (notin, in)", "in in(in,notin)", in("in", "in", "notin")},
		{"notin=in", "notin=in", eq("notin", "in")},
		{"A1=B2", "A1=B2", eq("A1", "B2")},
		{"0=0", "0=0", eq("0", "0")},
		{"k=-", "k=-", eq("k", "-")},
		{"k=.x_Y-9", "k=.x_Y-9", eq("k", ".x_Y-9")},
		{
			" team.example/x-y = a_b.c-d , !legacy,zone in (eu-2,eu-1) ",
			"team.example/x-y=a_b.c-d,!legacy,zone in(eu-1,eu-2)",
			and(eq("team.example/x-y", "a_b.c-d"), absent("legacy"), in("zone", "eu-1", "eu-2")),
		},
		{"env=prod,env=prod", "env=prod,env=prod", and(eq("env", "prod"), eq("env", "prod"))},
		{"b,a", "b,a", and(exists("b"), exists("a"))},
		{strings.Repeat(" ", MaxLen-1) + "k", "k", exists("k")},
		{strings.Repeat("k", MaxKeyLen), strings.Repeat("k", MaxKeyLen), exists(strings.Repeat("k", MaxKeyLen))},
		{"k=" + strings.Repeat("v", MaxValueLen), "k=" + strings.Repeat("v", MaxValueLen), eq("k", strings.Repeat("v", MaxValueLen))},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%.40q", tt.in), func(t *testing.T) {
			s, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := s.String(); got != tt.canon {
				t.Errorf("String() = %q, want %q", got, tt.canon)
			}
			if got := s.AST(); !reflect.DeepEqual(got, tt.ast) {
				t.Errorf("AST() = %+v, want %+v", got, tt.ast)
			}
			if got, want := s.Empty(), tt.canon == ""; got != want {
				t.Errorf("Empty() = %v, want %v", got, want)
			}
			again, err := Parse(s.String())
			if err != nil || !again.Equal(s) {
				t.Errorf("Parse(String()) = %v, %v; want %v", again, err, s)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	long := strings.Repeat("k", MaxKeyLen+1)
	tests := []struct {
		in   string
		want []Issue
	}{
		{"env=", []Issue{{4, "missing value after '=' (values cannot be empty)"}}},
		{"env!=", []Issue{{5, "missing value after '!=' (values cannot be empty)"}}},
		{"env=,tier==", []Issue{
			{4, "missing value after '=' (values cannot be empty)"},
			{11, "missing value after '==' (values cannot be empty)"},
		}},
		{"=prod", []Issue{{0, "expected key or '!', found '='"}}},
		{"env=prod,", []Issue{{9, "expected key or '!', found end of selector"}}},
		{",env", []Issue{{0, "expected key or '!', found ','"}}},
		{"a=b,,c", []Issue{{4, "expected key or '!', found ','"}}},
		// After an error the next clause is still checked.
		{"a=b,,-c", []Issue{{4, "expected key or '!', found ','"}, {5, `key "-c" must start with a letter or digit`}}},
		{"!,-c", []Issue{{1, "expected key after '!', found ','"}, {2, `key "-c" must start with a letter or digit`}}},
		{"a=,-c", []Issue{{2, "missing value after '=' (values cannot be empty)"}, {3, `key "-c" must start with a letter or digit`}}},
		{"env=pr$od", []Issue{{6, "unexpected character '$'"}}},
		{"env=a/b", []Issue{{5, `invalid character '/' in value "a/b"`}}},
		{"k in (a/b, c/d)", []Issue{
			{7, `invalid character '/' in value "a/b"`},
			{12, `invalid character '/' in value "c/d"`},
		}},
		{"k in ()", []Issue{{6, "empty value list after 'in'"}}},
		{"k notin ( )", []Issue{{10, "empty value list after 'notin'"}}},
		{"k in (a,)", []Issue{{8, "expected value, found ')'"}}},
		{"k in a", []Issue{{5, `expected '(' after 'in', found "a"`}}},
		{"k in (a b)", []Issue{{8, `expected ',' or ')', found "b"`}}},
		{"k in (a", []Issue{{7, "expected ',' or ')', found end of selector"}}},
		{"k inn (a)", []Issue{{2, `expected '=', '!=', 'in', 'notin', ',' or end of selector, found "inn"`}}},
		{"k=v w", []Issue{{4, `expected ',' or end of selector, found "w"`}}},
		{"k=v " + strings.Repeat("w", 100), []Issue{{4, `expected ',' or end of selector, found "` + strings.Repeat("w", 32) + `"...`}}},
		{"!k=v", []Issue{{2, "expected ',' or end of selector, found '='"}}},
		{"!", []Issue{{1, "expected key after '!', found end of selector"}}},
		{"!!k", []Issue{{1, "expected key after '!', found '!'"}}},
		{"-env", []Issue{{0, `key "-env" must start with a letter or digit`}}},
		{"/a=b", []Issue{{0, `key "/a" must start with a letter or digit`}}},
		{"k===v", []Issue{{3, "expected value after '==', found '='"}}},
		{"k = = v", []Issue{{4, "expected value after '=', found '='"}}},
		{"é=1", []Issue{{0, "unexpected character 'é'"}}},
		{"k=\xff", []Issue{{2, "invalid UTF-8 byte 0xff"}}},
		{"k || j", []Issue{{2, "unexpected character '|'"}}},
		{"-a=b, c=d/e, f in ()", []Issue{
			{0, `key "-a" must start with a letter or digit`},
			{9, `invalid character '/' in value "d/e"`},
			{19, "empty value list after 'in'"},
		}},
		// Recovery inside a list skips to the comma after the ')'.
		{"k in (a, $, b), x=", []Issue{
			{9, "unexpected character '$'"},
			{18, "missing value after '=' (values cannot be empty)"},
		}},
		{long, []Issue{{0, "key is 129 bytes; the limit is 128"}}},
		{"k=" + strings.Repeat("v", MaxValueLen+1), []Issue{{2, "value is 257 bytes; the limit is 256"}}},
		{strings.Repeat(" ", MaxLen) + "k", []Issue{{MaxLen, "selector is 4097 bytes; the limit is 4096"}}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%.40q", tt.in), func(t *testing.T) {
			s, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse = %q, want error", s)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not *SyntaxError", err)
			}
			if got := se.Issues(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Issues() =\n%v\nwant\n%v", got, tt.want)
			}
			if !s.Empty() {
				t.Errorf("failed Parse returned non-empty selector %q", s)
			}
		})
	}
}

func TestClauseLimit(t *testing.T) {
	clauses := make([]string, MaxClauses+1)
	for i := range clauses {
		clauses[i] = fmt.Sprintf("k%d", i)
	}
	ok := strings.Join(clauses[:MaxClauses], ",")
	s, err := Parse(ok)
	if err != nil {
		t.Fatalf("Parse(%d clauses): %v", MaxClauses, err)
	}
	if n := len(s.Requirements()); n != MaxClauses {
		t.Fatalf("got %d requirements, want %d", n, MaxClauses)
	}
	_, err = Parse(ok + "," + clauses[MaxClauses])
	want := []Issue{{len(ok) + 1, "too many clauses; the limit is 64"}}
	if got := issues(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("issues = %v, want %v", got, want)
	}
}

func TestValueLimit(t *testing.T) {
	vals := make([]string, MaxValues+1)
	for i := range vals {
		vals[i] = fmt.Sprintf("v%d", i)
	}
	ok := "k in (" + strings.Join(vals[:MaxValues], ",") + ")"
	s, err := Parse(ok)
	if err != nil {
		t.Fatalf("Parse(%d values): %v", MaxValues, err)
	}
	if n := len(s.Requirements()[0].Values); n != MaxValues {
		t.Fatalf("got %d values, want %d", n, MaxValues)
	}
	prefix := "k in (" + strings.Join(vals[:MaxValues], ",") + ","
	_, err = Parse(prefix + vals[MaxValues] + "), j=")
	// The list error stops that clause; the next clause is still checked.
	want := []Issue{
		{len(prefix), "too many values in list; the limit is 64"},
		{len(prefix) + len(vals[MaxValues]) + 5, "missing value after '=' (values cannot be empty)"},
	}
	if got := issues(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("issues = %v, want %v", got, want)
	}
	// Duplicates count towards the limit as written.
	dup := "k in (" + strings.Repeat("a,", MaxValues) + "a)"
	if _, err := Parse(dup); err == nil {
		t.Errorf("Parse(%d copies of one value) succeeded, want limit error", MaxValues+1)
	}
}

func TestIssueCap(t *testing.T) {
	_, err := Parse(strings.Repeat("=,", 40))
	got := issues(t, err)
	if len(got) != maxIssues {
		t.Fatalf("got %d issues, want %d", len(got), maxIssues)
	}
	for i, is := range got {
		if is.Position != 2*i {
			t.Errorf("issue %d at %d, want %d", i, is.Position, 2*i)
		}
	}
}

func TestSyntaxErrorMessage(t *testing.T) {
	_, err := Parse("env=")
	if got, want := err.Error(), "selector: position 4: missing value after '=' (values cannot be empty)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	_, err = Parse("=,=,=")
	if got, want := err.Error(), "selector: position 0: expected key or '!', found '=' (and 2 more)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var se *SyntaxError
	errors.As(err, &se)
	se.Issues()[0].Position = 99
	if se.Issues()[0].Position != 0 {
		t.Error("Issues() exposes internal state")
	}
}

func issues(t *testing.T, err error) []Issue {
	t.Helper()
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error = %v, want *SyntaxError", err)
	}
	return se.Issues()
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParse(\"=\") did not panic")
		}
	}()
	MustParse("=")
}

// TestCanonicalWithinLimit checks that the canonical form of a selector
// written as tightly as possible at MaxLen still parses.
func TestCanonicalWithinLimit(t *testing.T) {
	vals := make([]string, 16)
	for i := range vals {
		n := 255
		if i == 0 {
			n = 250
		}
		vals[i] = strings.Repeat(string(rune('p'-i)), n) // written in descending order
	}
	expr := "k in(" + strings.Join(vals, ",") + ")"
	if len(expr) != MaxLen {
		t.Fatalf("test expression is %d bytes, want %d", len(expr), MaxLen)
	}
	s, err := Parse(expr)
	if err != nil {
		t.Fatal(err)
	}
	canon := s.String()
	if len(canon) != MaxLen {
		t.Errorf("canonical form is %d bytes, want %d", len(canon), MaxLen)
	}
	s2, err := Parse(canon)
	if err != nil || !s2.Equal(s) {
		t.Errorf("Parse(String()) = %v; want the same selector", err)
	}
}
