package integration

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/plexd"
)

// recorded is one request the control plane received.
type recorded struct {
	method, path string
	header       http.Header
	body         []byte
}

// recorder sits in front of the control plane's handler and keeps every
// request (headers and the decoded body) before passing it on; streaming
// answers pass through untouched.
type recorder struct {
	next http.Handler
	// mu guards reqs.
	mu   sync.Mutex
	reqs []recorded
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	raw, _ := io.ReadAll(io.LimitReader(req.Body, 8<<20))
	req.Body.Close()
	req.Body = io.NopCloser(bytes.NewReader(raw))
	body := raw
	if req.Header.Get("Content-Encoding") == "gzip" {
		if zr, err := gzip.NewReader(bytes.NewReader(raw)); err == nil {
			if plain, err := io.ReadAll(io.LimitReader(zr, 8<<20)); err == nil {
				body = append(append([]byte{}, raw...), plain...) // both forms are searched
			}
		}
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, recorded{method: req.Method, path: req.URL.RequestURI(), header: req.Header.Clone(), body: body})
	r.mu.Unlock()
	r.next.ServeHTTP(w, req)
}

func (r *recorder) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

// keyForms are the encodings in which a 32-byte key could leak.
func keyForms(t *testing.T, b64 string) [][]byte {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != 32 {
		t.Fatalf("not a Key32: %v", err)
	}
	return [][]byte{
		[]byte(b64),
		[]byte(base64.RawStdEncoding.EncodeToString(raw)),
		[]byte(base64.URLEncoding.EncodeToString(raw)),
		[]byte(base64.RawURLEncoding.EncodeToString(raw)),
		[]byte(hex.EncodeToString(raw)),
		[]byte(strings.ToUpper(hex.EncodeToString(raw))),
		raw,
	}
}

// readKeys reads the WireGuard keys of plexd's identity file.
func readKeys(t *testing.T, dataDir string) (priv, pending, pub string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dataDir, "identity.json"))
	if err != nil {
		t.Fatal(err)
	}
	var id struct {
		Priv    string `json:"wireguard_private_key"`
		Pending string `json:"pending_wireguard_private_key"`
		Pub     string `json:"wireguard_public_key"`
	}
	if err := json.Unmarshal(raw, &id); err != nil {
		t.Fatal(err)
	}
	return id.Priv, id.Pending, id.Pub
}

