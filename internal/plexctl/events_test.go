package plexctl

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apptest"
)

// plexctl events prints a Domain's operator events as JSON lines, replayed
// from --after and narrowed by --types, until interrupted.
func TestEventsFollowsDomainStream(t *testing.T) {
	l := newLive(t, apptest.SQLite)
	domainID, _ := l.project("evcli", "100.74.0.0/16")
	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(""), &out, &errb, func(k string) string { return l.env[k] })
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if code := a.run(ctx, []string{"events", "--domain", domainID, "--after", "0", "--types", "audit_appended"}); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	sawProject := false
	for _, line := range lines {
		var ev struct {
			ID   int64  `json:"id"`
			Type string `json:"type"`
			Data struct {
				Action  string `json:"action"`
				Outcome string `json:"outcome"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if ev.Type != "audit_appended" || ev.ID <= 0 {
			t.Fatalf("unexpected event %q", line)
		}
		sawProject = sawProject || (ev.Data.Action == "project.create" && ev.Data.Outcome == "succeeded")
	}
	if !sawProject {
		t.Fatalf("no audit_appended of project.create in:\n%s", out.String())
	}
	if r := l.run("events", "--domain", domainID, "--types", "nope"); r.code == ExitOK || !strings.Contains(r.stderr, "invalid_event_type") {
		t.Fatalf("bad type: exit %d, %s", r.code, r.stderr)
	}
}
