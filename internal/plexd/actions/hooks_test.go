package actions

import (
	"context"
	"encoding/json"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// TestHookCleanEnvironment runs /usr/bin/env as a hook: its output is the
// hook's whole environment.
func TestHookCleanEnvironment(t *testing.T) {
	const env = "/usr/bin/env"
	envSum, err := fileChecksum(env)
	if err != nil {
		t.Skip("no /usr/bin/env")
	}
	hooks := t.TempDir()
	manifest := "name: show-env\ncommand: " + env + "\nchecksum: " + envSum +
		"\nparameters:\n  - {name: my-arg, required: true}\n  - {name: count, type: int}\n"
	must(t, os.WriteFile(filepath.Join(hooks, "show-env.yaml"), []byte(manifest), 0o644))
	t.Setenv("PLEXD_LEAK_CHECK", "leaked")
	cp := newFakeCP()
	e := start(t, cp, Options{HooksDir: hooks})
	_, res := run(t, e, cp, nodeproto.ActionRequest{ExecutionID: "h1", Action: "show-env", Checksum: envSum,
		Parameters: map[string]string{"my-arg": "a value; $(reboot)", "count": "3"}})
	if res.Status != nodeproto.ResultSuccess {
		t.Fatalf("result %+v", res)
	}
	got := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	slices.Sort(got)
	want := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "PLEXD_EXECUTION_ID=h1", "PLEXD_NODE_ID=" + testNode,
		"PLEXD_PARAM_COUNT=3", "PLEXD_PARAM_MY_ARG=a value; $(reboot)"}
	if !slices.Equal(got, want) {
		t.Errorf("hook environment\n got %q\nwant %q", got, want)
	}
	_, res = run(t, e, cp, nodeproto.ActionRequest{ExecutionID: "h2", Action: "show-env", Checksum: envSum,
		Parameters: map[string]string{"count": "3"}})
	if res.Status != nodeproto.ResultError || !strings.Contains(res.Error, `missing required parameter "my-arg"`) {
		t.Errorf("missing parameter: %+v", res)
	}
}

func TestHookWorkingDirectoryAndExitCode(t *testing.T) {
	hooks := t.TempDir()
	writeHook(t, hooks, "where", "#!/bin/sh\npwd\necho oops >&2\nexit 3\n", "")
	cp := newFakeCP()
	e := start(t, cp, Options{HooksDir: hooks})
	_, res := run(t, e, cp, nodeproto.ActionRequest{ExecutionID: "w1", Action: "where", Checksum: sum("#!/bin/sh\npwd\necho oops >&2\nexit 3\n")})
	if res.Status != nodeproto.ResultFailed || res.ExitCode != 3 || res.Stderr != "oops\n" {
		t.Fatalf("result %+v", res)
	}
	dir := strings.TrimSpace(res.Stdout)
	if !strings.HasPrefix(filepath.Base(dir), "plexd-hook-") {
		t.Errorf("working directory %q", dir)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("working directory %s not removed: %v", dir, err)
	}
}

// TestHookIntegrity: a changed executable or a request naming another
// checksum is refused with status error and an integrity violation.
func TestHookIntegrity(t *testing.T) {
	hooks := t.TempDir()
	script := "#!/bin/sh\necho ran\n"
	path, good := writeHook(t, hooks, "backup", script, "")
	cp := newFakeCP()
	e := start(t, cp, Options{HooksDir: hooks})

	other := sum("something else")
	_, res := run(t, e, cp, nodeproto.ActionRequest{ExecutionID: "i1", Action: "backup", Checksum: other})
	if res.Status != nodeproto.ResultError || !strings.Contains(res.Error, "checksum mismatch") || res.Stdout != "" {
		t.Errorf("request checksum differs: %+v", res)
	}
	v := recv(t, cp.violations)
	if v.Type != nodeproto.IntegrityHook || v.Path != path || v.ExpectedChecksum != other || v.ActualChecksum != good || v.Timestamp.IsZero() {
		t.Errorf("violation %+v", v)
	}

	_, res = run(t, e, cp, nodeproto.ActionRequest{ExecutionID: "i2", Action: "backup"})
	if res.Status != nodeproto.ResultError || !strings.Contains(res.Error, "checksum") {
		t.Errorf("no checksum: %+v", res)
	}
	none(t, cp.violations, "violation for a missing checksum")

	tampered := "#!/bin/sh\necho pwned\n"
	must(t, os.WriteFile(path, []byte(tampered), 0o755))
	_, res = run(t, e, cp, nodeproto.ActionRequest{ExecutionID: "i3", Action: "backup", Checksum: good})
	if res.Status != nodeproto.ResultError || strings.Contains(res.Stdout, "pwned") {
		t.Errorf("tampered hook: %+v", res)
	}
	v = recv(t, cp.violations)
	if v.Type != nodeproto.IntegrityHook || v.ExpectedChecksum != good || v.ActualChecksum != sum(tampered) {
		t.Errorf("violation %+v", v)
	}

	must(t, os.Remove(path))
	_, res = run(t, e, cp, nodeproto.ActionRequest{ExecutionID: "i4", Action: "backup", Checksum: good})
	if res.Status != nodeproto.ResultError || !strings.Contains(res.Error, "missing") {
		t.Errorf("missing hook: %+v", res)
	}
}

