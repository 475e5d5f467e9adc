package actions

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// fakeExec records system commands and answers with a fixed output.
type fakeExec struct {
	mu    sync.Mutex
	calls [][]string
	out   string
	code  int
	err   error
}

func (f *fakeExec) run(_ context.Context, name string, args []string, stdout, _ io.Writer) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, append([]string{name}, args...))
	if f.err != nil {
		return -1, f.err
	}
	io.WriteString(stdout, f.out)
	return f.code, nil
}

func (f *fakeExec) called() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func TestGatherInfo(t *testing.T) {
	cp := newFakeCP()
	e := start(t, cp, Options{Status: func() NodeStatus { return NodeStatus{MeshIP: "100.64.0.7", PeerCount: 3} }})
	tb := &nodeproto.TriggeredBy{Type: "user", UserID: "u1"}
	_, res := run(t, e, cp, nodeproto.ActionRequest{ExecutionID: "e1", Action: nodeproto.BuiltinGatherInfo, TriggeredBy: tb})
	if res.Status != nodeproto.ResultSuccess || res.ExitCode != 0 || res.TriggeredBy == nil || res.TriggeredBy.UserID != "u1" {
		t.Fatalf("result %+v", res)
	}
	var gi nodeproto.GatherInfo
	if err := json.Unmarshal([]byte(res.Stdout), &gi); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	want := nodeproto.GatherInfo{Hostname: host, OS: runtime.GOOS, Arch: runtime.GOARCH, GoVersion: runtime.Version(),
		MeshIP: "100.64.0.7", PeerCount: 3, NodeID: testNode}
	if gi != want {
		t.Errorf("gather_info %+v, want %+v", gi, want)
	}
	if res.FinishedAt.Location().String() != "UTC" || res.Duration == "" {
		t.Errorf("finished_at %v, duration %q", res.FinishedAt, res.Duration)
	}
}

func TestPingRunsSystemPing(t *testing.T) {
	cp := newFakeCP()
	fx := &fakeExec{out: "3 packets transmitted, 3 received\n"}
	e := start(t, cp, Options{Exec: fx.run})
	_, res := run(t, e, cp, nodeproto.ActionRequest{ExecutionID: "e1", Action: nodeproto.BuiltinPing,
		Parameters: map[string]string{"target": "10.0.0.9"}})
	if res.Status != nodeproto.ResultSuccess || !strings.Contains(res.Stdout, "3 received") {
		t.Fatalf("result %+v", res)
	}
	if got := fx.called(); len(got) != 1 || strings.Join(got[0], " ") != "ping -c 3 -W 1 10.0.0.9" {
		t.Errorf("commands %q", got)
	}
	fx.code = 1
	_, res = run(t, e, cp, nodeproto.ActionRequest{ExecutionID: "e2", Action: nodeproto.BuiltinPing,
		Parameters: map[string]string{"target": "10.0.0.9"}})
	if res.Status != nodeproto.ResultFailed || res.ExitCode != 1 {
		t.Errorf("unreachable target: %+v", res)
	}
}

func TestPingFallsBackToTCP(t *testing.T) {
	cp := newFakeCP()
	fx := &fakeExec{err: fmt.Errorf("ping: %w", exec.ErrNotFound)}
	e := start(t, cp, Options{Exec: fx.run})
	_, res := run(t, e, cp, nodeproto.ActionRequest{ExecutionID: "e1", Action: nodeproto.BuiltinPing,
		Parameters: map[string]string{"target": "127.0.0.1"}})
	// Loopback answers every port: open or refused.
	if res.Status != nodeproto.ResultSuccess || !strings.Contains(res.Stdout, "tcp/22:") || !strings.Contains(res.Stdout, "is reachable") {
		t.Fatalf("result %+v", res)
	}
}

