package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/config"
	"github.com/plexsphere/plexsphere/internal/plexd"
	"github.com/plexsphere/plexsphere/internal/secrets/openbao/baotest"
)

// socketClient talks HTTP to plexd's local API over its unix socket.
func socketClient(sock string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
}

// localSecret reads one secret through a node's local API.
func localSecret(t *testing.T, sock, name string) (int, string, int64) {
	t.Helper()
	resp, err := socketClient(sock).Get("http://plexd/v1/state/secrets/" + name)
	if err != nil {
		return 0, "", 0
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var v struct {
		Value   string `json:"value"`
		Version int64  `json:"version"`
	}
	json.Unmarshal(raw, &v)
	return resp.StatusCode, v.Value, v.Version
}

// TestSecretsReachBoundNodesOnly is issue 11's in-process harness: the
// real control plane on the OpenBao backend (against the wire-level
// stand-in), two real plexd (netstack engine), a secret bound to role=db.
// The db node reads it through its local API, the web node gets 404; a
// version written in OpenBao behind plexsphere's back reaches the db node;
// afterwards no plaintext value is in the database files, the control
// plane's logs, plexd's output or any plexd data directory.
func TestSecretsReachBoundNodesOnly(t *testing.T) {
	bao := baotest.New(t)
	e := apptest.StartLogged(t, apptest.SQLite, func(c *config.Config) {
		c.SecretsBackend = "openbao"
		c.OpenBaoAddr = bao.URL()
		tokFile := filepath.Join(t.TempDir(), "bao-token")
		os.WriteFile(tokFile, []byte(bao.RootToken()), 0o600)
		c.OpenBaoTokenFile = tokFile
		c.OpenBaoCACert = bao.CACertFile()
		c.SecretsWatchInterval = time.Second
	})
	enr := e.NewEnrolment(t, "sec", "100.71.0.0/24", 2)
	roleID, role := e.DefineNodeLabel(t, enr.Domain.ID, "role")

	sockDir, _ := os.MkdirTemp("", "plexd-sec")
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	type host struct {
		name, dataDir, sock string
		out                 *apptest.Logs
	}
	hosts := []*host{{name: "db1"}, {name: "web1"}}
	for _, h := range hosts {
		dir := t.TempDir()
		h.dataDir, h.sock, h.out = filepath.Join(dir, "data"), filepath.Join(sockDir, h.name+".sock"), &apptest.Logs{}
		tokFile := filepath.Join(dir, "token")
		os.WriteFile(tokFile, []byte(enr.Token.Token+"\n"), 0o600)
		vars := map[string]string{"PLEXD_SERVER": e.URL, "PLEXD_DATA_DIR": h.dataDir, "PLEXD_SOCKET": h.sock,
			"PLEXD_TOKEN_FILE": tokFile, "PLEXD_HEARTBEAT_INTERVAL": "1s", "PLEXD_CONFIG": filepath.Join(dir, "plexd.yaml")}
		os.WriteFile(vars["PLEXD_CONFIG"], []byte("log_level: debug\n"), 0o600)
		wg.Go(func() {
			code := plexd.Run(ctx, []string{"up", "--wireguard-backend", "netstack", "--hostname", h.name},
				plexd.Env{Stdout: h.out, Stderr: h.out, Getenv: func(k string) string { return vars[k] }})
			if ctx.Err() == nil {
				t.Errorf("plexd %s exited early (%d):\n%s", h.name, code, h.out.Bytes())
			}
		})
	}
	waitFor := func(what string, within time.Duration, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !ok() {
			if time.Now().After(deadline) {
				for _, h := range hosts {
					t.Logf("plexd %s:\n%s", h.name, h.out.Bytes())
				}
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	nodeIDs := map[string]string{}
	waitFor("both registrations", 20*time.Second, func() bool {
		for _, h := range hosts {
			raw, err := os.ReadFile(filepath.Join(h.dataDir, "identity.json"))
			var id struct {
				NodeID string `json:"node_id"`
			}
			if err != nil || json.Unmarshal(raw, &id) != nil || id.NodeID == "" {
				return false
			}
			nodeIDs[h.name] = id.NodeID
		}
		return true
	})
	e.LabelNode(t, roleID, nodeIDs["db1"], "db")
	e.LabelNode(t, roleID, nodeIDs["web1"], "web")

	const v1, v2 = "pg-s3cret-first-4f1d", "pg-s3cret-rotated-9c2e"
	path := "/v1/projects/" + enr.Project.ID + "/secrets/db-password"
	if st, raw := e.Do(t, "PUT", path, apiv1.SecretPutRequest{Value: base64.StdEncoding.EncodeToString([]byte(v1))}, nil); st != 200 {
		t.Fatalf("put: %d %s", st, raw)
	}
	if st, raw := e.Do(t, "POST", path+"/bindings", apiv1.SecretBindingRequest{Selector: role + "=db"}, nil); st != 201 {
		t.Fatalf("bind: %d %s", st, raw)
	}
	db, web := hosts[0], hosts[1]
	waitFor("the db node reading the secret", 20*time.Second, func() bool {
		st, val, ver := localSecret(t, db.sock, "db-password")
		return st == 200 && val == v1 && ver == 1
	})
	if st, _, _ := localSecret(t, web.sock, "db-password"); st != http.StatusNotFound {
		t.Errorf("the web node's local API answered %d, want 404", st)
	}

	// An operator writes a new version directly in OpenBao.
	rotated := time.Now()
	bao.WriteOutOfBand(fmt.Sprintf("secret/plexsphere/%s/%s/db-password", enr.Domain.ID, enr.Project.ID), []byte(v2))
	waitFor("the out-of-band version on the db node", 15*time.Second, func() bool {
		st, val, ver := localSecret(t, db.sock, "db-password")
		return st == 200 && val == v2 && ver == 2
	})
	t.Logf("out-of-band version reached the db node after %v", time.Since(rotated).Round(time.Millisecond))
	// …and its index, through node_secrets_updated.
	waitFor("the db node's index at version 2", 10*time.Second, func() bool {
		resp, err := socketClient(db.sock).Get("http://plexd/v1/state/secrets")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var refs []struct {
			Key     string `json:"key"`
			Version int64  `json:"version"`
		}
		json.NewDecoder(resp.Body).Decode(&refs)
		return len(refs) == 1 && refs[0].Version == 2
	})
	cancel()
	wg.Wait()
	e.Server.Close()

	// No plaintext anywhere it must not be.
	places := map[string][]byte{"control plane logs": e.Logs.Bytes()}
	for _, h := range hosts {
		places["plexd "+h.name+" output"] = h.out.Bytes()
	}
	for _, dir := range []string{e.DataDir, hosts[0].dataDir, hosts[1].dataDir} {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				raw, _ := os.ReadFile(p)
				places[p] = raw
			}
			return nil
		})
	}
	if len(places) < 6 {
		t.Fatalf("only %d places searched", len(places))
	}
	for where, raw := range places {
		for _, v := range []string{v1, v2, base64.StdEncoding.EncodeToString([]byte(v1)), base64.StdEncoding.EncodeToString([]byte(v2))} {
			if bytes.Contains(raw, []byte(v)) {
				t.Errorf("a secret value (%q) is in %s", v[:6], where)
			}
		}
	}
	// The search finds what is there: the database files hold the name.
	found := false
	for where, raw := range places {
		found = found || filepath.IsAbs(where) && bytes.Contains(raw, []byte("db-password"))
	}
	if !found {
		t.Error("the secret's name is in no searched file: the search proves nothing")
	}
}
