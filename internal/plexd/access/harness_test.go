package access

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/user"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/plexsphere/plexsphere/internal/accesstoken"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

const (
	testNode = "node-1"
	waitFor  = 10 * time.Second
)

// fakeReporter records every report and wakes waiters.
type fakeReporter struct {
	// mu guards acts and recs.
	mu     sync.Mutex
	acts   []reported
	recs   map[string][]recChunk
	notify chan struct{}
}

type reported struct {
	sessionID string
	a         nodeproto.SessionActivity
}

type recChunk struct {
	offset int64
	data   []byte
	final  bool
}

func newFakeReporter() *fakeReporter {
	return &fakeReporter{recs: map[string][]recChunk{}, notify: make(chan struct{}, 1)}
}

func (f *fakeReporter) wake() {
	select {
	case f.notify <- struct{}{}:
	default:
	}
}

func (f *fakeReporter) Activity(_ context.Context, id string, a nodeproto.SessionActivity) error {
	if err := a.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	f.acts = append(f.acts, reported{id, a})
	f.mu.Unlock()
	f.wake()
	return nil
}

func (f *fakeReporter) Recording(_ context.Context, id string, off int64, chunk []byte, final bool) error {
	if len(chunk) > nodeproto.MaxRecordingChunk {
		return fmt.Errorf("chunk of %d bytes", len(chunk))
	}
	f.mu.Lock()
	f.recs[id] = append(f.recs[id], recChunk{off, append([]byte(nil), chunk...), final})
	f.mu.Unlock()
	f.wake()
	return nil
}

// wait waits until cond holds on the reports.
func (f *fakeReporter) wait(t *testing.T, what string, cond func(acts []reported, recs map[string][]recChunk) bool) {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		f.mu.Lock()
		ok := cond(f.acts, f.recs)
		f.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-f.notify:
		case <-deadline:
			f.mu.Lock()
			defer f.mu.Unlock()
			t.Fatalf("timed out waiting for %s; reports %+v", what, f.acts)
		}
	}
}

// recording is the concatenation of a session's chunks, checked for
// contiguous offsets and one final chunk last.
func (f *fakeReporter) recording(t *testing.T, id string) []byte {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []byte
	chunks := f.recs[id]
	for i, c := range chunks {
		if c.offset != int64(len(out)) {
			t.Fatalf("chunk %d at offset %d, want %d", i, c.offset, len(out))
		}
		if c.final != (i == len(chunks)-1) {
			t.Fatalf("chunk %d final=%v of %d chunks", i, c.final, len(chunks))
		}
		out = append(out, c.data...)
	}
	return out
}

// fakeClock is settable time; After waits in real time.
type fakeClock struct{ off atomic.Int64 }

func (c *fakeClock) Now() time.Time                         { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *fakeClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (c *fakeClock) advance(d time.Duration)                { c.off.Add(int64(d)) }

// env is one access server on loopback with a Domain key.
type env struct {
	t      testing.TB
	srv    *Server
	addr   string
	rep    *fakeReporter
	key    ed25519.PrivateKey
	clk    *fakeClock
	client gossh.Signer // the operator's key
	n      int
}

// currentUser is the account the tests' ssh sessions map to.
func currentUser(t testing.TB) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Skip("no current user:", err)
	}
	return u.Username
}

func newEnv(t testing.TB, mod func(*Options)) *env {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	_, ck, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := gossh.NewSignerFromKey(ck)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, rep: newFakeReporter(), key: key, clk: &fakeClock{}, client: signer}
	opts := Options{
		NodeID: testNode, Reporter: e.rep, Clock: e.clk,
		Keys:     func() []ed25519.PublicKey { return []ed25519.PublicKey{key.Public().(ed25519.PublicKey)} },
		SSHUsers: map[string]string{"alice": currentUser(t)},
	}
	if mod != nil {
		mod(&opts)
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	e.srv, e.addr = srv, ln.Addr().String()
	return e
}

// session registers a session of kind and returns its setup.
func (e *env) session(kind string, target nodeproto.SessionTarget, mod func(*nodeproto.SessionSetup)) nodeproto.SessionSetup {
	e.n++
	ss := nodeproto.SessionSetup{
		SessionID: fmt.Sprintf("sess-%d", e.n), JTI: fmt.Sprintf("sess-%d", e.n), Kind: kind, Target: target,
		ExpiresAt: e.clk.Now().Add(10 * time.Minute).UTC().Truncate(time.Second), Source: "127.0.0.1",
		CallbackURL: "https://cp.example/v1/nodes/node-1/sessions/x",
	}
	if kind == nodeproto.SessionSSH {
		ss.AuthorizedKey = string(gossh.MarshalAuthorizedKey(e.client.PublicKey()))
	}
	if mod != nil {
		mod(&ss)
	}
	e.srv.Setup(ss)
	return ss
}

func sshTarget(cmds ...string) nodeproto.SessionTarget {
	return nodeproto.SessionTarget{SSH: &nodeproto.SSHTarget{User: "alice", AllowedCommands: cmds}}
}

// token signs the claims of ss (mod changes them).
func (e *env) token(ss nodeproto.SessionSetup, mod func(*accesstoken.Claims)) string {
	e.t.Helper()
	now := e.clk.Now()
	c := accesstoken.Claims{
		Issuer: accesstoken.DomainIssuer("d1"), Subject: "ident-1",
		Audience: jwt.Audience{accesstoken.ResourceAudience("r1"), accesstoken.NodeAudience(testNode)},
		ID:       ss.JTI, IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
		Expiry: jwt.NewNumericDate(ss.ExpiresAt), Kind: ss.Kind, Target: ss.Target,
		AuthorizedKey: ss.AuthorizedKey, Source: ss.Source,
	}
	if mod != nil {
		mod(&c)
	}
	tok, err := accesstoken.SignWithKey("k1", e.key, c)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// bufConn reads first what the response reader buffered.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// upgrade sends GET /v1/access with token; it returns the connection on
// 101, else the response.
func (e *env) upgrade(token string) (net.Conn, *http.Response) {
	e.t.Helper()
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: plexd\r\nAuthorization: Bearer %s\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", AccessPath, token, UpgradeProtocol)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		e.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(strings.NewReader(string(body)))
		c.Close()
		return nil, resp
	}
	e.t.Cleanup(func() { c.Close() })
	return &bufConn{Conn: c, r: br}, resp
}

// sshClient opens an SSH client over an upgraded connection.
func (e *env) sshClient(token, user string, key gossh.Signer) (*gossh.Client, error) {
	e.t.Helper()
	c, resp := e.upgrade(token)
	if c == nil {
		e.t.Fatalf("upgrade refused: %d", resp.StatusCode)
	}
	cfg := &gossh.ClientConfig{User: user, Auth: []gossh.AuthMethod{gossh.PublicKeys(key)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: waitFor}
	sc, chans, reqs, err := gossh.NewClientConn(c, e.addr, cfg)
	if err != nil {
		return nil, err
	}
	cl := gossh.NewClient(sc, chans, reqs)
	e.t.Cleanup(func() { cl.Close() })
	return cl, nil
}