func TestParameterValidation(t *testing.T) {
	cp := newFakeCP()
	fx := &fakeExec{}
	e := start(t, cp, Options{Exec: fx.run, ServiceAllow: []string{"nginx"}})
	for i, c := range []struct {
		action string
		params map[string]string
		want   string
	}{
		{nodeproto.BuiltinPing, map[string]string{"target": "example.com"}, `parameter "target" is not a valid ip`},
		{nodeproto.BuiltinPing, nil, `missing required parameter "target"`},
		{nodeproto.BuiltinPing, map[string]string{"target": "10.0.0.1", "count": "3"}, `unknown parameter "count"`},
		{BuiltinServiceRestart, map[string]string{"unit": ""}, `missing required parameter "unit"`},
		{BuiltinFileRead, map[string]string{"path": "etc/passwd"}, `parameter "path" is not a valid path`},
		{BuiltinDiagnosticsBundle, map[string]string{"lines": "many"}, `parameter "lines" is not a valid int`},
		{nodeproto.BuiltinGatherInfo, map[string]string{"x": "1"}, `unknown parameter "x"`},
	} {
		_, res := run(t, e, cp, nodeproto.ActionRequest{ExecutionID: fmt.Sprintf("p%d", i), Action: c.action, Parameters: c.params})
		if res.Status != nodeproto.ResultError || !strings.Contains(res.Error, c.want) {
			t.Errorf("%s %v: %s %q, want error %q", c.action, c.params, res.Status, res.Error, c.want)
		}
	}
	if len(fx.called()) != 0 {
		t.Errorf("a command ran with invalid parameters: %q", fx.called())
	}
}

func TestServiceRestartAllowList(t *testing.T) {
	cp := newFakeCP()
	fx := &fakeExec{}
	e := start(t, cp, Options{Exec: fx.run, ServiceAllow: []string{"nginx", "plexd-demo.service"}})
	for i, unit := range []string{"nginx", "nginx.service", "plexd-demo"} {
		_, res := run(t, e, cp, nodeproto.ActionRequest{ExecutionID: fmt.Sprintf("ok%d", i), Action: BuiltinServiceRestart,
			Parameters: map[string]string{"unit": unit}})
		if res.Status != nodeproto.ResultSuccess {
			t.Errorf("unit %s: %+v", unit, res)
		}
	}
	want := [][]string{{"systemctl", "restart", "--", "nginx.service"}, {"systemctl", "restart", "--", "nginx.service"},
		{"systemctl", "restart", "--", "plexd-demo.service"}}
	if got := fx.called(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("commands %q", got)
	}
	for i, unit := range []string{"sshd", "--no-block", "nginx.service; reboot"} {
		_, res := run(t, e, cp, nodeproto.ActionRequest{ExecutionID: fmt.Sprintf("no%d", i), Action: BuiltinServiceRestart,
			Parameters: map[string]string{"unit": unit}})
		if res.Status != nodeproto.ResultError || res.Error == "" {
			t.Errorf("unit %q ran: %+v", unit, res)
		}
	}
	if len(fx.called()) != 3 {
		t.Errorf("a refused unit was restarted: %q", fx.called())
	}
	fx.code = 5
	_, res := run(t, e, cp, nodeproto.ActionRequest{ExecutionID: "fail", Action: BuiltinServiceRestart, Parameters: map[string]string{"unit": "nginx"}})
	if res.Status != nodeproto.ResultFailed || res.ExitCode != 5 {
		t.Errorf("failing systemctl: %+v", res)
	}
}

