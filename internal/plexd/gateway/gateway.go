// Package gateway is the control plane's session gateway
// (docs/design/0008-access.md): for each Project with sessions, an
// in-process plexd agent of kind "gateway" that joins the Domain's mesh
// like any node — its own WireGuard key, generated in memory and never
// sent anywhere, a netstack (gVisor) engine needing no privileges, the
// ordinary event stream for its peers and STUN from its WireGuard socket
// for its endpoint — so the session plane reaches nodes' access listeners
// over WireGuard and never with a node's key.
//
// A gateway's identity lives in a temporary directory removed on Close:
// every start enrols a fresh gateway node and the previous one of the
// Project is decommissioned by the caller's Issue function.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/enroll"
	"github.com/plexsphere/plexsphere/internal/plexd/identity"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
	"github.com/plexsphere/plexsphere/internal/plexd/natpath"
	"github.com/plexsphere/plexsphere/internal/plexd/wg"
)

// Options configures a Pool.
type Options struct {
	// Server is the control plane's base URL as the gateway reaches it
	// (a loopback listener of the same process). Required.
	Server string
	// Issue mints a single-use bootstrap token of kind gateway for a
	// Project. Required.
	Issue func(ctx context.Context, projectID string) (string, error)
	// Transport carries the gateway's control-plane requests (nil: the
	// default transport).
	Transport http.RoundTripper
	// Wrap lets tests adapt the engine (e.g. rewrite endpoints to
	// loopback); nil uses the engine as is.
	Wrap func(*wg.Engine) mesh.Engine
	// Discover runs endpoint discovery from the WireGuard socket (true in
	// production; tests on loopback turn it off).
	Discover bool
	// ListenPort is the WireGuard UDP port (0: any free port).
	ListenPort int
	Logger     *slog.Logger
	// ReadyTimeout bounds a first start (30 s).
	ReadyTimeout time.Duration
}

// Pool runs one gateway per Project.
type Pool struct {
	opts Options
	mu   sync.Mutex
	gws  map[string]*gateway
	ctx  context.Context
	stop context.CancelFunc
}

// gateway is one Project's running agent.
type gateway struct {
	ready  chan struct{} // closed once started (err set on failure)
	err    error
	meshIP netip.Addr
	nodeID string
	engine *wg.Engine
	cancel context.CancelFunc
	done   sync.WaitGroup
	dir    string
}

