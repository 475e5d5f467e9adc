package plexd

import (
	"errors"
	"log/slog"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/config"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/firewall"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
	"github.com/plexsphere/plexsphere/internal/plexd/natpath"
	"github.com/plexsphere/plexsphere/internal/plexd/wg"
)

// meshRuntime is the mesh engine `plexd up` drives, the WireGuard socket
// endpoint discovery sends STUN from (nil when the engine has none) and
// how to close the engine.
type meshRuntime struct {
	engine mesh.Engine
	socket natpath.Socket
	close  func() error
	// firewall enforces the node's policy (nil with Env.Mesh).
	firewall agent.Firewall
}

// meshEngine resolves the configured WireGuard backend and prepares its
// engine: the interface is plexd0 of the node's own network namespace,
// the UAPI socket and the cleanup journal live in the data directory (so
// several plexd on one host never share either), and what a crashed
// earlier run left behind is removed first. Netstack nodes (demo and
// harness nodes, often several per host) listen on any free UDP port;
// the endpoint report carries the one they got. Env.Mesh replaces the
// engine in tests.
func (a *app) meshEngine(cfg *config.Config, log *slog.Logger) (*meshRuntime, error) {
	if a.env.Mesh != nil {
		return &meshRuntime{engine: a.env.Mesh, close: func() error { return nil }}, nil
	}
	backend, err := wg.Resolve(cfg.WireGuardBackend)
	if err != nil {
		return nil, err
	}
	log.Info("wireguard backend", slog.String(logkey.Backend, backend), slog.String(logkey.Source, cfg.WireGuardBackend))
	opts := wg.Options{Backend: backend, Interface: nodeproto.DefaultMeshInterface, DataDir: cfg.DataDir, Logger: log}
	if backend == wg.BackendNetstack {
		opts.ListenPort = wg.AnyPort
	}
	// The policy backend: nftables on plexd0 where it works, else the
	// userspace filter in the engine's TUN path (firewall.ForWireGuard).
	fw, wrap, err := firewall.ForWireGuard(backend, firewall.NftablesOptions{
		Interface: nodeproto.DefaultMeshInterface, DataDir: cfg.DataDir, Logger: log})
	if err != nil {
		return nil, err
	}
	opts.WrapTUN = wrap
	eng, err := wg.New(opts)
	if err != nil {
		fw.Close()
		return nil, err
	}
	rt := &meshRuntime{engine: eng, firewall: fw, close: func() error { return errors.Join(fw.Close(), eng.Close()) }}
	if backend != wg.BackendKernel { // the kernel owns its WireGuard socket
		rt.socket = eng.Bind()
	}
	return rt, nil
}

// newDiscoverer builds the endpoint discovery of the node: STUN from the
// engine's WireGuard socket, reports through cl, peer endpoints applied
// by ag.
func newDiscoverer(rt *meshRuntime, cl *cpclient.Client, ag *agent.Agent, log *slog.Logger) (*natpath.Discoverer, error) {
	return natpath.New(natpath.Options{
		Socket: rt.socket, Reporter: cl, Servers: ag.STUNServers, Exclude: ag.MeshPrefixes,
		Interface: nodeproto.DefaultMeshInterface, Apply: ag.ApplyPeerEndpoints,
		Port:   func() int { return rt.engine.Stats().ListenPort },
		Logger: log,
	})
}
