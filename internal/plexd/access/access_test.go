package access

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/plexsphere/plexsphere/internal/accesstoken"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

func tcpTarget(addr string) nodeproto.SessionTarget {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return nodeproto.SessionTarget{TCP: &nodeproto.TCPTarget{Host: host, Port: p}}
}

func k8sTarget(groups ...string) nodeproto.SessionTarget {
	return nodeproto.SessionTarget{K8s: &nodeproto.K8sTarget{User: "alice@example.com", ImpersonateGroups: groups}}
}

// refusalOf decodes a 401 answer and checks its form.
func refusalOf(t *testing.T, resp *http.Response) string {
	t.Helper()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var r refusal
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	if r.Detail == "" {
		t.Error("refusal without detail")
	}
	return r.Code
}

func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// TestRefusalCodes presents a bad token of every kind and expects each
// refusal code of the design.
func TestRefusalCodes(t *testing.T) {
	e := newEnv(t, nil)
	echo := echoServer(t)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	kube := func(token string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, "http://"+e.addr+KubePrefix+"/api/v1/pods", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	access := func(token string) *http.Response {
		c, resp := e.upgrade(token)
		if c != nil {
			t.Fatal("admitted")
		}
		return resp
	}
	cases := []struct {
		code string
		resp func() *http.Response
	}{
		{CodeMalformed, func() *http.Response { return access("not-a-token") }},
		{CodeSignature, func() *http.Response {
			ss := e.session(nodeproto.SessionTCP, tcpTarget(echo), nil)
			tok, _ := accesstoken.SignWithKey("k9", other, accesstoken.Claims{ID: ss.JTI, Kind: ss.Kind,
				Audience: jwt.Audience{accesstoken.NodeAudience(testNode)}, Expiry: jwt.NewNumericDate(ss.ExpiresAt)})
			return access(tok)
		}},
		{CodeAudience, func() *http.Response {
			ss := e.session(nodeproto.SessionTCP, tcpTarget(echo), nil)
			return access(e.token(ss, func(c *accesstoken.Claims) { c.Audience = jwt.Audience{accesstoken.NodeAudience("node-2")} }))
		}},
		{CodeExpired, func() *http.Response {
			ss := e.session(nodeproto.SessionTCP, tcpTarget(echo), nil)
			return access(e.token(ss, func(c *accesstoken.Claims) { c.Expiry = jwt.NewNumericDate(time.Now().Add(-time.Minute)) }))
		}},
		{CodeNotYetValid, func() *http.Response {
			ss := e.session(nodeproto.SessionTCP, tcpTarget(echo), nil)
			return access(e.token(ss, func(c *accesstoken.Claims) { c.NotBefore = jwt.NewNumericDate(time.Now().Add(time.Minute)) }))
		}},
		{CodeUnknown, func() *http.Response {
			ss := nodeproto.SessionSetup{JTI: "never-set-up", Kind: nodeproto.SessionTCP, ExpiresAt: time.Now().Add(time.Minute)}
			return access(e.token(ss, nil))
		}},
		{CodeRevoked, func() *http.Response {
			ss := e.session(nodeproto.SessionTCP, tcpTarget(echo), nil)
			e.srv.Revoke(ss.SessionID)
			return access(e.token(ss, nil))
		}},
		{CodeReplayed, func() *http.Response {
			ss := e.session(nodeproto.SessionTCP, tcpTarget(echo), nil)
			tok := e.token(ss, nil)
			if c, resp := e.upgrade(tok); c == nil {
				t.Fatalf("first use refused: %d", resp.StatusCode)
			}
			return access(tok)
		}},
		{CodeSourceRefused, func() *http.Response {
			ss := e.session(nodeproto.SessionTCP, tcpTarget(echo), func(s *nodeproto.SessionSetup) { s.Source = "100.64.0.9" })
			return access(e.token(ss, nil))
		}},
		{CodeKindMismatch, func() *http.Response {
			ss := e.session(nodeproto.SessionK8s, k8sTarget(), nil)
			return access(e.token(ss, nil))
		}},
		{CodeKindMismatch, func() *http.Response {
			ss := e.session(nodeproto.SessionTCP, tcpTarget(echo), nil)
			return kube(e.token(ss, nil))
		}},
		{CodeMalformed, func() *http.Response { return kube("") }},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			if got := refusalOf(t, tc.resp()); got != tc.code {
				t.Errorf("code %q, want %q", got, tc.code)
			}
		})
	}
}

