package integration

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/enroll"
	"github.com/plexsphere/plexsphere/internal/plexd/identity"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
	"github.com/plexsphere/plexsphere/internal/plexd/wg"
)

// loopbackPeers gives each peer whose record has no endpoint the loopback
// address of that peer's engine. The control plane refuses loopback
// endpoints (they never name another machine), so in this one-process
// harness the test stands in for endpoint discovery; keys, PSKs, mesh IPs
// and allowed IPs are the control plane's.
type loopbackPeers struct {
	*wg.Engine
	ports map[string]int // node id → UDP port, filled before any Run
}

func (l loopbackPeers) Set(ctx context.Context, cfg mesh.Config) error {
	cfg.Peers = slices.Clone(cfg.Peers)
	for i, p := range cfg.Peers {
		if port, ok := l.ports[p.ID]; ok && p.Endpoint == "" {
			cfg.Peers[i].Endpoint = fmt.Sprintf("127.0.0.1:%d", port)
		}
	}
	return l.Engine.Set(ctx, cfg)
}

// freeUDPPort returns a loopback UDP port that was free a moment ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// TestNetstackMeshCarriesHTTP is the mesh of the namespace test without
// privileges: the real control plane in process and three plexd cores on
// the netstack (gVisor) WireGuard engine over loopback UDP. Every node
// serves HTTP on its mesh IP inside its netstack, and every other node
// fetches it through the tunnel.
func TestNetstackMeshCarriesHTTP(t *testing.T) {
	const n = 3
	e := apptest.Start(t, apptest.SQLite)
	var dom apiv1.Domain
	if st, raw := e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: "ns", Slug: "ns", MeshCIDR: "100.67.0.0/24"}, &dom); st != 201 {
		t.Fatalf("create domain: %d %s", st, raw)
	}
	e.AllowAll(t, dom.ID) // a full mesh without policies (new Domains deny)
	var proj apiv1.Project
	if st, raw := e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: dom.ID, Name: "p", Slug: "p"}, &proj); st != 201 {
		t.Fatalf("create project: %d %s", st, raw)
	}
	var tok apiv1.IssuedBootstrapToken
	if st, raw := e.Do(t, "POST", "/v1/projects/"+proj.ID+"/bootstrap-tokens",
		apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "ns", MaxUses: n}, &tok); st != 201 {
		t.Fatalf("issue token: %d %s", st, raw)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wgr sync.WaitGroup
	t.Cleanup(func() { cancel(); wgr.Wait() })
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(&testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}

	type nsNode struct {
		id     *identity.Identity
		store  *identity.Store
		cl     *cpclient.Client
		engine *wg.Engine
	}
	ports := map[string]int{}
	nodes := make([]*nsNode, n)
	for i := range nodes {
		store, _ := identity.NewStore(t.TempDir())
		cl := mustClient(t, e.URL)
		id, err := enroll.Join(ctx, enroll.Options{Client: cl, Store: store, Token: tok.Token, Server: e.URL, Hostname: fmt.Sprintf("ns%d", i)})
		if err != nil {
			t.Fatalf("node %d join: %v", i, err)
		}
		cl.SetCredentials(id.NodeID, id.NSK)
		port := freeUDPPort(t)
		eng, err := wg.New(wg.Options{Backend: wg.BackendNetstack, ListenPort: port, Logger: log,
			Tick: 200 * time.Millisecond, ProbeInterval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { eng.Close() })
		ports[id.NodeID] = port
		nodes[i] = &nsNode{id: id, store: store, cl: cl, engine: eng}
	}
	for _, nd := range nodes {
		ag, err := agent.New(agent.Options{Identity: nd.id, Store: nd.store, ControlPlane: nd.cl, Rotator: nd.cl,
			Mesh: loopbackPeers{Engine: nd.engine, ports: ports}, Logger: log,
			HeartbeatInterval: time.Second, ReconcileInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		wgr.Go(func() { ag.Run(ctx) })
	}

	// Each node serves its own id on its mesh IP, port 80 of its netstack.
	deadline := time.Now().Add(30 * time.Second)
	for _, nd := range nodes {
		for nd.engine.Net() == nil {
			if time.Now().After(deadline) {
				t.Fatalf("node %s never brought its netstack up", nd.id.NodeID)
			}
			time.Sleep(20 * time.Millisecond)
		}
		ip := netip.MustParseAddr(nd.id.MeshIP)
		ln, err := nd.engine.Net().ListenTCPAddrPort(netip.AddrPortFrom(ip, 80))
		if err != nil {
			t.Fatalf("listen on %s: %v", ip, err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "hello from "+nd.id.NodeID)
		})}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
	}
	// Every ordered pair fetches over the tunnel, retried until deadline.
	for _, from := range nodes {
		client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
			DialContext: from.engine.Net().DialContext, DisableKeepAlives: true}}
		for _, to := range nodes {
			if from == to {
				continue
			}
			var body string
			for {
				resp, err := client.Get("http://" + to.id.MeshIP + "/")
				if err == nil {
					raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
					resp.Body.Close()
					body = string(raw)
					if resp.StatusCode == 200 {
						break
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s → %s over the mesh: %v %q", from.id.MeshIP, to.id.MeshIP, err, body)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if !strings.Contains(body, to.id.NodeID) {
				t.Errorf("%s → %s answered %q", from.id.MeshIP, to.id.MeshIP, body)
			}
		}
	}
	// The netstack carries only mesh traffic: a mesh IP outside the
	// Domain's peers is not reachable.
	stranger := &http.Client{Timeout: time.Second, Transport: &http.Transport{DialContext: nodes[0].engine.Net().DialContext}}
	if resp, err := stranger.Get("http://100.67.0.250/"); err == nil {
		resp.Body.Close()
		t.Error("an address no peer owns answered through the tunnel")
	}
}

// testWriter logs through t (verbose runs).
type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