// TestNoPrivateKeyReachesTheControlPlane runs plexd (netstack engine)
// through join, up, reconcile, heartbeats, endpoint reports and a key
// rotation against the real control plane behind a recorder, and then
// searches every request line, header and body the control plane received
// for the node's current and previous WireGuard private keys.
func TestNoPrivateKeyReachesTheControlPlane(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	// A proxy in front of the running control plane (its handler can be
	// built only once); FlushInterval -1 passes the event stream through.
	target, err := url.Parse(e.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.FlushInterval = -1
	rec := &recorder{next: proxy}
	front := httptest.NewServer(rec)
	t.Cleanup(front.Close)

	var dom apiv1.Domain
	if st, raw := e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: "keys", Slug: "keys", MeshCIDR: "100.66.0.0/24"}, &dom); st != 201 {
		t.Fatalf("create domain: %d %s", st, raw)
	}
	e.AllowAll(t, dom.ID) // a full mesh without policies (new Domains deny)
	var proj apiv1.Project
	if st, raw := e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: dom.ID, Name: "p", Slug: "p"}, &proj); st != 201 {
		t.Fatalf("create project: %d %s", st, raw)
	}
	var tok apiv1.IssuedBootstrapToken
	if st, raw := e.Do(t, "POST", "/v1/projects/"+proj.ID+"/bootstrap-tokens",
		apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "keys", MaxUses: 2}, &tok); st != 201 {
		t.Fatalf("issue token: %d %s", st, raw)
	}

	// Two nodes, so the observed one has a peer to reconcile and report on.
	sockDir, _ := os.MkdirTemp("", "plexd-keys")
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	var dataDirs []string
	var outs []*lockedBuffer
	for i := range 2 {
		dir := t.TempDir()
		tokFile := filepath.Join(dir, "token")
		os.WriteFile(tokFile, []byte(tok.Token+"\n"), 0o600)
		vars := map[string]string{
			"PLEXD_SERVER": front.URL, "PLEXD_DATA_DIR": filepath.Join(dir, "data"),
			"PLEXD_SOCKET": filepath.Join(sockDir, string(rune('a'+i))+".sock"), "PLEXD_TOKEN_FILE": tokFile,
			"PLEXD_HEARTBEAT_INTERVAL": "1s", "PLEXD_CONFIG": filepath.Join(dir, "none.yaml"),
		}
		os.WriteFile(vars["PLEXD_CONFIG"], []byte("log_level: debug\n"), 0o600)
		out := &lockedBuffer{}
		outs = append(outs, out)
		dataDirs = append(dataDirs, vars["PLEXD_DATA_DIR"])
		wg.Go(func() {
			code := plexd.Run(ctx, []string{"up", "--wireguard-backend", "netstack"},
				plexd.Env{Stdout: out, Stderr: out, Getenv: func(k string) string { return vars[k] }})
			if ctx.Err() == nil {
				t.Errorf("plexd %d exited early (%d):\n%s", i, code, out)
			}
		})
	}
	waitFor := func(what string, within time.Duration, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !ok() {
			if time.Now().After(deadline) {
				for i, o := range outs {
					t.Logf("plexd %d:\n%s", i, o)
				}
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	seen := func(method, suffix string) func() bool {
		return func() bool {
			for _, r := range rec.all() {
				if r.method == method && strings.HasSuffix(strings.SplitN(r.path, "?", 2)[0], suffix) {
					return true
				}
			}
			return false
		}
	}
	waitFor("both registrations", 20*time.Second, func() bool {
		_, err0 := os.Stat(filepath.Join(dataDirs[0], "identity.json"))
		_, err1 := os.Stat(filepath.Join(dataDirs[1], "identity.json"))
		return err0 == nil && err1 == nil
	})
	oldPriv, _, oldPub := readKeys(t, dataDirs[0])
	var nodeID string
	{
		raw, _ := os.ReadFile(filepath.Join(dataDirs[0], "identity.json"))
		var id struct {
			NodeID string `json:"node_id"`
		}
		json.Unmarshal(raw, &id)
		nodeID = id.NodeID
	}
	waitFor("a state pull", 20*time.Second, seen("GET", "/state"))
	waitFor("a heartbeat", 20*time.Second, seen("POST", "/heartbeat"))
	waitFor("an endpoint report", 20*time.Second, seen("PUT", "/endpoint"))

	// A key rotation: operator trigger → rotate_keys → POST /v1/keys/rotate.
	if st, raw := e.Do(t, "POST", "/v1/nodes/"+nodeID+"/keys/rotate", struct{}{}, nil); st >= 300 {
		t.Fatalf("trigger rotation: %d %s", st, raw)
	}
	waitFor("the rotated key in the identity", 20*time.Second, func() bool {
		_, _, pub := readKeys(t, dataDirs[0])
		return pub != oldPub
	})
	waitFor("the rotation call", 5*time.Second, seen("POST", "/v1/keys/rotate"))
	newPriv, pending, _ := readKeys(t, dataDirs[0])
	time.Sleep(2 * time.Second) // one more heartbeat and reconcile with the new key
	cancel()
	wg.Wait()

	secrets := map[string]string{"previous private key": oldPriv, "current private key": newPriv}
	if pending != "" {
		secrets["pending private key"] = pending
	}
	// The peer's keys must not leak either.
	p1, p1pending, _ := readKeys(t, dataDirs[1])
	secrets["peer's private key"] = p1
	if p1pending != "" {
		secrets["peer's pending private key"] = p1pending
	}
	reqs := rec.all()
	if len(reqs) < 6 {
		t.Fatalf("only %d requests recorded", len(reqs))
	}
	for what, key := range secrets {
		for _, form := range keyForms(t, key) {
			for _, r := range reqs {
				var hdr bytes.Buffer
				r.header.Write(&hdr)
				if bytes.Contains(r.body, form) || bytes.Contains(hdr.Bytes(), form) || strings.Contains(r.path, string(form)) {
					t.Errorf("the %s reached the control plane in %s %s", what, r.method, r.path)
				}
			}
		}
	}
	// The search finds what is there: each public key was sent (at
	// registration and on rotation).
	_, _, newPub := readKeys(t, dataDirs[0])
	for what, pub := range map[string]string{"registration public key": oldPub, "rotated public key": newPub} {
		found := false
		for _, r := range reqs {
			found = found || bytes.Contains(r.body, []byte(pub))
		}
		if !found {
			t.Errorf("the %s is in no recorded request: the recorder misses bodies", what)
		}
	}
	paths := map[string]bool{}
	for _, r := range reqs {
		paths[r.method+" "+strings.SplitN(r.path, "?", 2)[0]] = true
	}
	t.Logf("%d requests inspected: %v", len(reqs), paths)
}