// TestRefusalOrder: when several checks fail, the first in the design's
// order answers, and a refused attempt does not use the token up.
func TestRefusalOrder(t *testing.T) {
	e := newEnv(t, nil)
	echo := echoServer(t)
	// Revoked and from the wrong source: session_revoked comes first.
	ss := e.session(nodeproto.SessionTCP, tcpTarget(echo), func(s *nodeproto.SessionSetup) { s.Source = "100.64.0.9" })
	e.srv.Revoke(ss.SessionID)
	_, resp := e.upgrade(e.token(ss, nil))
	if got := refusalOf(t, resp); got != CodeRevoked {
		t.Errorf("code %q, want session_revoked", got)
	}
	// Wrong kind at /v1/kube does not spend the tcp token.
	ss = e.session(nodeproto.SessionTCP, tcpTarget(echo), nil)
	tok := e.token(ss, nil)
	req, _ := http.NewRequest(http.MethodGet, "http://"+e.addr+KubePrefix+"/api", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	kr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	kr.Body.Close()
	if c, resp := e.upgrade(tok); c == nil {
		t.Fatalf("token spent by a refused attempt: %d", resp.StatusCode)
	}
}

func TestUpgradeShape(t *testing.T) {
	e := newEnv(t, nil)
	resp, err := http.Get("http://" + e.addr + AccessPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("GET without Upgrade: %d, want 426", resp.StatusCode)
	}
	resp, err = http.Post("http://"+e.addr+AccessPath, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", resp.StatusCode)
	}
}

// TestSetupReplayKeepsTokenUsed: a replayed session_setup does not make a
// used jti usable; a revocation seen before its setup holds.
func TestSetupReplayKeepsTokenUsed(t *testing.T) {
	e := newEnv(t, nil)
	echo := echoServer(t)
	ss := e.session(nodeproto.SessionTCP, tcpTarget(echo), nil)
	tok := e.token(ss, nil)
	if c, _ := e.upgrade(tok); c == nil {
		t.Fatal("refused")
	}
	e.srv.Setup(ss)
	if _, resp := e.upgrade(tok); refusalOf(t, resp) != CodeReplayed {
		t.Error("replayed setup reset the jti")
	}
	e.srv.Revoke("sess-early")
	early := e.session(nodeproto.SessionTCP, tcpTarget(echo), func(s *nodeproto.SessionSetup) { s.SessionID, s.JTI = "sess-early", "sess-early" })
	if _, resp := e.upgrade(e.token(early, nil)); refusalOf(t, resp) != CodeRevoked {
		t.Error("a revocation before setup was forgotten")
	}
}

func TestSessionTableBounded(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxSessions = 2 })
	echo := echoServer(t)
	e.session(nodeproto.SessionTCP, tcpTarget(echo), nil)
	e.session(nodeproto.SessionTCP, tcpTarget(echo), nil)
	third := e.session(nodeproto.SessionTCP, tcpTarget(echo), nil)
	if _, resp := e.upgrade(e.token(third, nil)); refusalOf(t, resp) != CodeUnknown {
		t.Error("a setup past the bound was registered")
	}
	if st := e.srv.Stats(); st.Sessions != 2 {
		t.Errorf("Stats %+v, want 2 sessions", st)
	}
	// Once the first two expire they are forgotten and room is made.
	e.clk.advance(time.Hour)
	later := e.session(nodeproto.SessionTCP, tcpTarget(echo), nil)
	if c, resp := e.upgrade(e.token(later, nil)); c == nil {
		t.Fatalf("refused after expiry made room: %d", resp.StatusCode)
	}
}

func TestTCPSplice(t *testing.T) {
	e := newEnv(t, nil)
	ss := e.session(nodeproto.SessionTCP, tcpTarget(echoServer(t)), nil)
	c, resp := e.upgrade(e.token(ss, nil))
	if c == nil {
		t.Fatalf("refused: %d", resp.StatusCode)
	}
	msg := "ping through the mesh"
	io.WriteString(c, msg)
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo %q, %v", buf, err)
	}
	c.Close()
	e.rep.wait(t, "tcp session_ended", func(acts []reported, _ map[string][]recChunk) bool {
		for _, r := range acts {
			if a := r.a.TCP; a != nil && a.Phase == nodeproto.PhaseEnded {
				if a.TerminatedBy != nodeproto.TerminatedClient || a.BytesIn != int64(len(msg)) || a.BytesOut != int64(len(msg)) {
					t.Errorf("ended %+v", *a)
				}
				return true
			}
		}
		return false
	})
	if e.rep.acts[0].a.TCP == nil || e.rep.acts[0].a.TCP.Phase != nodeproto.PhaseStarted || e.rep.acts[0].sessionID != ss.SessionID {
		t.Errorf("first report %+v, want tcp session_started", e.rep.acts[0])
	}
}