func TestTimeout(t *testing.T) {
	hooks := t.TempDir()
	script := "#!/bin/sh\nsleep 30 &\nwait\n"
	writeHook(t, hooks, "slow", script, "timeout: 10m\n")
	cp := newFakeCP()
	e := start(t, cp, Options{HooksDir: hooks})
	begin := time.Now()
	_, res := run(t, e, cp, nodeproto.ActionRequest{ExecutionID: "t1", Action: "slow", Checksum: sum(script), Timeout: "200ms"})
	if res.Status != nodeproto.ResultTimeout {
		t.Fatalf("result %+v", res)
	}
	if took := time.Since(begin); took > 5*time.Second {
		t.Errorf("the timeout took %v: the process group was not killed", took)
	}
	if d, err := time.ParseDuration(res.Duration); err != nil || d < 200*time.Millisecond {
		t.Errorf("duration %q", res.Duration)
	}

	// The manifest's timeout caps the request's.
	writeHook(t, hooks, "capped", script, "timeout: 100ms\n")
	_, res = run(t, e, cp, nodeproto.ActionRequest{ExecutionID: "t2", Action: "capped", Checksum: sum(script), Timeout: "10m"})
	if res.Status != nodeproto.ResultTimeout {
		t.Errorf("capped: %+v", res)
	}
}

