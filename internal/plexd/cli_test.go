package plexd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/cptest"
	"github.com/plexsphere/plexsphere/internal/plexd/identity"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
)

// lockedBuffer is a goroutine-safe output sink.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type run struct {
	code           int
	stdout, stderr string
}

// plexdEnv is one test node's environment.
type plexdEnv struct {
	t       *testing.T
	vars    map[string]string
	prompt  func(string) (string, error)
	systemd []string
}

func newEnv(t *testing.T) *plexdEnv {
	dir := t.TempDir()
	sockDir, err := os.MkdirTemp("", "plexd-cli")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	return &plexdEnv{t: t, vars: map[string]string{
		"PLEXD_DATA_DIR": filepath.Join(dir, "data"),
		"PLEXD_SOCKET":   filepath.Join(sockDir, "api.sock"),
		"PLEXD_CONFIG":   filepath.Join(dir, "none.yaml"),
	}}
}

func (e *plexdEnv) env(stdout, stderr *lockedBuffer) Env {
	return Env{
		Stdout: stdout, Stderr: stderr, Getenv: func(k string) string { return e.vars[k] },
		Prompt: e.prompt, Executable: "/usr/local/bin/plexd", Mesh: mesh.NewMemory(),
		Systemctl: func(_ context.Context, args ...string) error {
			e.systemd = append(e.systemd, strings.Join(args, " "))
			return nil
		},
	}
}

func (e *plexdEnv) run(args ...string) run {
	e.t.Helper()
	os.WriteFile(e.vars["PLEXD_CONFIG"], nil, 0o600) // an empty config file: nothing is mandatory
	var out, errb lockedBuffer
	code := Run(context.Background(), args, e.env(&out, &errb))
	return run{code, out.String(), errb.String()}
}

