package wg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/crypto/curve25519"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/tun/netstack"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
)

// Backends. BackendAuto is resolved by Resolve before New.
const (
	BackendAuto      = "auto"
	BackendKernel    = "kernel"
	BackendUserspace = "userspace"
	BackendNetstack  = "netstack"
)

// Defaults of Options.
const (
	DefaultMTU           = 1420
	MinMTU               = 1280
	DefaultProbePort     = 51829
	DefaultProbeInterval = 10 * time.Second
	// HandshakeFresh is how recent a handshake must be for a direct path.
	HandshakeFresh = 3 * time.Minute
	// AnyPort as Options.ListenPort lets the system pick the UDP port.
	AnyPort = -1
)

// Options configures an Engine.
type Options struct {
	// Backend is kernel, userspace or netstack (resolve auto with Resolve).
	Backend string
	// Interface is the interface name (default plexd0); names only
	// collide within one network namespace.
	Interface string
	// ListenPort overrides Config.ListenPort when > 0; AnyPort listens on
	// any free port (several netstack nodes on one host).
	ListenPort int
	// MTU defaults to 1420; at least 1280.
	MTU int
	// DataDir holds the cleanup journal and the UAPI socket
	// (<DataDir>/wireguard/<Interface>.sock); required by the kernel and
	// userspace backends, optional for netstack (no journal, no socket).
	DataDir string
	// ProbePort is the UDP echo port of tunnel probes on the mesh IP
	// (default 51829; negative disables probing and answering).
	ProbePort int
	// ProbeInterval defaults to 10 s; Tick (the path monitor's period)
	// to 1 s; AttemptTimeout (time per direct target without a handshake
	// before the next candidate) to 5 s; DirectFailAfter (no handshake on
	// any direct target since configured) to 15 s.
	ProbeInterval, Tick, AttemptTimeout, DirectFailAfter time.Duration
	Logger                                               *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	// WrapTUN, when set, wraps the TUN device of the userspace and
	// netstack engines before wireguard-go uses it; the userspace policy
	// filter (firewall.Userspace.Wrap) sits there.
	WrapTUN func(tun.Device) tun.Device
}