// endedBy waits for the session's ended report and returns its reason.
func endedBy(t *testing.T, rep *fakeReporter, id string) string {
	t.Helper()
	var by string
	rep.wait(t, "session_ended", func(acts []reported, _ map[string][]recChunk) bool {
		for _, r := range acts {
			if r.sessionID != id {
				continue
			}
			if a := r.a.TCP; a != nil && a.Phase == nodeproto.PhaseEnded {
				by = a.TerminatedBy
				return true
			}
			if a := r.a.SSH; a != nil && a.Phase == nodeproto.PhaseEnded {
				by = a.TerminatedBy
				return true
			}
		}
		return false
	})
	return by
}

// closedWithin reads c until it is closed and fails after d.
func closedWithin(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("connection still open after %v", d)
	}
}

func TestExpiryAndIdleCloseTCP(t *testing.T) {
	e := newEnv(t, nil)
	echo := echoServer(t)
	ss := e.session(nodeproto.SessionTCP, tcpTarget(echo), nil)
	c, _ := e.upgrade(e.token(ss, nil))
	e.clk.advance(11 * time.Minute)
	closedWithin(t, c, time.Second)
	if by := endedBy(t, e.rep, ss.SessionID); by != nodeproto.TerminatedTTL {
		t.Errorf("terminated_by %q, want ttl_expired", by)
	}
	idle := e.session(nodeproto.SessionTCP, tcpTarget(echo), func(s *nodeproto.SessionSetup) { s.IdleTimeoutSeconds = 30 })
	c, _ = e.upgrade(e.token(idle, nil))
	e.clk.advance(31 * time.Second)
	closedWithin(t, c, time.Second)
	if by := endedBy(t, e.rep, idle.SessionID); by != nodeproto.TerminatedIdle {
		t.Errorf("terminated_by %q, want idle_timeout", by)
	}
}

