// Package demonodes runs demo plexd agents inside the control plane's
// process for `plexsphere dev --demo-nodes N` (issue 13): each is the real
// agent core (internal/plexd/agent) enrolled with a bootstrap token, on the
// netstack (gVisor) WireGuard engine, so it needs no privileges, and with
// its peers' endpoints set to their loopback UDP ports (the control plane
// refuses loopback endpoints, which never name another machine, so this
// one-process fleet stands in for endpoint discovery, as the netstack
// integration test does). Their heartbeats carry real handshake and probe
// results, so the Domain's topology shows a live mesh of direct paths.
//
// Identities persist under the data directory, so a restart brings the
// same nodes back instead of enrolling new ones.
package demonodes

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/enroll"
	"github.com/plexsphere/plexsphere/internal/plexd/identity"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
	"github.com/plexsphere/plexsphere/internal/plexd/wg"
)

// Max is the most demo nodes one process runs.
const Max = 200

// Options configures a fleet.
type Options struct {
	// Server is the control plane's base URL (loopback). Required.
	Server string
	// N is the number of nodes, 1 to Max.
	N int
	// Dir holds one identity directory per node. Required.
	Dir string
	// Issue mints a bootstrap token good for n registrations into the demo
	// Project; called once, only when some node has no identity yet.
	Issue func(ctx context.Context, n int) (string, error)
	// Progress receives one line per node that came up (nil: none).
	Progress io.Writer
	Logger   *slog.Logger
	// HeartbeatInterval defaults to 10 s.
	HeartbeatInterval time.Duration
	// SSHAccount, when set, runs each node's access listener: ssh sessions
	// for the login "demo" (DemoSSHUser) get a shell as this local account
	// of the machine running the fleet. Empty runs none.
	SSHAccount string
}

// Node is one running demo node.
type Node struct {
	Index  int
	ID     string
	MeshIP string
	Port   int // its WireGuard UDP port on 127.0.0.1
}

// Fleet is the running demo nodes.
type Fleet struct {
	Nodes   []Node
	once    sync.Once
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	engines []*wg.Engine
	ports   map[string]int // node id → loopback UDP port
}

// loopbackPeers sets each peer without an endpoint to its loopback port.
type loopbackPeers struct {
	*wg.Engine
	ports map[string]int // node id → UDP port; written before any agent runs
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

// Stats is the engine's, with the loopback endpoints left out of the peer
// reports: the control plane keeps no loopback endpoint (it would name no
// other machine), and drops a report that carries one.
func (l loopbackPeers) Stats() mesh.Stats {
	st := l.Engine.Stats()
	for i, p := range st.Peers {
		if ap, err := netip.ParseAddrPort(p.Endpoint); err == nil && ap.Addr().IsLoopback() {
			st.Peers[i].Endpoint = ""
		}
	}
	return st
}

// freeUDPPort returns a loopback UDP port that was free a moment ago.
func freeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

type member struct {
	id    *identity.Identity
	store *identity.Store
	cl    *cpclient.Client
	eng   *wg.Engine
	port  int
}

// Start enrols (or reloads) N nodes and runs them until ctx ends or Close.
// It returns once every node is enrolled and its agent runs.
func Start(ctx context.Context, o Options) (*Fleet, error) {
	switch {
	case o.Server == "" || o.Dir == "" || o.Issue == nil:
		return nil, errors.New("demonodes: Server, Dir and Issue are required")
	case o.N < 1 || o.N > Max:
		return nil, fmt.Errorf("demonodes: %d nodes: between 1 and %d", o.N, Max)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = 10 * time.Second
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	f := &Fleet{cancel: cancel}
	members := make([]*member, o.N)
	var token string
	for i := range members {
		m, err := f.join(ctx, o, i, &token)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("demonodes: node %d: %w", i, err)
		}
		members[i] = m
		f.Nodes = append(f.Nodes, Node{Index: i, ID: m.id.NodeID, MeshIP: m.id.MeshIP, Port: m.port})
		fmt.Fprintf(o.Progress, "  demo node %d/%d  %s  %s\n", i+1, o.N, m.id.MeshIP, m.id.NodeID)
	}
	ports := map[string]int{}
	for _, m := range members {
		ports[m.id.NodeID] = m.port
	}
	f.ports = ports
	for i, m := range members {
		log := o.Logger.With("demo_node", i)
		var ag *agent.Agent
		var acc agent.Access
		if o.SSHAccount != "" {
			srv, err := newAccess(m, o.SSHAccount, func() []ed25519.PublicKey { return ag.SigningPublicKeys() }, log)
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("demonodes: node %d: %w", i, err)
			}
			acc = accessNode{srv}
			f.wg.Go(func() { serveAccess(runCtx, m.eng, m.id.MeshIP, srv, log) })
		}
		ag, err := agent.New(agent.Options{Identity: m.id, Store: m.store, ControlPlane: m.cl, Rotator: m.cl,
			Mesh: loopbackPeers{Engine: m.eng, ports: ports}, Logger: log, Access: acc,
			HeartbeatInterval: o.HeartbeatInterval})
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("demonodes: node %d: %w", i, err)
		}
		f.wg.Go(func() { ag.Run(runCtx) })
	}
	return f, nil
}

// join loads node i's identity or enrols it, and opens its engine.
func (f *Fleet) join(ctx context.Context, o Options, i int, token *string) (*member, error) {
	store, err := identity.NewStore(filepath.Join(o.Dir, fmt.Sprintf("node-%03d", i)))
	if err != nil {
		return nil, err
	}
	cl, err := cpclient.New(cpclient.Options{Server: o.Server, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	id, err := store.Load()
	if err != nil {
		if !errors.Is(err, identity.ErrNotFound) {
			return nil, err
		}
		if *token == "" {
			if *token, err = o.Issue(ctx, o.N-i); err != nil {
				return nil, fmt.Errorf("bootstrap token: %w", err)
			}
		}
		id, err = enroll.Join(ctx, enroll.Options{Client: cl, Store: store, Token: *token, Server: o.Server,
			Hostname: fmt.Sprintf("demo-%03d", i), Logger: o.Logger, RetryFor: 30 * time.Second})
		if err != nil {
			return nil, err
		}
	}
	cl.SetCredentials(id.NodeID, id.NSK)
	port, err := freeUDPPort()
	if err != nil {
		return nil, err
	}
	eng, err := wg.New(wg.Options{Backend: wg.BackendNetstack, ListenPort: port, Logger: o.Logger,
		Interface: fmt.Sprintf("demo%d", i), ProbeInterval: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	f.engines = append(f.engines, eng)
	return &member{id: id, store: store, cl: cl, eng: eng, port: port}, nil
}

// Close stops every agent and engine.
// It is idempotent.
func (f *Fleet) Close() {
	f.once.Do(func() {
		f.cancel()
		f.wg.Wait()
		for _, e := range f.engines {
			e.Close()
		}
	})
}
