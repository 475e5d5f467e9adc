package plexd

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/config"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/cptest"
	"github.com/plexsphere/plexsphere/internal/plexd/identity"
	"github.com/plexsphere/plexsphere/internal/plexd/localapi"
)

// waitUntil polls ok until it holds or 10 s pass.
func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// upNode runs `plexd up` against cp until the returned stop is called;
// stop returns the exit code.
type upNode struct {
	out, errb *lockedBuffer
	stop      func() int
}

func (e *plexdEnv) up(t *testing.T, cp *cptest.Server) *upNode {
	t.Helper()
	e.vars["PLEXD_SERVER"] = cp.URL
	os.WriteFile(e.vars["PLEXD_CONFIG"], []byte("log_level: debug\n"), 0o600)
	n := &upNode{out: &lockedBuffer{}, errb: &lockedBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- Run(ctx, []string{"up"}, e.env(n.out, n.errb)) }()
	stopped := false
	var code int
	n.stop = func() int {
		if !stopped {
			cancel()
			code, stopped = <-done, true
		}
		return code
	}
	t.Cleanup(func() { n.stop() })
	select {
	case <-cp.Connects:
	case <-time.After(10 * time.Second):
		n.stop()
		t.Fatalf("up never connected: %s", n.errb.String())
	}
	return n
}

// runCLI is e.run without rewriting the config file (up's is kept).
func (e *plexdEnv) runCLI(args ...string) run {
	e.t.Helper()
	var out, errb lockedBuffer
	code := Run(context.Background(), args, e.env(&out, &errb))
	return run{code, out.String(), errb.String()}
}

func nextPut(t *testing.T, cp *cptest.Server) cptest.SealingKeyPut {
	t.Helper()
	select {
	case p := <-cp.SealingKeys:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("plexd never registered a sealing key")
	}
	return cptest.SealingKeyPut{}
}

func nextFetch(t *testing.T, cp *cptest.Server) cptest.SecretFetch {
	t.Helper()
	select {
	case f := <-cp.SecretFetches:
		return f
	case <-time.After(10 * time.Second):
		t.Fatal("no secret fetch reached the control plane")
	}
	return cptest.SecretFetch{}
}