// TestHookRunsAsHookUser needs root and a nobody account.
func TestHookRunsAsHookUser(t *testing.T) {
	u, err := user.Lookup("nobody")
	if os.Geteuid() != 0 || err != nil {
		t.Skip("needs root and the nobody user")
	}
	dir, err := os.MkdirTemp("", "plexd-hooktest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	script := "#!/bin/sh\nid -u\ntouch ./written\n"
	path := filepath.Join(dir, "whoami.sh")
	must(t, os.WriteFile(path, []byte(script), 0o755))
	hooks := t.TempDir()
	must(t, os.WriteFile(filepath.Join(hooks, "w.yaml"), []byte("name: whoami\ncommand: "+path+"\nchecksum: "+sum(script)+"\n"), 0o644))
	cp := newFakeCP()
	e := start(t, cp, Options{HooksDir: hooks, HookUser: "nobody"})
	_, res := run(t, e, cp, nodeproto.ActionRequest{ExecutionID: "u1", Action: "whoami", Checksum: sum(script)})
	if res.Status != nodeproto.ResultSuccess || strings.TrimSpace(res.Stdout) != u.Uid {
		t.Errorf("result %+v, want uid %s", res, u.Uid)
	}
	caps := e.Capabilities()
	if len(caps.Hooks) != 1 || caps.Hooks[0].Sandbox != "user=nobody,env=clean,cwd=temp" {
		t.Errorf("hooks %+v", caps.Hooks)
	}
}

func TestCapabilities(t *testing.T) {
	hooks := t.TempDir()
	path, checksum := writeHook(t, hooks, "backup", "#!/bin/sh\n", "description: run a backup\ntimeout: 5m\nparameters:\n  - {name: target, type: path, required: true, description: where}\n")
	cp := newFakeCP()
	start(t, cp, Options{HooksDir: hooks, Version: "v1.2.3", HooksPoll: 10 * time.Millisecond})
	caps := recv(t, cp.caps)
	raw, _ := json.Marshal(caps)
	var doc struct {
		Binary struct {
			Version  string `json:"version"`
			Checksum string `json:"checksum"`
		} `json:"binary"`
		BuiltinActions []nodeproto.BuiltinAction `json:"builtin_actions"`
		Hooks          []map[string]any          `json:"hooks"`
		BinaryChecksum string                    `json:"binary_checksum"`
	}
	must(t, json.Unmarshal(raw, &doc))
	if doc.Binary.Version != "v1.2.3" || doc.Binary.Checksum != sum("plexd") || doc.BinaryChecksum == "" {
		t.Errorf("binary %s", raw)
	}
	var names []string
	for _, b := range doc.BuiltinActions {
		names = append(names, b.Name)
		if b.Parameters == nil {
			t.Errorf("%s: parameters null", b.Name)
		}
	}
	if want := []string{"cancel", "diagnostics.bundle", "file.read", "gather_info", "ping", "service.restart"}; !slices.Equal(names, want) {
		t.Errorf("built-ins %v", names)
	}
	pingIdx := slices.IndexFunc(doc.BuiltinActions, func(b nodeproto.BuiltinAction) bool { return b.Name == "ping" })
	if p := doc.BuiltinActions[pingIdx].Parameters; len(p) != 1 || p[0] != (nodeproto.ActionParam{Name: "target", Type: "ip", Required: true, Description: "the IP address to reach"}) {
		t.Errorf("ping parameters %+v", p)
	}
	if len(doc.Hooks) != 1 {
		t.Fatalf("hooks %s", raw)
	}
	h := doc.Hooks[0]
	if h["name"] != "backup" || h["source"] != path || h["checksum"] != checksum || h["timeout"] != "5m0s" || h["description"] != "run a backup" {
		t.Errorf("hook %v", h)
	}
	if p := h["parameters"].([]any); len(p) != 1 || p[0].(map[string]any)["type"] != "path" {
		t.Errorf("hook parameters %v", h["parameters"])
	}

	// A new manifest is picked up by the poll and put again.
	writeHook(t, hooks, "rotate-logs", "#!/bin/sh\n", "")
	caps = recv(t, cp.caps)
	if len(caps.Hooks) != 2 || caps.Hooks[1].Name != "rotate-logs" {
		t.Errorf("after adding a hook: %+v", caps.Hooks)
	}
	none(t, cp.caps, "capabilities put without a change")

	// A request for a hook installed since the last poll is accepted.
	hooks2 := t.TempDir()
	cp2 := newFakeCP()
	e2 := start(t, cp2, Options{HooksDir: hooks2, HooksPoll: time.Hour})
	script := "#!/bin/sh\necho fresh\n"
	writeHook(t, hooks2, "fresh", script, "")
	if _, res := run(t, e2, cp2, nodeproto.ActionRequest{ExecutionID: "f1", Action: "fresh", Checksum: sum(script)}); res.Stdout != "fresh\n" {
		t.Errorf("fresh hook: %+v", res)
	}
}

func TestBinaryIntegrity(t *testing.T) {
	var cur atomic.Value
	cur.Store(sum("v1"))
	cp := newFakeCP()
	e := start(t, cp, Options{BinaryPath: "/usr/local/bin/plexd", BinaryChecksum: func() (string, error) { return cur.Load().(string), nil }})
	recv(t, cp.caps) // Run has recorded the checksum
	e.CheckBinary(context.Background())
	none(t, cp.violations, "violation for an unchanged binary")
	cur.Store(sum("v2"))
	e.CheckBinary(context.Background())
	v := recv(t, cp.violations)
	if v.Type != nodeproto.IntegrityBinary || v.Path != "/usr/local/bin/plexd" || v.ExpectedChecksum != sum("v1") || v.ActualChecksum != sum("v2") {
		t.Errorf("violation %+v", v)
	}
	e.CheckBinary(context.Background())
	none(t, cp.violations, "the same change reported twice")
}

func TestLoadHooks(t *testing.T) {
	dir := t.TempDir()
	ok := "command: /bin/true\nchecksum: " + sum("x") + "\n"
	for name, body := range map[string]string{
		"a.yaml":     "name: alpha\n" + ok,
		"b.yml":      "name: alpha\n" + ok, // duplicate
		"c.yaml":     "name: ping\n" + ok,  // a built-in
		"d.yaml":     "name: delta\ncommand: bin/true\nchecksum: " + sum("x") + "\n",
		"e.yaml":     "name: echo\n" + ok + "unknown: 1\n",
		"f.txt":      "name: ignored\n" + ok,
		".g.yaml":    "name: hidden\n" + ok,
		"h.yaml":     "name: hotel\n" + ok + "parameters:\n  - {name: a-b}\n  - {name: a_b}\n",
		"i.yaml":     "name: india\n" + ok + "timeout: 11m\n",
		"j.yaml":     "name: juliet\ncommand: /bin/true\nchecksum: " + strings.ToUpper(sum("x")) + "\n",
		"k.yaml":     "name: kilo\n" + ok + "---\nname: second\n",
		"z-ok.yaml":  "name: zulu\n" + ok + "parameters:\n  - {name: n, type: int}\n",
		"l-dir.yaml": "",
	} {
		if name == "l-dir.yaml" {
			must(t, os.Mkdir(filepath.Join(dir, name), 0o755))
			continue
		}
		must(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	hooks, errs := LoadHooks(dir, func(n string) bool { return n == "ping" })
	var names []string
	for _, h := range hooks {
		names = append(names, h.Name)
	}
	if !slices.Equal(names, []string{"alpha", "zulu"}) {
		t.Errorf("hooks %v", names)
	}
	if len(errs) != 8 {
		t.Errorf("%d errors: %v", len(errs), errs)
	}
	if hooks, errs := LoadHooks(filepath.Join(dir, "missing"), nil); hooks != nil || errs != nil {
		t.Errorf("missing dir: %v %v", hooks, errs)
	}
}

func TestParamEnv(t *testing.T) {
	for in, want := range map[string]string{"target": "PLEXD_PARAM_TARGET", "my-arg.v2": "PLEXD_PARAM_MY_ARG_V2", "Ab_9": "PLEXD_PARAM_AB_9"} {
		if got := ParamEnv(in); got != want {
			t.Errorf("ParamEnv(%q) = %q, want %q", in, got, want)
		}
	}
}
