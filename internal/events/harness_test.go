package events_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/plexsphere/plexsphere/internal/envelope"
	"github.com/plexsphere/plexsphere/internal/events"
	"github.com/plexsphere/plexsphere/internal/store"
	"github.com/plexsphere/plexsphere/internal/store/storetest"
)

// testKey is the RFC 8032 TEST 1 key.
var testKey = ed25519.NewKeyFromSeed([]byte{
	0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
	0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
})

// The databases the suites run against (storetest's, under the short names
// the tests use).
const (
	postgresEnv = storetest.PostgresEnv
	sqliteDB    = storetest.SQLite
	postgresDB  = storetest.Postgres
)

// backends lists SQLite, plus PostgreSQL when postgresEnv is set.
func backends(t testing.TB) []storetest.Backend {
	t.Helper()
	return storetest.Backends(t)
}

// database is one store shared by the planes of a test (replicas).
type database struct {
	url    string // "" for SQLite
	sqlite string
}

func newDatabase(t testing.TB, b storetest.Backend) database {
	t.Helper()
	return database{url: storetest.DatabaseURL(t, b), sqlite: filepath.Join(t.TempDir(), "plexsphere.db")}
}

func (d database) open(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Config{URL: d.url, SQLitePath: d.sqlite})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return db
}

// plane is one control-plane replica's event plane served over loopback.
type plane struct {
	svc   *events.Service
	db    *store.DB
	hs    *httptest.Server
	dereg *fakeDeregister
}

// fakeDeregister records deregistrations (the enrollment context's job).
type fakeDeregister struct {
	// mu guards ids.
	mu  sync.Mutex
	ids []string
}

func (f *fakeDeregister) Deregister(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ids = append(f.ids, id)
	return nil
}

// oneDomain is a Directory that puts every node in one Domain.
type oneDomain string

func (d oneDomain) NodeDomains(_ context.Context, _ store.Querier, nodeIDs []string) (map[string]string, error) {
	m := make(map[string]string, len(nodeIDs))
	for _, id := range nodeIDs {
		m[id] = string(d)
	}
	return m, nil
}

type callerKey struct{}

// testCaller takes "Bearer node:<id>" as node <id>'s NSK: node
// authentication belongs to the enrollment context.
func testCaller(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(callerKey{}).(string)
	return id, ok
}

func startPlane(t testing.TB, d database, keys events.Keys, tune func(*events.Config)) *plane {
	t.Helper()
	db := d.open(t)
	if keys == nil {
		k, err := events.NewStaticKeys("k1", testKey)
		if err != nil {
			t.Fatal(err)
		}
		keys = k
	}
	cfg := events.Config{DB: db, Directory: oneDomain("d1"), Keys: keys, PostgresURL: d.url}
	if tune != nil {
		tune(&cfg)
	}
	svc, err := events.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	hc := huma.DefaultConfig("events test", "v1")
	hc.CreateHooks = nil // no $schema member in bodies, as in internal/api
	api := humago.New(mux, hc)
	api.UseMiddleware(func(ctx huma.Context, next func(huma.Context)) {
		if id, ok := strings.CutPrefix(ctx.Header("Authorization"), "Bearer node:"); ok {
			ctx = huma.WithValue(ctx, callerKey{}, id)
		}
		next(ctx)
	})
	svc.Register(api, testCaller)
	dereg := &fakeDeregister{}
	svc.RegisterAgent(api, events.AgentOptions{Deregister: dereg, Caller: testCaller, Keys: stateKeys{}})
	hs := httptest.NewServer(mux)
	p := &plane{svc: svc, db: db, hs: hs, dereg: dereg}
	t.Cleanup(p.stop)
	waitFor(t, svc.Ready)
	return p
}

func (p *plane) stop() {
	p.svc.Close()
	p.hs.CloseClientConnections()
	p.hs.Close()
}

// emit appends one event for nodes in its own transaction.
func (p *plane) emit(t testing.TB, typ string, payload any, nodes ...string) {
	t.Helper()
	if err := p.db.Tx(context.Background(), func(tx *sql.Tx) error {
		return p.svc.Emit(context.Background(), tx, nodes, typ, payload)
	}); err != nil {
		t.Fatal(err)
	}
}