// filesUnder reads every regular file below dir.
func filesUnder(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(p)
		files[p] = raw
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestSecretsSealedEndToEnd: `plexd up` creates and registers its sealing
// key at level 2, `plexd secrets get` reads a value that travelled sealed
// and prints it exactly, `secrets list` shows the index; a control plane
// sealing to a key the node does not hold fails cleanly; afterwards no
// plaintext, in any encoding, is in any file of the data directory, and
// neither the value nor a private key is in plexd's output.
func TestSecretsSealedEndToEnd(t *testing.T) {
	cp := cptest.New(t, cptest.Options{})
	cp.AddToken("psb_sealed", 1)
	e := newEnv(t)
	e.vars["PLEXD_BOOTSTRAP_TOKEN"] = "psb_sealed"
	n := e.up(t, cp)
	id := e.identity()

	put := nextPut(t, cp)
	if put.Status != http.StatusOK || put.Level != 2 || put.NodeID != id.NodeID || put.PublicKey == id.PublicKey {
		t.Fatalf("sealing-key registration %+v (WireGuard key %s)", put, id.PublicKey)
	}
	store, _ := identity.NewStore(e.vars["PLEXD_DATA_DIR"])
	var sk *identity.SealingKey
	waitUntil(t, "the acknowledged kid on disk", func() bool {
		k, err := store.LoadSealingKey()
		sk = k
		return err == nil && k.Acknowledged(id.NodeID)
	})
	if sk.PublicKey != put.PublicKey || cp.SealingKey(id.NodeID) != sk.PublicKey {
		t.Fatal("the registered key is not the saved one")
	}
	if fi, _ := os.Stat(store.SealingKeyPath()); fi.Mode().Perm() != identity.FileMode {
		t.Errorf("sealing key file mode %v, want 0600", fi.Mode().Perm())
	}

	value := fmt.Sprintf("pg-Sealed-%d-ünï\n  trailing", time.Now().UnixNano())
	cp.SetSecret("db-password", value)
	r := e.runCLI("secrets", "get", "db-password")
	if r.code != ExitOK || r.stdout != value {
		t.Fatalf("secrets get = %d %q (stderr %s), want exactly %q", r.code, r.stdout, r.stderr, value)
	}
	if f := nextFetch(t, cp); !f.Sealed || f.Level != 2 || f.Status != http.StatusOK {
		t.Errorf("the fetch was %+v, want sealed at level 2", f)
	}
	r = e.runCLI("secrets", "get", "db-password", "-o", "json")
	var v localapi.SecretValue
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.Value != value || v.Key != "db-password" || v.Version != 1 {
		t.Errorf("secrets get -o json = %q %v", r.stdout, err)
	}

	cp.Emit(id.NodeID, nodeproto.EventNodeSecretsUpdated, nodeproto.NodeSecretsUpdated{
		SecretRefs: []nodeproto.SecretRef{{Key: "db-password", Version: 1}}})
	waitUntil(t, "the secret index", func() bool {
		r := e.runCLI("secrets", "list", "-o", "json")
		return r.code == ExitOK && strings.Contains(r.stdout, `"db-password"`)
	})
	if r := e.runCLI("secrets", "list"); r.code != ExitOK || !strings.Contains(r.stdout, "db-password  1") {
		t.Errorf("secrets list = %d %q", r.code, r.stdout)
	}

	// The control plane seals to a key this node does not hold.
	other, _ := identity.NewSealingKey(nil)
	cp.SetSealingKey(id.NodeID, other.PublicKey)
	r = e.runCLI("secrets", "get", "db-password")
	if r.code != ExitError || r.stdout != "" || !strings.Contains(r.stderr, "could not be decrypted") {
		t.Errorf("sealed to another key: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := e.runCLI("secrets", "get", "nope"); r.code != ExitError || !strings.Contains(r.stderr, `secret "nope" not found`) {
		t.Errorf("unknown secret: %d %q", r.code, r.stderr)
	}
	if code := n.stop(); code != ExitOK {
		t.Fatalf("up exited %d: %s", code, n.errb.String())
	}

	forms := map[string]string{"plaintext": value, "base64": base64.StdEncoding.EncodeToString([]byte(value)),
		"a distinctive part": "pg-Sealed-"}
	files := filesUnder(t, e.vars["PLEXD_DATA_DIR"])
	if _, ok := files[store.SealingKeyPath()]; !ok || len(files) < 3 {
		t.Fatalf("only %d files in the data directory; the scan proves nothing", len(files))
	}
	for p, raw := range files {
		for name, f := range forms {
			if bytes.Contains(raw, []byte(f)) {
				t.Errorf("the secret's %s is in %s", name, p)
			}
		}
	}
	logs := n.out.String() + n.errb.String()
	if !strings.Contains(logs, "sealing key registered") {
		t.Errorf("no registration in the log:\n%s", logs)
	}
	for name, f := range map[string]string{"secret value": "pg-Sealed-", "sealing private key": sk.PrivateKey} {
		if strings.Contains(logs, f) {
			t.Errorf("the %s is in plexd's output", name)
		}
	}
	noSecrets(t, id, "psb_sealed", logs)
}

// TestSecretsLevelOneFallback: a control plane without the sealing-key
// route (404) leaves the agent running at level-1 delivery; the failure is
// noted once and the next start asks again.
func TestSecretsLevelOneFallback(t *testing.T) {
	cp := cptest.New(t, cptest.Options{MaxLevel: 1})
	cp.AddToken("psb_old", 1)
	e := newEnv(t)
	e.vars["PLEXD_BOOTSTRAP_TOKEN"] = "psb_old"
	n := e.up(t, cp)
	if put := nextPut(t, cp); put.Status != http.StatusNotFound {
		t.Fatalf("registration at a level-1 control plane answered %d, want 404", put.Status)
	}
	cp.SetSecret("api-token", "tok-level-one-7d1e")
	if r := e.runCLI("secrets", "get", "api-token"); r.code != ExitOK || r.stdout != "tok-level-one-7d1e" {
		t.Fatalf("secrets get = %d %q %s", r.code, r.stdout, r.stderr)
	}
	if f := nextFetch(t, cp); f.Sealed || f.Level != 1 {
		t.Errorf("fetch %+v, want level 1 under the NSK", f)
	}
	if code := n.stop(); code != ExitOK {
		t.Fatalf("up exited %d: %s", code, n.errb.String())
	}
	if c := strings.Count(n.errb.String(), "takes no sealing keys"); c != 1 {
		t.Errorf("the older control plane was noted %d times, want once:\n%s", c, n.errb.String())
	}
	store, _ := identity.NewStore(e.vars["PLEXD_DATA_DIR"])
	k, err := store.LoadSealingKey()
	if err != nil || k.Acknowledged(e.identity().NodeID) {
		t.Fatalf("sealing key after a 404: %v (acknowledged: %v)", err, err == nil && k.Acknowledged(e.identity().NodeID))
	}
	again := e.up(t, cp)
	if put := nextPut(t, cp); put.PublicKey != k.PublicKey {
		t.Errorf("the next start registered %q, want the same key again", put.PublicKey)
	}
	again.stop()
}

// cliNode and cliSecrets stand in for the agent behind a local API the
// CLI tests serve themselves.
type cliNode struct{ refs []nodeproto.SecretRef }

func (n cliNode) View() agent.View     { return agent.View{SecretRefs: n.refs} }
func (n cliNode) Status() agent.Status { return agent.Status{} }

type cliSecrets struct{}

func (cliSecrets) OpenSecret(_ context.Context, key string) ([]byte, int64, error) {
	switch key {
	case "db":
		return []byte("v1"), 3, nil
	case "broken":
		return nil, 0, nodeproto.ErrSealedSecret
	case "down":
		return nil, 0, &cpclient.StatusError{Status: http.StatusServiceUnavailable}
	}
	return nil, 0, &cpclient.StatusError{Status: http.StatusNotFound}
}

// serveLocalAPI serves a local API on e's socket until the test ends.
func (e *plexdEnv) serveLocalAPI(t *testing.T, node cliNode, allow localapi.Authorizer) {
	t.Helper()
	api, err := localapi.New(localapi.Options{Node: node, Secrets: cliSecrets{}, Reports: localapi.NewReports(nil, nil, nil, 0),
		MaySeeSecrets: allow})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); api.Serve(ctx, e.vars["PLEXD_SOCKET"]) }()
	t.Cleanup(func() { cancel(); <-done })
	waitUntil(t, "the socket", func() bool {
		c, err := net.Dial("unix", e.vars["PLEXD_SOCKET"])
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// TestSecretsCLIErrors: every failure is a clear message and a non-zero
// exit, with nothing on stdout.
func TestSecretsCLIErrors(t *testing.T) {
	e := newEnv(t)
	if r := e.run("secrets", "get", "db"); r.code != ExitError || !strings.Contains(r.stderr, "plexd is not running") {
		t.Errorf("no agent: %d %q", r.code, r.stderr)
	}
	if r := e.run("secrets", "list"); r.code != ExitError || !strings.Contains(r.stderr, "plexd is not running") {
		t.Errorf("no agent (list): %d %q", r.code, r.stderr)
	}
	e.serveLocalAPI(t, cliNode{}, func(net.Conn) bool { return false })
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"secrets", "get", "db"}, ExitError, "permission denied: run as root or a member of group plexd-secrets"},
		{[]string{"secrets", "get", "db", "--secrets-group", "vault-readers"}, ExitError, "member of group vault-readers"},
		{[]string{"secrets", "get"}, ExitUsage, "accepts 1 arg"},
		{[]string{"secrets", "get", "a", "b"}, ExitUsage, "accepts 1 arg"},
		{[]string{"secrets", "list", "-o", "yaml"}, ExitUsage, "want text or json"},
	} {
		r := e.run(c.args...)
		if r.code != c.code || r.stdout != "" || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("%v = %d %q %q, want %d and %q", c.args, r.code, r.stdout, r.stderr, c.code, c.msg)
		}
	}
	if r := e.run("secrets", "list"); r.code != ExitOK || r.stdout != "No secrets are bound to this node.\n" {
		t.Errorf("empty list = %d %q", r.code, r.stdout)
	}
	if r := e.run("secrets", "list", "-o", "json"); r.code != ExitOK || r.stdout != "[]\n" {
		t.Errorf("empty list -o json = %d %q", r.code, r.stdout)
	}

	e = newEnv(t)
	e.serveLocalAPI(t, cliNode{}, func(net.Conn) bool { return true })
	for _, c := range []struct {
		name, msg string
	}{
		{"gone", `secret "gone" not found`},
		{"down", "control plane is unavailable"},
		{"broken", `secret "broken" could not be decrypted`},
	} {
		r := e.run("secrets", "get", c.name)
		if r.code != ExitError || r.stdout != "" || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("get %s = %d %q %q, want %q", c.name, r.code, r.stdout, r.stderr, c.msg)
		}
	}
	r := e.run("secrets", "get", "db", "-o", "json")
	if r.code != ExitOK || r.stdout != "{\n  \"key\": \"db\",\n  \"value\": \"v1\",\n  \"version\": 3\n}\n" {
		t.Errorf("get -o json = %d %q", r.code, r.stdout)
	}
}

