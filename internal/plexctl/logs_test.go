package plexctl

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestLogsQueryCommand(t *testing.T) {
	h := newHarness(t)
	body := `{"status":"success","data":{"resultType":"streams","result":[` +
		`{"stream":{"node_id":"n1","hostname":"web-1","unit":"sshd.service","severity":"err"},"values":[["1772366402000000000","Failed password"]]},` +
		`{"stream":{"node_id":"n2","hostname":"db-1","unit":"postgres.service","severity":"info"},"values":[["1772366403000000000","checkpoint"]]}]}}`
	h.srv.JSON("GET /v1/domains/{id}/logs/query", 200, map[string]any{"status_code": 200, "body": body})
	r := h.run("logs", "query", `{unit=~"s.*"} |= "x"`, "--domain", "d1", "--start", "2026-03-01T00:00:00Z",
		"--end", "2026-03-02T00:00:00Z", "--limit", "7", "--direction", "forward", "--node", "n1")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	q := h.srv.Last().Query
	if q.Get("query") != `{unit=~"s.*"} |= "x"` || q.Get("start") != "2026-03-01T00:00:00Z" || q.Get("end") != "2026-03-02T00:00:00Z" ||
		q.Get("limit") != "7" || q.Get("direction") != "forward" || q.Get("nodeId") != "n1" {
		t.Fatalf("query %v", q)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "2026-03-01T12:00:02Z web-1 sshd.service err Failed password") ||
		!strings.Contains(lines[1], "db-1 postgres.service info checkpoint") {
		t.Fatalf("forward output %q", r.stdout)
	}
	// --since and --start together are a usage error; json output is JSON lines.
	if r := h.run("logs", "query", "{}", "--domain", "d1", "--since", "1h", "--start", "2026-03-01T00:00:00Z"); r.code == ExitOK {
		t.Fatal("--since with --start accepted")
	}
	r = h.run("logs", "query", "{}", "--domain", "d1", "-o", "json")
	if r.code != ExitOK || strings.Count(r.stdout, `"line":`) != 2 || !strings.HasPrefix(r.stdout, `{"time":"2026-03-01T12:00:03Z"`) {
		t.Fatalf("json: %d %q", r.code, r.stdout)
	}
}

func TestLogsTailCommand(t *testing.T) {
	h := newHarness(t)
	h.srv.Handle("GET /v1/domains/{id}/logs/tail", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("query") != `{severity="err"}` {
			http.Error(w, "bad query", 400)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, ": connected\n\n")
		fmt.Fprint(w, `id: 3`+"\n"+`data: {"streams":[{"stream":{"hostname":"web-1","unit":"a","severity":"err"},"values":[["1772366402000000000","boom"]]}]}`+"\n\n")
	})
	r := h.run("logs", "tail", "-f", `{severity="err"}`, "--domain", "d1")
	if r.code != ExitOK || !strings.Contains(r.stdout, "web-1 a err boom") {
		t.Fatalf("tail: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := h.run("logs", "tail", `{}`, "--domain", "d1"); r.code == ExitOK {
		t.Fatal("tail without -f accepted")
	}
}