func (e *plexdEnv) identity() *identity.Identity {
	e.t.Helper()
	s, _ := identity.NewStore(e.vars["PLEXD_DATA_DIR"])
	id, err := s.Load()
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func noSecrets(t *testing.T, id *identity.Identity, token string, outputs ...string) {
	t.Helper()
	for _, o := range outputs {
		for name, secret := range map[string]string{"NSK": id.NSK, "private key": id.PrivateKey, "bootstrap token": token} {
			if secret != "" && strings.Contains(o, secret) {
				t.Errorf("the %s appears in plexd's output", name)
			}
		}
	}
}

func TestJoinTokenSources(t *testing.T) {
	cp := cptest.New(t, cptest.Options{})
	for _, tc := range []struct {
		name  string
		setup func(e *plexdEnv, tok string) []string
	}{
		{"flag", func(e *plexdEnv, tok string) []string { return []string{"--token", tok} }},
		{"env", func(e *plexdEnv, tok string) []string { e.vars["PLEXD_BOOTSTRAP_TOKEN"] = tok; return nil }},
		{"file beats env", func(e *plexdEnv, tok string) []string {
			p := filepath.Join(e.t.TempDir(), "tok")
			os.WriteFile(p, []byte(tok+"\n"), 0o600)
			e.vars["PLEXD_BOOTSTRAP_TOKEN"] = "psb_wrong"
			return []string{"--token-file", p}
		}},
		{"prompt", func(e *plexdEnv, tok string) []string {
			e.prompt = func(label string) (string, error) { return tok, nil }
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tok := "psb_" + strings.ReplaceAll(tc.name, " ", "_")
			cp.AddToken(tok, 1)
			args := append([]string{"join", "--server", cp.URL, "--hostname", "h1"}, tc.setup(e, tok)...)
			r := e.run(args...)
			if r.code != ExitOK {
				t.Fatalf("join exited %d: %s", r.code, r.stderr)
			}
			id := e.identity()
			if !strings.Contains(r.stdout, id.NodeID) || !strings.Contains(r.stdout, id.MeshIP) {
				t.Errorf("join printed %q", r.stdout)
			}
			if id.Server != cp.URL || id.Hostname != "h1" {
				t.Errorf("identity %v", id)
			}
			noSecrets(t, id, tok, r.stdout, r.stderr)
			if again := e.run(args...); again.code != ExitError || !strings.Contains(again.stderr, "already joined") {
				t.Errorf("second join: %d %s", again.code, again.stderr)
			}
		})
	}
}

func TestJoinWithoutTokenOrServer(t *testing.T) {
	e := newEnv(t)
	r := e.run("join", "--server", "http://127.0.0.1:1")
	if r.code != ExitError || !strings.Contains(r.stderr, "PLEXD_BOOTSTRAP_TOKEN") {
		t.Errorf("no token: %d %s", r.code, r.stderr)
	}
	r = e.run("join", "--token", "psb_x")
	if r.code != ExitError || !strings.Contains(r.stderr, "--server") {
		t.Errorf("no server: %d %s", r.code, r.stderr)
	}
	if r := e.run("join", "--mode", "router"); r.code != ExitError || !strings.Contains(r.stderr, "mode") {
		t.Errorf("bad mode: %d %s", r.code, r.stderr)
	}
	if r := e.run("join", "--no-such-flag"); r.code != ExitUsage {
		t.Errorf("unknown flag exited %d, want %d", r.code, ExitUsage)
	}
	cp := cptest.New(t, cptest.Options{})
	if r := e.run("join", "--server", cp.URL, "--token", "psb_unknown"); r.code != ExitError || !strings.Contains(r.stderr, "401") {
		t.Errorf("rejected token: %d %s", r.code, r.stderr)
	}
}

// TestUpStatusDeregister runs `plexd up` against the stand-in, reads
// `plexd status -o json` from the running agent's socket, falls back to
// the identity file once it stops, then deregisters.
func TestUpStatusDeregister(t *testing.T) {
	cp := cptest.New(t, cptest.Options{})
	cp.AddToken("psb_up", 1)
	e := newEnv(t)
	e.vars["PLEXD_SERVER"] = cp.URL
	e.vars["PLEXD_BOOTSTRAP_TOKEN"] = "psb_up"
	var out, errb lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	os.WriteFile(e.vars["PLEXD_CONFIG"], []byte("log_level: debug\n"), 0o600)
	go func() { done <- Run(ctx, []string{"up"}, e.env(&out, &errb)) }()
	var conn cptest.Connect
	select {
	case conn = <-cp.Connects:
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("up never connected: %s", errb.String())
	}
	if conn.Header.Get(nodeproto.HeaderPlexdProtocol) != fmt.Sprint(nodeproto.MaxLevel) {
		t.Errorf("stream request lacks %s", nodeproto.HeaderPlexdProtocol)
	}
	if conn.Header.Get("Accept-Encoding") != "" {
		t.Errorf("stream request sent Accept-Encoding %q", conn.Header.Get("Accept-Encoding"))
	}
	id := e.identity()
	peer := nodeproto.Peer{ID: "peer-1", PublicKey: "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", MeshIP: "10.100.7.7", AllowedIPs: []string{"10.100.7.7/32"}}
	cp.Emit(id.NodeID, nodeproto.EventPeerAdded, peer)

	var st agent.Status
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := e.run("status", "-o", "json")
		st = agent.Status{}
		json.Unmarshal([]byte(r.stdout), &st)
		if r.code == ExitOK && st.Connection == "connected" && len(st.Peers) == 1 {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("status never showed the connected agent with its peer: %+v %s", st, r.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st.NodeID != id.NodeID || st.MeshIP != id.MeshIP || st.Backend != "memory" || st.Peers[0].ID != "peer-1" || st.Mode != "node" || st.ProtocolLevel != 2 {
		t.Errorf("status %+v", st)
	}
	if r := e.run("status"); !strings.Contains(r.stdout, "peer-1") || !strings.Contains(r.stdout, id.NodeID) {
		t.Errorf("text status:\n%s", r.stdout)
	}
	select {
	case hb := <-cp.Heartbeats:
		if hb.NodeID != id.NodeID || !nodeproto.ValidChecksum(hb.BinaryChecksum) {
			t.Errorf("heartbeat %+v: want node id and the test binary's checksum", hb)
		}
	case <-time.After(5 * time.Second):
		t.Error("no heartbeat")
	}
	cancel()
	if code := <-done; code != ExitOK {
		t.Errorf("up exited %d: %s", code, errb.String())
	}
	noSecrets(t, id, "psb_up", out.String(), errb.String())

	r := e.run("status", "-o", "json")
	json.Unmarshal([]byte(r.stdout), &st)
	if st.Connection != ConnNotRunning || st.NodeID != id.NodeID {
		t.Errorf("fallback status %+v", st)
	}
	r = e.run("deregister")
	if r.code != ExitOK || !cp.NodeRevoked(id.NodeID) {
		t.Fatalf("deregister: %d %s", r.code, r.stderr)
	}
	if r := e.run("status"); r.code != ExitError || !strings.Contains(r.stdout, ConnNotJoined) {
		t.Errorf("status after deregister: %d %s", r.code, r.stdout)
	}
}

func TestInstallUninstall(t *testing.T) {
	e := newEnv(t)
	unit := filepath.Join(t.TempDir(), "systemd", "plexd.service")
	r := e.run("install", "--unit-path", unit, "--server", "https://cp.example", "--token", "psb_secret", "--mode", "bridge",
		"--access-ssh-users", "ops=deploy,root", "--access-kube-api", "https://127.0.0.1:6443")
	if r.code != ExitOK {
		t.Fatalf("install: %d %s", r.code, r.stderr)
	}
	raw, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	body := string(raw)
	for _, want := range []string{
		"ExecStart=/usr/local/bin/plexd up --config " + e.vars["PLEXD_CONFIG"], "--server https://cp.example",
		"--data-dir " + e.vars["PLEXD_DATA_DIR"],
		"--mode bridge", "WantedBy=multi-user.target", "Restart=on-failure",
		"--access-ssh-users ops=deploy,root", "--access-kube-api https://127.0.0.1:6443",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("unit lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "psb_secret") {
		t.Error("the bootstrap token was written into the unit")
	}
	if strings.Join(e.systemd, ";") != "daemon-reload;enable --now plexd.service" {
		t.Errorf("systemctl calls %v", e.systemd)
	}
	e.systemd = nil
	if r := e.run("uninstall", "--unit-path", unit); r.code != ExitOK {
		t.Fatalf("uninstall: %d %s", r.code, r.stderr)
	}
	if _, err := os.Stat(unit); !errors.Is(err, os.ErrNotExist) {
		t.Error("unit file still present")
	}
	if strings.Join(e.systemd, ";") != "disable --now plexd.service;daemon-reload" {
		t.Errorf("systemctl calls %v", e.systemd)
	}
	e.systemd = nil
	if r := e.run("install", "--unit-path", unit, "--no-start"); r.code != ExitOK || len(e.systemd) != 0 {
		t.Errorf("install --no-start: %d, systemctl %v", r.code, e.systemd)
	}
}

// TestUnitFileCarriesAgentSettings: settings given on the command line
// at install reach the unit, including the WireGuard backend and the
// secrets group.
func TestUnitFileCarriesAgentSettings(t *testing.T) {
	e := newEnv(t)
	unit := filepath.Join(t.TempDir(), "plexd.service")
	r := e.run("install", "--unit-path", unit, "--no-start", "--secrets-group", "vault-readers", "--wireguard-backend", "netstack")
	if r.code != ExitOK {
		t.Fatalf("install: %d %s", r.code, r.stderr)
	}
	raw, _ := os.ReadFile(unit)
	for _, want := range []string{"--secrets-group vault-readers", "--wireguard-backend netstack"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("unit lacks %q:\n%s", want, raw)
		}
	}
}

func TestUnitFileQuoting(t *testing.T) {
	if got := quoteArg(`/opt/my dir/plexd`); got != `"/opt/my dir/plexd"` {
		t.Errorf("quoteArg = %s", got)
	}
	if got := quoteArg(`a$b%c`); got != `"a$$b%%c"` {
		t.Errorf("quoteArg = %s", got)
	}
}