// TestSecretsOutputGolden pins `plexd secrets list` text output and the
// help of `plexd secrets`.
func TestSecretsOutputGolden(t *testing.T) {
	var buf bytes.Buffer
	printSecretRefs(&buf, []nodeproto.SecretRef{{Key: "db-password", Version: 12}, {Key: "tls-key", Version: 1}})
	golden(t, "secrets-list.txt", buf.Bytes())
	e := newEnv(t)
	for name, args := range map[string][]string{
		"secrets-help.txt":     {"secrets", "--help"},
		"secrets-get-help.txt": {"secrets", "get", "--help"},
	} {
		r := e.run(args...)
		if r.code != ExitOK {
			t.Fatalf("%v: %d %s", args, r.code, r.stderr)
		}
		golden(t, name, []byte(r.stdout))
	}
}

// TestSecretsSocketPermission: a socket the user may not connect to
// (EACCES, as the kernel reports it through net) is a permission problem,
// told differently for a value and for the list.
func TestSecretsSocketPermission(t *testing.T) {
	cfg := &config.Config{Socket: "/run/plexd/api.sock", SecretsGroup: "plexd-secrets"}
	denied := &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.EACCES)}
	if err := secretsError(denied, "db", cfg); err.Error() != "permission denied: run as root or a member of group plexd-secrets" {
		t.Errorf("get: %v", err)
	}
	if err := secretsError(denied, "", cfg); !strings.Contains(err.Error(), "cannot connect to /run/plexd/api.sock") {
		t.Errorf("list: %v", err)
	}
	refused := &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	if err := secretsError(refused, "db", cfg); !strings.Contains(err.Error(), "plexd is not running") {
		t.Errorf("refused: %v", err)
	}
}
