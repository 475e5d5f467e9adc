package canonjson

import (
	"encoding/json"
	"strings"
	"testing"
)

// entry mirrors the hashed part of an audit entry (api.md §3.11).
type entry struct {
	Seq           int64
	DomainID      string
	OccurredAt    string
	Action        string
	Outcome       string
	Reason        string
	Pseudonym     string
	Relation      string
	ObjectType    string
	ObjectID      string
	Result        string
	CaveatContext []string
	CorrelationID string
	IP            string
	UserAgent     string
}

var sample = entry{
	Seq:           1234567,
	DomainID:      "0190f5b2-7c1e-7a3b-9f00-3c2d1e0f4a5b",
	OccurredAt:    "2025-01-02T03:04:05.678901Z",
	Action:        "secret.read",
	Outcome:       "allowed",
	Reason:        "rebac: viewer via group \"ops\"",
	Pseudonym:     "p_7f3a9c",
	Relation:      "viewer",
	ObjectType:    "secret",
	ObjectID:      "0190f5b2-0000-7000-8000-000000000001",
	Result:        "allow",
	CaveatContext: []string{"source_ip", "time_of_day"},
	CorrelationID: "01J9ZK3Q4W5E6R7T8Y9U0I1O2P",
	IP:            "192.0.2.10",
	UserAgent:     "plexctl/1.4.0 (linux; amd64) \u2028<>",
}

// appendEntry writes e with the append API, members in canonical order.
func appendEntry(dst []byte, e *entry) []byte {
	o := NewObject(dst)
	o.String("action", e.Action)
	o.String("correlation_id", e.CorrelationID)
	d := o.BeginObject("decision")
	d.Strings("caveat_context", e.CaveatContext)
	d.String("result", e.Result)
	o.EndObject(&d)
	o.String("domain_id", e.DomainID)
	obj := o.BeginObject("object")
	obj.String("id", e.ObjectID)
	obj.String("type", e.ObjectType)
	o.EndObject(&obj)
	o.String("occurred_at", e.OccurredAt)
	o.String("outcome", e.Outcome)
	o.String("reason", e.Reason)
	o.String("relation", e.Relation)
	rc := o.BeginObject("request_context")
	rc.String("ip", e.IP)
	rc.String("user_agent", e.UserAgent)
	o.EndObject(&rc)
	o.Int("seq", e.Seq)
	s := o.BeginObject("subject")
	s.String("pseudonym", e.Pseudonym)
	o.EndObject(&s)
	return o.End()
}

// asMap is the same entry as generic data, for encoding/json.
func asMap(e *entry) map[string]any {
	return map[string]any{
		"seq": e.Seq, "domain_id": e.DomainID, "occurred_at": e.OccurredAt,
		"action": e.Action, "outcome": e.Outcome, "reason": e.Reason,
		"subject":         map[string]any{"pseudonym": e.Pseudonym},
		"relation":        e.Relation,
		"object":          map[string]any{"type": e.ObjectType, "id": e.ObjectID},
		"decision":        map[string]any{"result": e.Result, "caveat_context": e.CaveatContext},
		"correlation_id":  e.CorrelationID,
		"request_context": map[string]any{"ip": e.IP, "user_agent": e.UserAgent},
	}
}

func TestObjectMatchesCanonicalize(t *testing.T) {
	got := appendEntry([]byte("prefix:"), &sample)
	if !strings.HasPrefix(string(got), "prefix:") {
		t.Fatalf("Object did not append to dst: %q", got)
	}
	got = got[len("prefix:"):]
	want, err := Marshal(asMap(&sample))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("Object =\n%s\nCanonicalize =\n%s", got, want)
	}
	if c, err := Canonicalize(got); err != nil || string(c) != string(got) {
		t.Errorf("Object output is not canonical: %s, %v", c, err)
	}
}

func TestObjectScalars(t *testing.T) {
	o := NewObject(nil)
	o.Bool("a", true)
	o.Bool("b", false)
	o.Int("c", -7)
	o.Null("d")
	o.Raw("e", []byte(`[1,{"x":2}]`))
	o.Strings("f", nil)
	o.String("g\n", "\x00")
	o.String("\u00e9", "é")
	o.String("\U0001F600", "")
	o.String("\ufb33", "")
	got := string(o.End())
	want := "{\"a\":true,\"b\":false,\"c\":-7,\"d\":null,\"e\":[1,{\"x\":2}],\"f\":[],\"g\\n\":\"\\u0000\",\"é\":\"é\",\"😀\":\"\",\"\ufb33\":\"\"}"
	if got != want {
		t.Errorf("Object =\n%s\nwant\n%s", got, want)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(got), &v); err != nil || len(v) != 10 {
		t.Errorf("output does not decode to 10 members: %v, %v", v, err)
	}
	empty := NewObject(nil)
	if got := string(empty.End()); got != "{}" {
		t.Errorf("empty Object = %q", got)
	}
}

func mustPanic(t *testing.T, name, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Errorf("%s: no panic", name)
			return
		}
		if msg, _ := r.(string); !strings.Contains(msg, want) {
			t.Errorf("%s: panic %v, want it to mention %q", name, r, want)
		}
	}()
	f()
}

func TestObjectMisuse(t *testing.T) {
	mustPanic(t, "out of order", `member "a" added after "b"`, func() {
		o := NewObject(nil)
		o.String("b", "")
		o.String("a", "")
	})
	mustPanic(t, "code point order is not UTF-16 order", "added after", func() {
		o := NewObject(nil)
		o.String("\ufb33", "")
		o.String("\U0001F600", "")
	})
	mustPanic(t, "duplicate", `duplicate member "a"`, func() {
		o := NewObject(nil)
		o.Int("a", 1)
		o.Int("a", 2)
	})
	mustPanic(t, "order in nested object", `member "x" added after "y"`, func() {
		o := NewObject(nil)
		c := o.BeginObject("c")
		c.Null("y")
		c.Null("x")
	})
	mustPanic(t, "parent used while nested open", "nested object is open", func() {
		o := NewObject(nil)
		c := o.BeginObject("c")
		o.Null("d")
		o.EndObject(&c)
	})
	mustPanic(t, "End while nested open", "nested object is open", func() {
		o := NewObject(nil)
		o.BeginObject("c")
		o.End()
	})
	mustPanic(t, "EndObject without BeginObject", "without a matching BeginObject", func() {
		o := NewObject(nil)
		c := NewObject(nil)
		o.EndObject(&c)
	})
	mustPanic(t, "nested used after EndObject", "after End", func() {
		o := NewObject(nil)
		c := o.BeginObject("c")
		o.EndObject(&c)
		c.Null("x")
	})
	mustPanic(t, "used after End", "after End", func() {
		o := NewObject(nil)
		o.End()
		o.Null("a")
	})
	mustPanic(t, "zero value", "without NewObject", func() {
		var o Object
		o.Null("a")
	})
}

func TestObjectAllocs(t *testing.T) {
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		buf = appendEntry(buf[:0], &sample)
	})
	if allocs != 0 {
		t.Errorf("appendEntry allocates %v times per run, want 0", allocs)
	}
}

func BenchmarkObject(b *testing.B) {
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendEntry(buf[:0], &sample)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkCanonicalize(b *testing.B) {
	raw, err := json.Marshal(asMap(&sample))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := Canonicalize(raw); err != nil {
			b.Fatal(err)
		}
	}
}
