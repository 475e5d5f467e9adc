package plexctl

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiclient/apiclienttest"
)

// Issue 14: exec run builds the dispatch body from its flags: one node
// is node_id, several are node_ids (names resolved, duplicates dropped),
// a selector is sent as is, --param pairs become the parameters object.
func TestExecRunRequestBodies(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"one node by name", []string{"--node", "web-1"},
			`{"action":"gather_info","node_id":"` + execNode1 + `"}`},
		{"node list by id and name", []string{"--node", execNode1, "--node", "web-2.plexsphere", "--node", "web-1"},
			`{"action":"gather_info","node_ids":["` + execNode1 + `","` + execNode2 + `"]}`},
		{"comma-separated nodes", []string{"--node", execNode2 + ",web-1"},
			`{"action":"gather_info","node_ids":["` + execNode2 + `","` + execNode1 + `"]}`},
		{"selector with everything", []string{"--selector", "role=web,env in (prod)", "--type", "hook",
			"--param", "unit=nginx.service", "--param", "args=a=b", "--param", "empty=", "--timeout", "5m",
			"--max-in-flight", "10", "--stop-after-failures", "2", "--batch-size", "5", "--include-drifted", "--idempotency-key", "k-1"},
			`{"action":"gather_info","type":"hook","parameters":{"unit":"nginx.service","args":"a=b","empty":""},` +
				`"timeout_seconds":300,"selector":"role=web,env in (prod)","max_in_flight":10,"stop_after_failures":2,"batch_size":5,` +
				`"include_drifted":true,"idempotency_key":"k-1"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			f := newExecFake(t, h)
			r := h.ok(append([]string{"exec", "run", "gather_info", "--project", execProject}, tc.args...)...)
			dispatched, previewed := f.requests()
			if len(dispatched) != 1 || len(previewed) != 0 {
				t.Fatalf("dispatched %d, previewed %d", len(dispatched), len(previewed))
			}
			var body []byte
			for _, req := range h.srv.Requests() {
				if strings.HasSuffix(req.Path, ":dispatch") {
					body = req.Body
				}
			}
			assertSameJSON(t, body, tc.want)
			if r.stdout != execID+"\n" {
				t.Errorf("stdout = %q, want the execution id", r.stdout)
			}
			if !strings.Contains(r.stderr, "Skipped 1 node(s):\n  db-1 ("+execNode3+"): drifted (open integrity violation") {
				t.Errorf("stderr lacks the skip with its reason:\n%s", r.stderr)
			}
		})
	}
}

func assertSameJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("body %q: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %q: %v", want, err)
	}
	if mustJSON(t, g) != mustJSON(t, w) {
		t.Errorf("body = %s\nwant   %s", got, want)
	}
}

// Issue 14: command-line mistakes are usage errors (exit 2) and send
// nothing.
func TestExecRunUsage(t *testing.T) {
	h := newHarness(t)
	newExecFake(t, h)
	base := []string{"exec", "run", "ping", "--project", execProject}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no target":      {nil, "name the targets with --node or --selector"},
		"both forms":     {[]string{"--node", "web-1", "--selector", "a=b"}, "exclude each other"},
		"bad param":      {[]string{"--node", "web-1", "--param", "novalue"}, `invalid --param "novalue"`},
		"duplicate":      {[]string{"--node", "web-1", "--param", "a=1", "--param", "a=2"}, "--param a is given twice"},
		"fractional":     {[]string{"--node", "web-1", "--timeout", "1500ms"}, "--timeout must be whole seconds"},
		"too long":       {[]string{"--node", "web-1", "--timeout", "11m"}, "--timeout must be whole seconds"},
		"bad type":       {[]string{"--node", "web-1", "--type", "script"}, `invalid --type "script"`},
		"dry run waits":  {[]string{"--node", "web-1", "--dry-run", "--wait"}, "cannot --wait"},
		"negative limit": {[]string{"--node", "web-1", "--max-in-flight", "-1"}, "must not be negative"},
	} {
		t.Run(name, func(t *testing.T) {
			h.fail(ExitUsage, []string{tc.want}, append(base, tc.args...)...)
		})
	}
	if n := len(h.srv.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// Issue 14: a node name that matches nothing in the Project fails
// before any dispatch.
func TestExecRunUnknownNode(t *testing.T) {
	h := newHarness(t)
	f := newExecFake(t, h)
	h.fail(ExitError, []string{`no node named "web-9" in project ` + execProject},
		"exec", "run", "ping", "--project", execProject, "--node", "web-9")
	if d, _ := f.requests(); len(d) != 0 {
		t.Errorf("dispatched %d", len(d))
	}
}

// Issue 14: --dry-run calls the preview, never the dispatch, and lists
// what would run and what would be skipped with the reason.
func TestExecRunDryRun(t *testing.T) {
	h := newHarness(t)
	f := newExecFake(t, h)
	r := h.ok("exec", "run", "ping", "--project", execProject, "--selector", "role=web", "--max-in-flight", "5", "--dry-run")
	dispatched, previewed := f.requests()
	if len(dispatched) != 0 || len(previewed) != 1 {
		t.Fatalf("dispatched %d, previewed %d", len(dispatched), len(previewed))
	}
	if p := previewed[0]; p.Selector != "role=web" || p.MaxInFlight != 5 {
		t.Errorf("preview body = %+v", p)
	}
	for _, want := range []string{
		execNode1 + "   web-1   would run",
		execNode2 + "   web-2   would run",
		execNode3 + "   db-1    skip: insufficient_relation (you may not operate this node)",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "would run on 2 node(s), skip 1; nothing was run") {
		t.Errorf("stderr = %q", r.stderr)
	}

	r = h.ok("-o", "json", "exec", "run", "ping", "--project", execProject, "--node", "web-1", "--dry-run")
	var pv apiclient.DispatchPreview
	if err := json.Unmarshal([]byte(r.stdout), &pv); err != nil || len(pv.Targets) != 1 || pv.Targets[0] != execNode1 ||
		pv.Skipped[0].Reason != "insufficient_relation" {
		t.Errorf("json preview %q: %v", r.stdout, err)
	}
}

// Issue 14: --wait polls the execution, prints each target's result once
// as it becomes final (status, exit code, duration, first output lines),
// ends with the per-node summary, and exits 1 when one target failed.
func TestExecRunWaitStreamsResults(t *testing.T) {
	h := newHarness(t)
	f := newExecFake(t, h)
	f.script(
		execution("started", execNode1+"=started", execNode2+"=pending"),
		execution("started", execNode1+"=started", execNode2+"=pending"),
		execution("started", execNode1+"=succeeded:0", execNode2+"=started"),
		execution("started", execNode1+"=succeeded:0", execNode2+"=started"),
		execution("started", execNode1+"=succeeded:0", execNode2+"=started"),
		execution("failed", execNode1+"=succeeded:0", execNode2+"=failed:3"),
	)
	r := h.runExec(false, "exec", "run", "gather_info", "--project", execProject, "--selector", "role=web", "--wait")
	if r.code != ExitError {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	want := "succeeded  web-1 (" + execNode1 + ")  exit 0  1.2s\n" +
		"    stdout: line one\n" +
		"    stdout: line two\n" +
		"    stdout: line three\n" +
		"    stdout: … 1 more line(s)\n" +
		"failed     web-2 (" + execNode2 + ")  exit 3  1.201s  (exit status 3)\n" +
		"    stderr: boom: \\x1b[31mred\\x1b[0m\n" +
		"\n" +
		"NODE                                   NAME    STATUS      EXIT   DURATION   DETAIL\n" +
		execNode1 + "   web-1   succeeded   0      1.2s       -\n" +
		execNode2 + "   web-2   failed      3      1.201s     exit status 3\n" +
		"failed: 2 target(s): 1 succeeded, 1 failed; 1 skipped\n"
	if r.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, want)
	}
	for _, w := range []string{"Execution " + execID + ": gather_info on 2 node(s)", "Skipped 1 node(s):",
		"Error: 1 of 2 target(s) did not succeed"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "\x1b[K") {
		t.Errorf("progress drawn on a non-terminal:\n%q", r.stderr)
	}
	// 500 ms while results arrive, doubling to at most 2 s while nothing
	// changes, back to 500 ms on a change.
	wantSleeps := []time.Duration{pollMin, pollMin, time.Second, pollMin, time.Second, pollMax}
	if mustJSON(t, r.sleeps) != mustJSON(t, wantSleeps) {
		t.Errorf("sleeps = %v, want %v", r.sleeps, wantSleeps)
	}
}

// Issue 14: when every target succeeds the run exits 0; on a terminal a
// progress line is drawn on stderr and erased before each result.
func TestExecRunWaitSuccessWithProgress(t *testing.T) {
	h := newHarness(t)
	f := newExecFake(t, h)
	f.script(
		execution("started", execNode1+"=succeeded:0", execNode2+"=started"),
		execution("succeeded", execNode1+"=succeeded:0", execNode2+"=succeeded:0"),
	)
	r := h.runExec(true, "exec", "run", "gather_info", "--project", execProject, "--node", "web-1", "--node", "web-2", "--wait")
	if r.code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, w := range []string{"\r\x1b[K[", "] 0/2  0 ok  0 failed  0 running", "] 1/2  1 ok  0 failed  1 running"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks progress %q:\n%q", w, r.stderr)
		}
	}
	if !strings.HasSuffix(r.stderr, "\r\x1b[K") {
		t.Errorf("progress line not erased at the end: %q", r.stderr)
	}
	if !strings.Contains(r.stdout, "succeeded: 2 target(s): 2 succeeded; 1 skipped") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
}

// Issue 14: with -o json, --wait prints the final execution as JSON on
// stdout (the streamed results go to stderr).
func TestExecRunWaitJSON(t *testing.T) {
	h := newHarness(t)
	f := newExecFake(t, h)
	f.script(execution("failed", execNode1+"=timeout", execNode2+"=succeeded:0"))
	r := h.runExec(false, "-o", "json", "exec", "run", "gather_info", "--project", execProject, "--selector", "a=b", "--wait")
	if r.code != ExitError {
		t.Fatalf("exit %d, want 1 (a target timed out)\nstderr:\n%s", r.code, r.stderr)
	}
	var ex apiclient.Execution
	if err := json.Unmarshal([]byte(r.stdout), &ex); err != nil {
		t.Fatalf("stdout is not one JSON execution: %v\n%s", err, r.stdout)
	}
	if ex.Status != "failed" || len(ex.Targets) != 2 || ex.Targets[0].Status != "timeout" {
		t.Errorf("execution = %+v", ex)
	}
	if !strings.Contains(r.stderr, "timeout    web-1 ("+execNode1+")") {
		t.Errorf("stderr lacks the streamed result:\n%s", r.stderr)
	}
}

// Issue 14: transient read failures while waiting are retried; a 404 is
// not.
func TestExecRunWaitReadFailures(t *testing.T) {
	h := newHarness(t)
	newExecFake(t, h) // no script: every read is 404
	r := h.runExec(false, "exec", "run", "ping", "--project", execProject, "--node", "web-1", "--wait")
	if r.code != ExitError || !strings.Contains(r.stderr, "execution_not_found") {
		t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
	}

	h2 := newHarness(t)
	f2 := newExecFake(t, h2)
	f2.script(execution("succeeded", execNode1+"=succeeded:0"))
	f2.mu.Lock()
	f2.failReads = 2
	f2.mu.Unlock()
	r = h2.runExec(false, "exec", "run", "ping", "--project", execProject, "--node", "web-1", "--wait")
	if r.code != ExitOK || f2.failReads != 0 {
		t.Fatalf("exit %d, %d failures left\nstderr:\n%s", r.code, f2.failReads, r.stderr)
	}
}

// Issue 14: exec list sends its filters and prints a table; exec get
// shows the fields, a row per target and the skips; exec cancel posts
// the cancel.
func TestExecListGetCancel(t *testing.T) {
	h := newHarness(t)
	f := newExecFake(t, h)
	ex := execution("failed", execNode1+"=succeeded:0", execNode2+"=failed:3")
	ex.Selector = "role=web"
	f.script(ex)
	apiclienttest.Pages(h.srv, "GET /v1/projects/{pid}/executions", 1, []apiclient.Execution{ex, {ID: "e2",
		Action: "ping", Type: "builtin", Status: "pending"}})
	r := h.ok("exec", "list", "--project", execProject, "--status", "failed", "--action", "gather_info")
	lists := 0
	for _, req := range h.srv.Requests() {
		if req.Method == "GET" && strings.HasSuffix(req.Path, "/executions") {
			lists++
			if req.Query.Get("status") != "failed" || req.Query.Get("action_name") != "gather_info" {
				t.Errorf("list query = %v", req.Query)
			}
		}
	}
	if lists != 2 {
		t.Errorf("%d list pages read, want 2", lists)
	}
	if !strings.Contains(r.stdout, execID+"   gather_info   builtin   failed    role=web") ||
		!strings.Contains(r.stdout, "e2 ") {
		t.Errorf("list:\n%s", r.stdout)
	}
	h.fail(ExitUsage, []string{`invalid --status "broken"`}, "exec", "list", "--project", execProject, "--status", "broken")

	r = h.ok("exec", "get", "--project", execProject, execID)
	for _, w := range []string{"Status:         failed", "Targets:        2 target(s): 1 succeeded, 1 failed",
		execNode2 + "   web-2   failed      3      1.201s     exit status 3"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("get lacks %q:\n%s", w, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "db-1 ("+execNode3+"): drifted") {
		t.Errorf("get stderr lacks the skip:\n%s", r.stderr)
	}
	r = h.ok("-o", "json", "exec", "get", "--project", execProject, execID)
	var got apiclient.Execution
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.Targets[0].Stdout == "" {
		t.Errorf("get json %v: %s", err, r.stdout)
	}

	cancelled := execution("cancelled", execNode1+"=succeeded:0", execNode2+"=cancelled")
	h.srv.JSON("POST /v1/projects/{pid}/executions/{id}/cancel", 200, cancelled)
	r = h.ok("exec", "cancel", "--project", execProject, execID)
	if last := h.srv.Last(); last.Method != "POST" || last.Path != "/v1/projects/"+execProject+"/executions/"+execID+"/cancel" {
		t.Errorf("cancel sent %s", last.Pattern())
	}
	if r.stdout != "execution "+execID+": cancelled (2 target(s): 1 succeeded, 1 cancelled)\n" {
		t.Errorf("cancel stdout = %q", r.stdout)
	}
}

// Issue 14: exec watch follows the server's progress stream and ends
// with the summary read from the execution.
func TestExecWatchStreams(t *testing.T) {
	h := newHarness(t)
	f := newExecFake(t, h)
	f.script(
		execution("started", execNode1+"=started", execNode2+"=pending"),
		execution("failed", execNode1+"=succeeded:0", execNode2+"=failed:3"),
	)
	final := execution("failed", execNode1+"=succeeded:0", execNode2+"=failed:3")
	h.srv.Handle("GET /v1/projects/{pid}/executions/{id}/events", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i, tg := range []apiclient.ExecutionTarget{final.Targets[1], final.Targets[0]} {
			raw, _ := json.Marshal(tg)
			_, _ = w.Write([]byte("id: " + strconv.Itoa(i+1) + "\nevent: target\ndata: " + string(raw) + "\n\n"))
		}
	})
	r := h.runExec(false, "exec", "watch", "--project", execProject, execID)
	if r.code != ExitError {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	// Results in the order the stream delivered them.
	i1 := strings.Index(r.stdout, "failed     web-2")
	i2 := strings.Index(r.stdout, "succeeded  web-1")
	if i1 < 0 || i2 < 0 || i1 > i2 || !strings.Contains(r.stdout, "failed: 2 target(s): 1 succeeded, 1 failed") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	if len(r.sleeps) != 0 {
		t.Errorf("watch polled: %v", r.sleeps)
	}
}