// got is one received, verified event.
type got struct {
	seq string
	env *envelope.Envelope
}

// client is an agent's event stream.
type client struct {
	t      testing.TB
	resp   *http.Response
	frames chan got
	errc   chan error
	cancel context.CancelFunc
	// mu guards ver.
	mu  sync.Mutex
	ver *envelope.Verifier
}

// connect opens node's stream with lastID ("" for none); the verifier
// trusts testKey unless keys is set.
func connect(t testing.TB, url, node, lastID string, keys *envelope.KeySet) *client {
	t.Helper()
	c, status := tryConnect(t, url, node, "node:"+node, lastID, keys)
	if status != http.StatusOK {
		t.Fatalf("connect %s: status %d", node, status)
	}
	return c
}

func tryConnect(t testing.TB, url, node, bearer, lastID string, keys *envelope.KeySet) (*client, int) {
	t.Helper()
	ks := envelope.KeySet{Current: envelope.Key{Public: testKey.Public().(ed25519.PublicKey)}}
	if keys != nil {
		ks = *keys
	}
	ver, err := envelope.NewVerifier(envelope.VerifierOptions{Keys: ks})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v1/nodes/"+node+"/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+bearer)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("connect: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		cancel()
		return nil, resp.StatusCode
	}
	c := &client{t: t, resp: resp, frames: make(chan got, 4096), errc: make(chan error, 1), cancel: cancel, ver: ver}
	t.Cleanup(c.close)
	go c.read(bufio.NewReader(resp.Body))
	return c, resp.StatusCode
}

func (c *client) read(r io.Reader) {
	fr := envelope.NewFrameReader(r)
	for {
		f, err := fr.Next()
		if err != nil {
			c.errc <- err
			return
		}
		c.mu.Lock()
		env, err := c.ver.VerifyJSON(f.Data)
		if err == nil && env.EventType == "signing_key_rotated" {
			err = c.installKeys(env)
		}
		c.mu.Unlock()
		if err != nil {
			c.errc <- fmt.Errorf("frame %s: %w", f.ID, err)
			return
		}
		// §7.3: the wire carries the canonical renderings, so the data
		// line is the canonical bytes plus the signature member.
		if canon, cerr := env.CanonicalBytes(); cerr != nil || !bytes.HasPrefix(f.Data, canon[:len(canon)-1]) {
			c.errc <- fmt.Errorf("frame %s: data is not the canonical form: %s", f.ID, f.Data)
			return
		}
		if f.Event != env.EventType {
			c.errc <- fmt.Errorf("frame %s: event %q, envelope %q", f.ID, f.Event, env.EventType)
			return
		}
		c.frames <- got{seq: f.ID, env: env}
	}
}

func (c *client) close() {
	c.cancel()
	c.resp.Body.Close()
}

// next waits for the next event.
func (c *client) next() got {
	c.t.Helper()
	select {
	case g := <-c.frames:
		return g
	case err := <-c.errc:
		c.t.Fatalf("stream ended: %v", err)
	case <-time.After(10 * time.Second):
		c.t.Fatal("no event within 10s")
	}
	return got{}
}

// expectSeqs receives exactly the events with these ids, in order.
func (c *client) expectSeqs(seqs ...int) []got {
	c.t.Helper()
	var out []got
	for _, want := range seqs {
		g := c.next()
		if g.seq != fmt.Sprint(want) {
			c.t.Fatalf("got id %s, want %d", g.seq, want)
		}
		out = append(out, g)
	}
	return out
}

// expectQuiet asserts that no event arrives for d.
func (c *client) expectQuiet(d time.Duration) {
	c.t.Helper()
	select {
	case g := <-c.frames:
		c.t.Fatalf("unexpected event id %s (%s)", g.seq, g.env.EventType)
	case err := <-c.errc:
		c.t.Fatalf("stream ended: %v", err)
	case <-time.After(d):
	}
}

// waitEnd waits for the server to end the stream.
func (c *client) waitEnd() {
	c.t.Helper()
	select {
	case <-c.errc:
	case g := <-c.frames:
		c.t.Fatalf("unexpected event id %s", g.seq)
	case <-time.After(10 * time.Second):
		c.t.Fatal("stream did not end")
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