func (o *Options) defaults() error {
	switch o.Backend {
	case BackendKernel, BackendUserspace:
		if o.DataDir == "" {
			return fmt.Errorf("wg: Options.DataDir is required by the %s backend", o.Backend)
		}
	case BackendNetstack:
	default:
		return fmt.Errorf("wg: Options.Backend %q is not kernel, userspace or netstack", o.Backend)
	}
	if o.Interface == "" {
		o.Interface = nodeproto.DefaultMeshInterface
	}
	if o.MTU == 0 {
		o.MTU = DefaultMTU
	}
	if o.MTU < MinMTU || o.MTU > 65535 {
		return fmt.Errorf("wg: Options.MTU %d is outside %d-65535", o.MTU, MinMTU)
	}
	if o.ProbePort == 0 {
		o.ProbePort = DefaultProbePort
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ProbeInterval, DefaultProbeInterval)
	def(&o.Tick, time.Second)
	def(&o.AttemptTimeout, 5*time.Second)
	def(&o.DirectFailAfter, 15*time.Second)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// sockPath is the UAPI socket of the engine ("" without a data dir).
func (o *Options) sockPath() string {
	if o.DataDir == "" {
		return ""
	}
	return filepath.Join(o.DataDir, "wireguard", o.Interface+".sock")
}

// hostNet configures addresses and routes of the interface (kernel and
// userspace backends).
type hostNet interface {
	set(want hostWant) error
}

// Engine is a mesh.Engine on WireGuard. Create it with New, drive it with
// Set, stop it with Close.
type Engine struct {
	opts Options
	log  *slog.Logger
	bind *Bind

	// setMu serialises Set and Close.
	setMu   sync.Mutex
	drv     driver
	host    hostNet
	tnet    *netstack.Net
	listen  packetListener // UDP inside the mesh (probes)
	journal *journal
	priv    [32]byte
	port    int // written under setMu and mu
	cancel  context.CancelFunc
	kick    chan string // peer IDs to probe now (a new direct target)
	loops   sync.WaitGroup
	closed  bool

	// mu guards the fields below (read by Stats and the monitor).
	mu      sync.Mutex
	cfg     mesh.Config
	selfPub [32]byte // this node's public key
	peers   map[string]*wantPeer
	track   map[string]*peerTrack
	started bool
	drvRO   driver // drv once started, for Stats
}

// New validates opts and prepares an engine; for the kernel and userspace
// backends it first tidies what a crashed earlier run left (journal).
// The device is created by the first Set, which knows the addresses.
func New(opts Options) (*Engine, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	e := &Engine{opts: opts, log: opts.Logger, bind: NewBind(), peers: map[string]*wantPeer{}, track: map[string]*peerTrack{}, kick: make(chan string, 64)}
	if opts.DataDir != "" && opts.Backend != BackendNetstack {
		e.journal = &journal{path: filepath.Join(opts.DataDir, journalFile)}
		if err := e.journal.tidy(e.log); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Bind is the shared UDP socket (STUN, relay, WireGuard). The kernel
// backend's WireGuard owns its own socket, so there it is never opened.
func (e *Engine) Bind() *Bind { return e.bind }

// Net is the netstack of a netstack engine after the first Set (nil
// otherwise): Dial and Listen on it reach peers through the tunnel.
func (e *Engine) Net() *netstack.Net {
	e.setMu.Lock()
	defer e.setMu.Unlock()
	return e.tnet
}

// Backend names the engine's backend.
func (e *Engine) Backend() string { return e.opts.Backend }

// Set makes the device equal to cfg, applying only the differences.
func (e *Engine) Set(ctx context.Context, cfg mesh.Config) error {
	e.setMu.Lock()
	defer e.setMu.Unlock()
	if e.closed {
		return errors.New("wg: engine closed")
	}
	priv, err := nodeproto.ParseKey32(cfg.PrivateKey)
	if err != nil {
		return errors.New("wg: the private key is not a Key32") // never echo it
	}
	want := e.wantPeers(ctx, cfg.Peers)
	port := cfg.ListenPort
	switch {
	case e.opts.ListenPort > 0:
		port = e.opts.ListenPort
	case e.opts.ListenPort == AnyPort:
		port = 0
	}
	first := e.drv == nil
	if first {
		if err := e.start(cfg); err != nil {
			return err
		}
	}
	d := &delta{}
	if first || priv != e.priv {
		d.privateKey = &priv
	}
	if first || port != e.port {
		d.listenPort = &port
	}
	e.mu.Lock()
	old := e.peers
	e.mu.Unlock()
	d.remove, d.upsert = diffPeers(old, want)
	if !d.empty() {
		if err := e.drv.apply(d); err != nil {
			return err
		}
	}
	e.mu.Lock() // Stats reads port
	e.priv, e.port = priv, port
	e.mu.Unlock()
	if first {
		if err := e.up(); err != nil {
			return err
		}
	}
	if e.host != nil {
		hw := hostWantOf(cfg, want)
		if err := e.journal.record(hw.routes); err != nil {
			return err
		}
		if err := e.host.set(hw); err != nil {
			return err
		}
	}
	e.commit(cfg, want, d)
	e.sendBinds(ctx)
	if first {
		e.startLoops(cfg)
	} else {
		e.kickChanged(want, d)
	}
	return nil
}

// kickChanged probes at once the peers whose session a delta ended: all
// of them after a new private key (wireguard-go expires every session),
// else the peers created anew (a rotated peer key). The probe starts the
// handshake now rather than on the next packet or keepalive, so the side
// that learns of a rotation last completes it within a round trip.
func (e *Engine) kickChanged(want map[string]*wantPeer, d *delta) {
	created := map[[32]byte]bool{}
	for _, c := range d.upsert {
		if c.create {
			created[c.pub] = true
		}
	}
	for _, id := range sortedKeys(want) {
		if d.privateKey != nil || created[want[id].pub] {
			select {
			case e.kick <- id:
			default:
			}
		}
	}
}

// wantPeers renders cfg's peers, skipping (and logging) unusable ones.
func (e *Engine) wantPeers(ctx context.Context, peers []nodeproto.Peer) map[string]*wantPeer {
	out := make(map[string]*wantPeer, len(peers))
	drop := func(what string, err error) {
		e.log.LogAttrs(ctx, slog.LevelWarn, "peer member dropped", slog.String(logkey.Kind, what), slog.String(logkey.Error, err.Error()))
	}
	for _, p := range peers {
		w, err := wantOf(ctx, p, resolveAddrPort, drop)
		if err != nil {
			drop("peer", err)
			continue
		}
		out[p.ID] = w
	}
	return out
}

// commit records the applied config and restarts the path tracking of
// peers whose endpoint was (re)set.
func (e *Engine) commit(cfg mesh.Config, want map[string]*wantPeer, d *delta) {
	now := e.opts.Now()
	changed := map[[32]byte]bool{}
	for _, c := range d.upsert {
		if c.endpoint != "" || c.create {
			changed[c.pub] = true
		}
	}
	var sessions []*relayEndpoint
	e.mu.Lock()
	defer e.mu.Unlock()
	track := make(map[string]*peerTrack, len(want))
	for id, w := range want {
		t := e.track[id]
		if t == nil || changed[w.pub] {
			t = &peerTrack{configured: now, attemptAt: now, sessionFrom: now}
		}
		if d.privateKey != nil {
			t.sessionFrom, t.reinitiated = now, false
		}
		track[id] = t
		if w.relay != nil {
			sessions = append(sessions, w.relay)
		}
	}
	if d.privateKey != nil {
		pub, _ := curve25519.X25519(d.privateKey[:], curve25519.Basepoint)
		copy(e.selfPub[:], pub)
	}
	e.cfg, e.peers, e.track = cfg, want, track
	e.started, e.drvRO = true, e.drv
	e.bind.setSessions(sessions)
}

// up brings a wireguard-go device up (the kernel link is up already).
func (e *Engine) up() error {
	if u, ok := e.drv.(interface{ up() error }); ok {
		if err := u.up(); err != nil {
			return fmt.Errorf("wg: device up: %w", err)
		}
	}
	return nil
}

// deviceLogger adapts wireguard-go's logger: errors at debug level would
// hide real faults, verbose lines are debug.
func deviceLogger(log *slog.Logger, iface string) *device.Logger {
	l := log.With(slog.String(logkey.Interface, iface))
	return &device.Logger{
		Verbosef: func(format string, args ...any) {
			l.LogAttrs(context.Background(), slog.LevelDebug, "wireguard", slog.String(logkey.Detail, fmt.Sprintf(format, args...)))
		},
		Errorf: func(format string, args ...any) {
			l.LogAttrs(context.Background(), slog.LevelWarn, "wireguard", slog.String(logkey.Detail, fmt.Sprintf(format, args...)))
		},
	}
}

// Close stops the loops, removes the device (and the interface with it)
// and the journal.
func (e *Engine) Close() error {
	e.setMu.Lock()
	defer e.setMu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	if e.cancel != nil {
		e.cancel()
	}
	e.loops.Wait()
	var err error
	if e.drv != nil {
		err = e.drv.close()
	}
	if e.journal != nil {
		if jerr := e.journal.finish(); err == nil {
			err = jerr
		}
	}
	return err
}

// meshAddrs are the node's own addresses from cfg.
func meshAddrs(cfg mesh.Config) []netip.Addr {
	var out []netip.Addr
	for _, s := range []string{cfg.Address, cfg.AddressV6} {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a.Unmap())
		}
	}
	return out
}

// packetListener listens for UDP on an address inside the mesh.
type packetListener func(addr netip.AddrPort) (net.PacketConn, error)

// hostListen is the packetListener of kernel and userspace engines.
func hostListen(addr netip.AddrPort) (net.PacketConn, error) {
	return net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
}
