package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/plexd"
	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
)

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

// TestCLIHappyPathOnTheRealControlPlane runs the plexd commands an
// operator types against the real control plane: join with a token file,
// up, status -o json from the running agent's socket, then deregister,
// after which the control plane refuses the node's NSK.
func TestCLIHappyPathOnTheRealControlPlane(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	var dom apiv1.Domain
	if st, raw := e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: "cli", Slug: "cli", MeshCIDR: "100.65.0.0/24"}, &dom); st != 201 {
		t.Fatalf("create domain: %d %s", st, raw)
	}
	e.AllowAll(t, dom.ID) // a full mesh without policies (new Domains deny)
	var proj apiv1.Project
	if st, raw := e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: dom.ID, Name: "p", Slug: "p"}, &proj); st != 201 {
		t.Fatalf("create project: %d %s", st, raw)
	}
	var tok apiv1.IssuedBootstrapToken
	if st, raw := e.Do(t, "POST", "/v1/projects/"+proj.ID+"/bootstrap-tokens",
		apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "cli"}, &tok); st != 201 {
		t.Fatalf("issue token: %d %s", st, raw)
	}
	dir := t.TempDir()
	sockDir, _ := os.MkdirTemp("", "plexd-it")
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	tokFile := filepath.Join(dir, "token")
	os.WriteFile(tokFile, []byte(tok.Token+"\n"), 0o600)
	vars := map[string]string{
		"PLEXD_SERVER": e.URL, "PLEXD_DATA_DIR": filepath.Join(dir, "data"),
		"PLEXD_SOCKET": filepath.Join(sockDir, "api.sock"), "PLEXD_CONFIG": filepath.Join(dir, "plexd.yaml"),
	}
	os.WriteFile(vars["PLEXD_CONFIG"], []byte("log_level: debug\n"), 0o600)
	run := func(ctx context.Context, args ...string) (int, string, string) {
		var out, errb lockedBuffer
		code := plexd.Run(ctx, args, plexd.Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return vars[k] }, Mesh: mesh.NewMemory()})
		return code, out.String(), errb.String()
	}
	if code, out, errs := run(context.Background(), "join", "--token-file", tokFile); code != 0 || !strings.Contains(out, "joined as node") {
		t.Fatalf("join: %d %s %s", code, out, errs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var upOut, upErr string
	upDone := make(chan int, 1)
	go func() {
		var code int
		code, upOut, upErr = run(ctx, "up")
		upDone <- code
	}()
	var st agent.Status
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, out, _ := run(context.Background(), "status", "-o", "json")
		st = agent.Status{}
		json.Unmarshal([]byte(out), &st)
		if code == 0 && st.Connection == "connected" && st.LastReconcile != nil {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			<-upDone
			t.Fatalf("agent never connected: %+v\n%s", st, upErr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.HasPrefix(st.MeshIP, "100.65.0.") || st.Backend != "memory" || st.NodeID == "" {
		t.Errorf("status %+v", st)
	}
	cancel()
	if code := <-upDone; code != 0 {
		t.Errorf("up exited %d: %s", code, upErr)
	}
	raw, _ := os.ReadFile(filepath.Join(vars["PLEXD_DATA_DIR"], "identity.json"))
	var id struct {
		NSK string `json:"node_secret_key"`
	}
	json.Unmarshal(raw, &id)
	if id.NSK == "" || strings.Contains(upOut+upErr, id.NSK) || strings.Contains(upOut+upErr, tok.Token) {
		t.Error("the NSK or the bootstrap token appears in plexd's output")
	}
	if code, out, errs := run(context.Background(), "deregister"); code != 0 {
		t.Fatalf("deregister: %d %s %s", code, out, errs)
	}
	if st, raw := e.DoAs(t, id.NSK, "GET", "/v1/nodes/"+st.NodeID+"/state", nil, nil); st != 401 {
		t.Errorf("state with a deregistered NSK: %d %s, want 401", st, raw)
	}
}
