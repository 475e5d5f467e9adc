package logs

import (
	"testing"
)

// FuzzParseLogQL: the LogQL subset parser never panics, bounds what it
// accepts, and its canonical form parses back to the same query.
func FuzzParseLogQL(f *testing.F) {
	for _, s := range []string{`{}`, `{node_id="a", unit=~"ssh.*"} |= "x" != "y" |~ "a+" !~ "b"`,
		"{stream=\"audit\", action=`execve`}", `{severity!~"debug|info",}`, `{a="\u00e9\\"}`, `{} | json`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseLogQL(s)
		if err != nil {
			return
		}
		if len(s) > MaxQueryLen || len(q.Matchers) > MaxMatchers || len(q.Filters) > MaxFilters {
			t.Fatalf("accepted beyond the bounds: %q", s)
		}
		for _, m := range q.Matchers {
			m.Matches("x")
		}
		for _, fl := range q.Filters {
			fl.Keep("x")
		}
		r, err := ParseLogQL(q.String())
		if err != nil || r.String() != q.String() {
			t.Fatalf("canonical form %q of %q: %v", q.String(), s, err)
		}
	})
}

// FuzzIngestRecords: record validation never panics and never accepts a
// record without its required fields.
func FuzzIngestRecords(f *testing.F) {
	f.Add(`{"timestamp":"2026-01-01T00:00:00Z","severity":"info","message":"m","unit":"u"}`)
	f.Add(`{"timestamp":"2026-01-01T00:00:00Z","source":"auditd","action":"a","result":"success","subject":{"uid":0}}`)
	f.Fuzz(func(t *testing.T, s string) {
		if r, ok := parseLog([]byte(s)); ok && (r.line == "" || r.severity == "") {
			t.Fatalf("log record accepted without message or severity: %q", s)
		}
		if r, ok := parseAudit([]byte(s)); ok && (r.action == "" || r.outcome == "" || r.source == "") {
			t.Fatalf("audit record accepted without action, outcome or source: %q", s)
		}
	})
}
