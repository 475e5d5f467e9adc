package plexctl

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apptest"
)

// live runs the plexctl tree in process against a real control plane
// (apptest: the whole composition root over loopback HTTP) as the
// first-start admin, with the wall clock.
type live struct {
	t   *testing.T
	e   *apptest.Env
	env map[string]string
}

func newLive(t *testing.T, b apptest.Backend) *live {
	t.Helper()
	e := apptest.Start(t, b)
	return &live{t: t, e: e, env: map[string]string{
		envConfig: filepath.Join(t.TempDir(), "plexctl", "config.yaml"),
		envServer: e.URL, envToken: e.Token,
	}}
}

func (l *live) run(args ...string) result {
	l.t.Helper()
	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(""), &out, &errb, func(k string) string { return l.env[k] })
	ctx, cancel := context.WithTimeout(l.t.Context(), 30*time.Second)
	defer cancel()
	code := a.run(ctx, args)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// ok runs args, fails the test unless the exit code is 0, and decodes the
// standard output into out when out is non-nil (pass -o json).
func (l *live) ok(out any, args ...string) result {
	l.t.Helper()
	r := l.run(args...)
	if r.code != ExitOK {
		l.t.Fatalf("plexctl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(r.stdout), out); err != nil {
			l.t.Fatalf("plexctl %s: %v\n%s", strings.Join(args, " "), err, r.stdout)
		}
	}
	return r
}

// project creates a Domain and a Project in it with plexctl and returns
// their ids.
func (l *live) project(slug, cidr string) (domainID, projectID string) {
	l.t.Helper()
	var d, p struct{ ID string }
	l.ok(&d, "-o", "json", "domains", "create", "--name", slug, "--slug", slug, "--mesh-cidr", cidr)
	l.ok(&p, "-o", "json", "projects", "create", "--domain", d.ID, "--name", slug, "--slug", slug)
	return d.ID, p.ID
}

// register enrols a node with a bootstrap token the way the agent does
// (POST /v1/register) and returns its id and mesh IP.
func (l *live) register(token, hostname string) (nodeID, meshIP string) {
	l.t.Helper()
	pub := make([]byte, 32)
	_, _ = rand.Read(pub)
	body, _ := json.Marshal(map[string]string{"token": token, "hostname": hostname,
		"public_key": base64.StdEncoding.EncodeToString(pub)})
	req, _ := http.NewRequest(http.MethodPost, l.e.URL+"/v1/register", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	var n struct {
		NodeID string `json:"node_id"`
		MeshIP string `json:"mesh_ip"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&n); err != nil || resp.StatusCode/100 != 2 || n.NodeID == "" {
		l.t.Fatalf("register: %d %v %+v", resp.StatusCode, err, n)
	}
	return n.NodeID, n.MeshIP
}