func TestKubeProxy(t *testing.T) {
	type seen struct {
		path   string
		header http.Header
	}
	calls := make(chan seen, 4)
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls <- seen{r.URL.EscapedPath(), r.Header.Clone()}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"kind":"Pod"}`)
	}))
	t.Cleanup(api.Close)
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("node-credential\n"), 0o600)
	e := newEnv(t, func(o *Options) {
		o.Kube = KubeAPI{URL: api.URL + "/base", TokenFile: tokenFile, Transport: api.Client().Transport}
	})
	ss := e.session(nodeproto.SessionK8s, k8sTarget("dev", "ops"), nil)
	tok := e.token(ss, nil)
	for range 2 { // a k8s token admits calls until it expires
		req, _ := http.NewRequest(http.MethodGet, "http://"+e.addr+KubePrefix+"/api/v1/namespaces/default/pods/web", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Impersonate-User", "system:admin")
		req.Header.Set("Impersonate-Extra-Scopes", "all")
		req.Header.Add("Impersonate-Group", "system:masters")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != `{"kind":"Pod"}` {
			t.Fatalf("proxy answered %d %s", resp.StatusCode, body)
		}
		got := <-calls
		if got.path != "/base/api/v1/namespaces/default/pods/web" {
			t.Errorf("upstream path %q", got.path)
		}
		h := got.header
		if h.Get("Authorization") != "Bearer node-credential" {
			t.Errorf("Authorization %q", h.Get("Authorization"))
		}
		if u := h.Values("Impersonate-User"); !slices.Equal(u, []string{"alice@example.com"}) {
			t.Errorf("Impersonate-User %q", u)
		}
		if g := h.Values("Impersonate-Group"); !slices.Equal(g, []string{"dev", "ops"}) {
			t.Errorf("Impersonate-Group %q", g)
		}
		if h.Get("Impersonate-Extra-Scopes") != "" {
			t.Error("a client Impersonate-Extra header passed")
		}
	}
	e.rep.wait(t, "two k8s reports", func(acts []reported, _ map[string][]recChunk) bool { return len(acts) >= 2 })
	want := nodeproto.K8sActivity{Verb: "get", ResourceKind: "pods", Namespace: "default", Name: "web", StatusCode: 200}
	got := *e.rep.acts[0].a.K8s
	got.DurationMS = 0
	if got != want {
		t.Errorf("k8s activity %+v, want %+v", got, want)
	}
}

func TestKubeRevokeEndsWatch(t *testing.T) {
	started := make(chan struct{})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		close(started)
		<-r.Context().Done()
	}))
	t.Cleanup(api.Close)
	e := newEnv(t, func(o *Options) { o.Kube = KubeAPI{URL: api.URL} })
	ss := e.session(nodeproto.SessionK8s, k8sTarget(), nil)
	req, _ := http.NewRequest(http.MethodGet, "http://"+e.addr+KubePrefix+"/api/v1/pods?watch=true", nil)
	req.Header.Set("Authorization", "Bearer "+e.token(ss, nil))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	<-started
	if st := e.srv.Stats(); st.Connections != 1 {
		t.Errorf("Stats %+v, want one live call", st)
	}
	e.srv.Revoke(ss.SessionID)
	done := make(chan struct{})
	go func() { io.Copy(io.Discard, resp.Body); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("watch still open 1 s after revocation")
	}
	e.rep.wait(t, "watch report", func(acts []reported, _ map[string][]recChunk) bool {
		return len(acts) == 1 && acts[0].a.K8s.Verb == "watch" && acts[0].a.K8s.ResourceKind == "pods"
	})
}

func TestParseKubeRequest(t *testing.T) {
	cases := []struct {
		method, path string
		want         nodeproto.K8sActivity
	}{
		{"GET", "/v1/kube/api/v1/namespaces/default/pods", nodeproto.K8sActivity{Verb: "list", ResourceKind: "pods", Namespace: "default"}},
		{"GET", "/v1/kube/api/v1/namespaces/default/pods?watch=1", nodeproto.K8sActivity{Verb: "watch", ResourceKind: "pods", Namespace: "default"}},
		{"GET", "/v1/kube/api/v1/watch/namespaces/kube-system/pods/p1", nodeproto.K8sActivity{Verb: "watch", ResourceKind: "pods", Namespace: "kube-system", Name: "p1"}},
		{"GET", "/v1/kube/api/v1/namespaces/default/pods/web/log", nodeproto.K8sActivity{Verb: "get", ResourceKind: "pods/log", Namespace: "default", Name: "web"}},
		{"POST", "/v1/kube/apis/apps/v1/namespaces/prod/deployments", nodeproto.K8sActivity{Verb: "create", ResourceKind: "deployments", Namespace: "prod"}},
		{"PUT", "/v1/kube/apis/apps/v1/namespaces/prod/deployments/api", nodeproto.K8sActivity{Verb: "update", ResourceKind: "deployments", Namespace: "prod", Name: "api"}},
		{"PATCH", "/v1/kube/apis/apps/v1/namespaces/prod/deployments/api/scale", nodeproto.K8sActivity{Verb: "patch", ResourceKind: "deployments/scale", Namespace: "prod", Name: "api"}},
		{"DELETE", "/v1/kube/api/v1/namespaces/default/pods/web", nodeproto.K8sActivity{Verb: "delete", ResourceKind: "pods", Namespace: "default", Name: "web"}},
		{"DELETE", "/v1/kube/api/v1/namespaces/default/pods", nodeproto.K8sActivity{Verb: "deletecollection", ResourceKind: "pods", Namespace: "default"}},
		{"GET", "/v1/kube/api/v1/nodes/n1", nodeproto.K8sActivity{Verb: "get", ResourceKind: "nodes", Name: "n1"}},
		{"GET", "/v1/kube/api/v1/namespaces/team", nodeproto.K8sActivity{Verb: "get", ResourceKind: "namespaces", Namespace: "team", Name: "team"}},
		{"PUT", "/v1/kube/api/v1/namespaces/team/finalize", nodeproto.K8sActivity{Verb: "update", ResourceKind: "namespaces/finalize", Namespace: "team", Name: "team"}},
		{"GET", "/v1/kube/apis/rbac.authorization.k8s.io/v1/clusterroles", nodeproto.K8sActivity{Verb: "list", ResourceKind: "clusterroles"}},
		{"GET", "/v1/kube/version", nodeproto.K8sActivity{Verb: "get"}},
		{"GET", "/v1/kube/apis", nodeproto.K8sActivity{Verb: "get"}},
	}
	for _, tc := range cases {
		u, _ := url.Parse(tc.path)
		if got := parseKubeRequest(tc.method, u); got != tc.want {
			t.Errorf("%s %s: %+v, want %+v", tc.method, tc.path, got, tc.want)
		}
	}
}

func TestHostKeyPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "access_host_ed25519_key")
	a, err := loadHostKey(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("host key file %v, %v", st, err)
	}
	b, err := loadHostKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(a.PublicKey().Marshal()) != string(b.PublicKey().Marshal()) || a.PublicKey().Type() != "ssh-ed25519" {
		t.Error("the host key changed on reload or is not Ed25519")
	}
}

func TestNewValidates(t *testing.T) {
	for _, o := range []Options{{}, {NodeID: "n"}, {NodeID: "n", Keys: func() []ed25519.PublicKey { return nil }}} {
		if _, err := New(o); err == nil || !strings.Contains(err.Error(), "Options.") {
			t.Errorf("New(%+v) = %v, want an error naming the field", o, err)
		}
	}
}
