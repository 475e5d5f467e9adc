package authz

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseSubjectRef(t *testing.T) {
	tests := []struct {
		in   string
		want SubjectRef
		out  string
	}{
		{"user:0190a6c2-7d1e-7000-8000-000000000001", SubjectRef{Object: ObjectRef{"user", "0190a6c2-7d1e-7000-8000-000000000001"}}, ""},
		{"group:g1#member", SubjectRef{Object: ObjectRef{"group", "g1"}, Relation: "member"}, ""},
		{"platform", SubjectRef{Object: ObjectRef{"platform", "platform"}}, ""},
		{"platform:platform", SubjectRef{Object: Platform}, "platform"},
		{"platform#admin", SubjectRef{Object: Platform, Relation: "admin"}, ""},
		{"managementfleet:fleet", SubjectRef{Object: ObjectRef{"managementfleet", "fleet"}}, ""},
		{"domain:a#domain-view", SubjectRef{Object: ObjectRef{"domain", "a"}, Relation: "domain-view"}, ""},
		// Contract spellings of service identities (api.md §6).
		{"service:s1", SubjectRef{Object: ObjectRef{"service_identity", "s1"}}, "service_identity:s1"},
		{"service-identity:s1", SubjectRef{Object: ObjectRef{"service_identity", "s1"}}, "service_identity:s1"},
	}
	for _, tc := range tests {
		got, err := ParseSubjectRef(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%q = %+v, want %+v", tc.in, got, tc.want)
		}
		out := tc.out
		if out == "" {
			out = tc.in
		}
		if got.String() != out {
			t.Errorf("%q formats as %q, want %q", tc.in, got.String(), out)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{
		"", ":", "user", "user#member", "platform:", "user:", ":id", "User:x", "user:a b", "user:a:b", "user:x#", "user:x#Member",
		"user:x#a#b", "user:*", "user:a@b", "1user:x", "user:" + strings.Repeat("x", 257),
		strings.Repeat("t", 65) + ":x",
	} {
		if _, err := ParseSubjectRef(in); !errors.Is(err, ErrInvalidRef) {
			t.Errorf("ParseSubjectRef(%q) err = %v, want ErrInvalidRef", in, err)
		}
	}
	for _, in := range []string{"", "user:x#member", "user x", "project:"} {
		if _, err := ParseObjectRef(in); !errors.Is(err, ErrInvalidRef) {
			t.Errorf("ParseObjectRef(%q) err = %v, want ErrInvalidRef", in, err)
		}
	}
	for _, in := range []string{"", "domain:a#admin", "domain:a@user:u", "#admin@user:u", "domain:a#admin@", "domain:a#@user:u"} {
		if _, err := ParseTuple(in); !errors.Is(err, ErrInvalidRef) {
			t.Errorf("ParseTuple(%q) err = %v, want ErrInvalidRef", in, err)
		}
	}
	for _, in := range []string{"", "group#", "Group", "group#member#x"} {
		if _, err := ParseSubjectType(in); !errors.Is(err, ErrInvalidRef) {
			t.Errorf("ParseSubjectType(%q) err = %v, want ErrInvalidRef", in, err)
		}
	}
}

func TestParseTupleRoundTrip(t *testing.T) {
	for _, in := range []string{
		"domain:a#platform@platform",
		"project:p#viewer@group:g#member",
		"platform#admin@user:u",
		"node:n#agent@node:n",
	} {
		tu, err := ParseTuple(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if tu.String() != in {
			t.Errorf("%q round-trips as %q", in, tu.String())
		}
	}
	tu, _ := ParseTuple("project:p#viewer@group:g#member")
	want := Tuple{Resource: ObjectRef{"project", "p"}, Relation: "viewer", Subject: ObjectRef{"group", "g"}.Userset("member")}
	if tu != want {
		t.Errorf("parsed %+v, want %+v", tu, want)
	}
}

func TestRefJSON(t *testing.T) {
	type body struct {
		Resource ObjectRef  `json:"resource"`
		Subject  SubjectRef `json:"subject"`
	}
	in := body{Resource: Platform, Subject: ObjectRef{"group", "g"}.Userset("member")}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"resource":"platform","subject":"group:g#member"}`; got != want {
		t.Fatalf("json %s, want %s", got, want)
	}
	var out body
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Fatalf("unmarshal %+v, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"resource":"a b"}`), &out); !errors.Is(err, ErrInvalidRef) {
		t.Fatalf("bad ref unmarshalled: %v", err)
	}
}

// FuzzParseSubjectRef: whatever parses formats back to an equivalent reference.
func FuzzParseSubjectRef(f *testing.F) {
	for _, s := range []string{"user:u", "group:g#member", "platform", "platform#admin", "service:x", "a:b#c-d", "x:y:z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseSubjectRef(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidRef) {
				t.Fatalf("%q: error %v is not ErrInvalidRef", s, err)
			}
			return
		}
		again, err := ParseSubjectRef(r.String())
		if err != nil || again != r {
			t.Fatalf("%q → %q → %+v, %v", s, r.String(), again, err)
		}
	})
}

// FuzzParseTuple: whatever parses is valid and round-trips.
func FuzzParseTuple(f *testing.F) {
	for _, s := range []string{"domain:a#platform@platform", "project:p#viewer@group:g#member", "a#b@c", "x:y#z@w:v#u"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tu, err := ParseTuple(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidRef) {
				t.Fatalf("%q: error %v is not ErrInvalidRef", s, err)
			}
			return
		}
		if err := tu.Validate(); err != nil {
			t.Fatalf("%q parsed to an invalid tuple: %v", s, err)
		}
		again, err := ParseTuple(tu.String())
		if err != nil || again != tu {
			t.Fatalf("%q → %q → %+v, %v", s, tu.String(), again, err)
		}
	})
}