func TestFileReadAllowListAndSymlinks(t *testing.T) {
	root := t.TempDir()
	allowed, secret := filepath.Join(root, "allowed"), filepath.Join(root, "secret")
	for _, d := range []string{allowed, secret, filepath.Join(allowed, "sub")} {
		os.MkdirAll(d, 0o755)
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(allowed, "sub", "app.log"), "hello log\n")
	write(filepath.Join(secret, "key"), "TOP SECRET")
	write(filepath.Join(root, "allowed-sibling"), "not under the prefix")
	must(t, os.Symlink(filepath.Join(secret, "key"), filepath.Join(allowed, "escape")))
	must(t, os.Symlink(secret, filepath.Join(allowed, "dirlink")))
	must(t, os.Symlink(filepath.Join(allowed, "sub", "app.log"), filepath.Join(allowed, "inner")))

	cp := newFakeCP()
	e := start(t, cp, Options{FileAllow: []string{allowed}})
	read := func(id, path, enc string) nodeproto.ExecutionResult {
		p := map[string]string{"path": path}
		if enc != "" {
			p["encoding"] = enc
		}
		_, res := run(t, e, cp, nodeproto.ActionRequest{ExecutionID: id, Action: BuiltinFileRead, Parameters: p})
		return res
	}
	if res := read("ok", filepath.Join(allowed, "sub", "app.log"), ""); res.Status != nodeproto.ResultSuccess || res.Stdout != "hello log\n" {
		t.Errorf("allowed file: %+v", res)
	}
	if res := read("inner", filepath.Join(allowed, "inner"), "base64"); res.Status != nodeproto.ResultSuccess ||
		res.Stdout != base64.StdEncoding.EncodeToString([]byte("hello log\n")) {
		t.Errorf("symlink within the prefix: %+v", res)
	}
	for id, path := range map[string]string{
		"escape":  filepath.Join(allowed, "escape"),
		"dirlink": filepath.Join(allowed, "dirlink", "key"),
		"dotdot":  filepath.Join(allowed, "..", "secret", "key"),
		"sibling": filepath.Join(root, "allowed-sibling"),
	} {
		res := read(id, path, "")
		if res.Status != nodeproto.ResultError || !strings.Contains(res.Error, "outside the file allow-list") || strings.Contains(res.Stdout, "SECRET") {
			t.Errorf("%s (%s): %+v", id, path, res)
		}
	}
	if res := read("dir", filepath.Join(allowed, "sub"), ""); res.Status != nodeproto.ResultError {
		t.Errorf("a directory was read: %+v", res)
	}
	big := filepath.Join(allowed, "big")
	write(big, strings.Repeat("x", MaxOutput+100))
	if res := read("big", big, ""); res.Status != nodeproto.ResultSuccess || res.Stdout != strings.Repeat("x", MaxOutput)+Truncated {
		t.Errorf("big file: status %s, %d bytes", res.Status, len(res.Stdout))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestDiagnosticsBundle(t *testing.T) {
	ring := NewLogRing(10)
	log := slog.New(ring.Handler(slog.NewJSONHandler(io.Discard, nil)))
	log.Info("first line")
	log.Info("second line")
	cp := newFakeCP()
	e := start(t, cp, Options{Logs: ring, Status: func() NodeStatus {
		return NodeStatus{MeshIP: "100.64.0.2", Detail: map[string]string{"connection": "connected"}}
	}})
	_, res := run(t, e, cp, nodeproto.ActionRequest{ExecutionID: "d1", Action: BuiltinDiagnosticsBundle, Parameters: map[string]string{"lines": "1"}})
	if res.Status != nodeproto.ResultSuccess {
		t.Fatalf("result %+v", res)
	}
	files := untar(t, res.Stdout)
	if !strings.Contains(files["status.json"], `"connection": "connected"`) || !strings.Contains(files["info.json"], "100.64.0.2") ||
		!strings.Contains(files["capabilities.json"], BuiltinDiagnosticsBundle) {
		t.Errorf("bundle files %v", files)
	}
	if !strings.Contains(files["plexd.log"], "second line") || strings.Contains(files["plexd.log"], "first line") {
		t.Errorf("plexd.log %q (want only the newest line)", files["plexd.log"])
	}
}

func untar(t *testing.T, b64 string) map[string]string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[h.Name] = string(b)
	}
}

func TestBundleShrinksToFit(t *testing.T) {
	ring := NewLogRing(1000)
	for range 1000 {
		noise := make([]byte, 1200) // incompressible: 1000 lines gzip to more than the bound
		rand.Read(noise)
		fmt.Fprintf(ring, `{"msg":"%s"}`, base64.StdEncoding.EncodeToString(noise))
	}
	cp := newFakeCP()
	e := start(t, cp, Options{Logs: ring})
	_, res := run(t, e, cp, nodeproto.ActionRequest{ExecutionID: "d1", Action: BuiltinDiagnosticsBundle})
	if res.Status != nodeproto.ResultSuccess || len(res.Stdout) > MaxOutput || strings.HasSuffix(res.Stdout, Truncated) {
		t.Fatalf("status %s, %d bytes", res.Status, len(res.Stdout))
	}
	log := untar(t, res.Stdout)["plexd.log"]
	if n := strings.Count(log, "\n"); n == 0 || n >= 1000 {
		t.Errorf("%d log lines kept", n)
	}
}
