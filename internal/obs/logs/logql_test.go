package logs

import (
	"strings"
	"testing"
)

func TestParseLogQL(t *testing.T) {
	q, err := ParseLogQL(`{node_id="a", unit=~"ssh.*", severity!="debug", hostname!~"db-[0-9]+", source="journald"} |= "fail" != "cron" |~ "user [a-z]+" !~ "(?i)ignore"`)
	if err != nil {
		t.Fatal(err)
	}
	if q.Stream != StreamLogs || len(q.Matchers) != 5 || len(q.Filters) != 4 {
		t.Fatalf("parsed %+v", q)
	}
	e := &Entry{Labels: map[string]string{"node_id": "a", "unit": "sshd.service", "severity": "err", "hostname": "web-1",
		"source": "journald"}, Line: "login fail for user bob"}
	if !q.match(e) {
		t.Fatalf("%s should match %+v", q, e)
	}
	for _, mutate := range []func(*Entry){
		func(e *Entry) { e.Labels["node_id"] = "b" },
		func(e *Entry) { e.Labels["unit"] = "xssh" }, // anchored
		func(e *Entry) { e.Labels["severity"] = "debug" },
		func(e *Entry) { e.Labels["hostname"] = "db-12" },
		func(e *Entry) { e.Line = "login ok for user bob" },
		func(e *Entry) { e.Line = "cron fail for user bob" },
		func(e *Entry) { e.Line = "fail for user 42" },
		func(e *Entry) { e.Line = "fail for user bob IGNORE" },
	} {
		c := &Entry{Labels: map[string]string{}, Line: e.Line}
		for k, v := range e.Labels {
			c.Labels[k] = v
		}
		mutate(c)
		if q.match(c) {
			t.Errorf("%+v should not match", c)
		}
	}
	a, err := ParseLogQL("{stream=\"audit\", action=`execve`, outcome!=\"success\",}")
	if err != nil || a.Stream != StreamAudit || len(a.Matchers) != 2 || a.Matchers[0].Value != "execve" {
		t.Fatalf("audit: %+v %v", a, err)
	}
	if _, err := ParseLogQL(`{}`); err != nil {
		t.Fatalf("empty selector: %v", err)
	}
	// The canonical form parses back to itself.
	if r, err := ParseLogQL(q.String()); err != nil || r.String() != q.String() {
		t.Fatalf("round trip %q: %v", q.String(), err)
	}
}

func TestParseLogQLErrors(t *testing.T) {
	for in, want := range map[string]string{
		``:                           "empty",
		`node_id="a"`:                "stream selector",
		`{node_id="a"`:               "expected ',' or '}'",
		`{node_id}`:                  "expected one of",
		`{node_id=a}`:                "quoted string",
		`{node_id="a}`:               "unterminated",
		`{pod="a"}`:                  "unknown label",
		`{unit="a", stream="audit"}`: "unknown label",
		`{stream="metrics"}`:         "stream label",
		`{stream=~"audit"}`:          "stream label",
		`{unit=~"("}`:                "invalid regular expression",
		`{} |~ "[z-a]"`:              "invalid regular expression",
		`{} | json`:                  "only the line filters",
		`{} |= "a" x`:                "expected a line filter",
		`{} |= a`:                    "quoted string",
		`{unit=~"` + strings.Repeat("a", MaxRegexLen+1) + `"}`: "longer than",
		strings.Repeat(" ", MaxQueryLen+1):                     "empty",
		`{} |= "` + strings.Repeat("a", MaxQueryLen) + `"`:     "longer than 4096",
		`{a="1",b="2",c="3",d="4",e="5",f="6",g="7",h="8",i="9",j="10",k="11",l="12",m="13",n="14",o="15",p="16",q="17"}`: "more than 16",
	} {
		_, err := ParseLogQL(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.60q: %v, want an error containing %q", in, err, want)
		}
	}
}