// New returns an empty pool.
func New(opts Options) (*Pool, error) {
	if opts.Server == "" || opts.Issue == nil {
		return nil, errors.New("gateway: Server and Issue are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 30 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Pool{opts: opts, gws: map[string]*gateway{}, ctx: ctx, stop: cancel}, nil
}

// Source starts the Project's gateway if needed and returns its mesh IP.
func (p *Pool) Source(ctx context.Context, projectID string) (string, error) {
	g, err := p.get(ctx, projectID)
	if err != nil {
		return "", err
	}
	return g.meshIP.String(), nil
}

// SetWrap replaces Options.Wrap for the gateways started from now on
// (e.g. `plexsphere dev`'s demo nodes, reached on loopback ports).
func (p *Pool) SetWrap(wrap func(*wg.Engine) mesh.Engine) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.opts.Wrap = wrap
}

// NodeID is the node id of the Project's running gateway ("" if none).
func (p *Pool) NodeID(projectID string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if g := p.gws[projectID]; g != nil {
		select {
		case <-g.ready:
			return g.nodeID
		default:
		}
	}
	return ""
}

// Dial connects to addr (a mesh ip:port) through the Project's gateway.
func (p *Pool) Dial(ctx context.Context, projectID, addr string) (net.Conn, error) {
	g, err := p.get(ctx, projectID)
	if err != nil {
		return nil, err
	}
	n := g.engine.Net()
	if n == nil {
		return nil, errors.New("gateway: netstack not up")
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("gateway: address %q: %w", addr, err)
	}
	return n.DialContextTCPAddrPort(ctx, ap)
}

// get returns the Project's started gateway, starting it once; a start
// that failed is retried by the next call.
func (p *Pool) get(ctx context.Context, projectID string) (*gateway, error) {
	p.mu.Lock()
	g := p.gws[projectID]
	if g != nil {
		select {
		case <-g.ready:
			if g.err != nil {
				delete(p.gws, projectID)
				g = nil
			}
		default:
		}
	}
	if g == nil {
		if p.ctx.Err() != nil {
			p.mu.Unlock()
			return nil, errors.New("gateway: pool closed")
		}
		g = &gateway{ready: make(chan struct{})}
		p.gws[projectID] = g
		go p.start(g, projectID)
	}
	p.mu.Unlock()
	select {
	case <-g.ready:
		return g, g.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// start enrols and runs a gateway agent, closing ready once its netstack
// is up and it has applied a state.
func (p *Pool) start(g *gateway, projectID string) {
	defer close(g.ready)
	log := p.opts.Logger.With("component", "session-gateway", "project_id", projectID)
	ctx, cancel := context.WithTimeout(p.ctx, p.opts.ReadyTimeout)
	defer cancel()
	fail := func(err error) {
		g.err = fmt.Errorf("gateway: %w", err)
		log.Warn("session gateway failed to start", "error", err.Error())
	}
	dir, err := os.MkdirTemp("", "plexsphere-gateway-")
	if err != nil {
		fail(err)
		return
	}
	g.dir = dir
	token, err := p.opts.Issue(ctx, projectID)
	if err != nil {
		os.RemoveAll(dir)
		fail(err)
		return
	}
	store, err := identity.NewStore(dir)
	if err != nil {
		os.RemoveAll(dir)
		fail(err)
		return
	}
	cl, err := cpclient.New(cpclient.Options{Server: p.opts.Server, Transport: p.opts.Transport, Logger: log})
	if err != nil {
		os.RemoveAll(dir)
		fail(err)
		return
	}
	id, err := enroll.Join(ctx, enroll.Options{Client: cl, Store: store, Token: token, Server: p.opts.Server,
		Hostname: "plexsphere-gateway", Logger: log, RetryFor: p.opts.ReadyTimeout})
	if err != nil {
		os.RemoveAll(dir)
		fail(err)
		return
	}
	cl.SetCredentials(id.NodeID, id.NSK)
	port := p.opts.ListenPort
	if port == 0 {
		port = wg.AnyPort
	}
	eng, err := wg.New(wg.Options{Backend: wg.BackendNetstack, ListenPort: port, Logger: log})
	if err != nil {
		os.RemoveAll(dir)
		fail(err)
		return
	}
	var engine mesh.Engine = eng
	p.mu.Lock()
	wrap := p.opts.Wrap
	p.mu.Unlock()
	if wrap != nil {
		engine = wrap(eng)
	}
	ag, err := agent.New(agent.Options{Identity: id, Store: store, ControlPlane: cl, Mesh: engine, Logger: log,
		Mode: "gateway", HeartbeatInterval: 10 * time.Second})
	if err != nil {
		eng.Close()
		os.RemoveAll(dir)
		fail(err)
		return
	}
	runCtx, runCancel := context.WithCancel(p.ctx)
	g.cancel, g.engine, g.nodeID = runCancel, eng, id.NodeID
	g.done.Go(func() { ag.Run(runCtx) })
	if p.opts.Discover {
		disc, err := natpath.New(natpath.Options{Socket: eng.Bind(), Reporter: cl, Servers: ag.STUNServers,
			Exclude: ag.MeshPrefixes, Interface: nodeproto.DefaultMeshInterface, Apply: ag.ApplyPeerEndpoints,
			Port: func() int { return eng.Stats().ListenPort }, Logger: log})
		if err == nil {
			g.done.Go(func() { disc.Run(runCtx) })
		} else {
			log.Warn("endpoint discovery unavailable", "error", err.Error())
		}
	}
	for eng.Net() == nil {
		if ctx.Err() != nil {
			g.stopLocked()
			fail(errors.New("netstack did not come up in time"))
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	if g.meshIP, err = netip.ParseAddr(id.MeshIP); err != nil {
		g.stopLocked()
		fail(fmt.Errorf("mesh ip %q: %w", id.MeshIP, err))
		return
	}
	log.Info("session gateway joined the mesh", "node_id", id.NodeID, "mesh_ip", id.MeshIP)
}

// stopLocked stops a gateway's agent and engine and removes its identity.
func (g *gateway) stopLocked() {
	if g.cancel != nil {
		g.cancel()
	}
	g.done.Wait()
	if g.engine != nil {
		g.engine.Close()
	}
	if g.dir != "" {
		os.RemoveAll(g.dir)
	}
}

// Close stops every gateway.
func (p *Pool) Close() {
	p.stop()
	p.mu.Lock()
	gws := p.gws
	p.gws = map[string]*gateway{}
	p.mu.Unlock()
	for _, g := range gws {
		<-g.ready
		if g.err == nil {
			g.stopLocked()
		}
	}
}
