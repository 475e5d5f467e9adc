// Package natpath is plexd's side of NAT traversal (node-protocol §12.2,
// docs/design/0005-mesh.md): it sends STUN Binding requests from the
// WireGuard socket itself (the shared wg.Bind, so the mapping STUN sees is
// the one WireGuard uses), classifies the NAT by comparing the mapped
// addresses two servers report, gathers the node's local candidates and
// reports all of it with PUT /v1/nodes/{id}/endpoint on start, on every
// change and before the report goes stale. The answer's peer_endpoints are
// handed back as endpoint-only peer updates.
package natpath

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
	"github.com/plexsphere/plexsphere/internal/stun"
)

// Limits and defaults.
const (
	// MaxServers bounds how many STUN servers one discovery asks.
	MaxServers = 4
	// MaxCandidates bounds the candidates of one report (the control
	// plane accepts 16).
	MaxCandidates = 8
	// DefaultInterval is how often the mapping is re-discovered.
	DefaultInterval = 20 * time.Second
	// DefaultRefresh is the longest time between two reports of an
	// unchanged endpoint (sooner when the control plane's stale_after is
	// nearer).
	DefaultRefresh = 60 * time.Second
	// queryTimeout is the wait for one STUN answer before a retransmit;
	// queryTries bounds the transmits per server.
	queryTimeout = 400 * time.Millisecond
	queryTries   = 3
	// notReadyWait is the poll period while the socket or the state is
	// not there yet.
	notReadyWait = 250 * time.Millisecond
	// failedWait is the retry period after a failed report.
	failedWait = 3 * time.Second
	// withoutServers is how long the first report waits for the STUN
	// servers of the first state before it reports without STUN.
	withoutServers = 10 * time.Second
)

// Socket is the WireGuard socket STUN is sent from; *wg.Bind implements it.
type Socket interface {
	SendRaw(pkt []byte, to netip.AddrPort) error
	OnSTUN(fn func(pkt []byte, from netip.AddrPort))
	LocalPort() uint16
}

// Reporter sends endpoint reports; *cpclient.Client implements it.
type Reporter interface {
	ReportEndpoint(ctx context.Context, r nodeproto.EndpointReport) (*cpclient.EndpointAnswer, error)
}

// Options configures a Discoverer.
type Options struct {
	// Socket is the WireGuard socket; nil (the kernel backend owns its
	// socket) reports the local candidates with nat_type unknown.
	Socket Socket
	// Port is the WireGuard listen port when Socket is nil (or not open).
	Port func() int
	// Reporter is required.
	Reporter Reporter
	// Servers returns the STUN servers ("host:port") of the applied state
	// and whether a state has been applied yet.
	Servers func() ([]string, bool)
	// Exclude returns prefixes whose addresses are never candidates (the
	// mesh's own).
	Exclude func() []netip.Prefix
	// Interface is the mesh interface, whose addresses are never
	// candidates.
	Interface string
	// Apply receives the answer's peer endpoints (nil: ignored).
	Apply func(ctx context.Context, peers []nodeproto.PeerEndpoint)
	// Addrs lists the host's interface addresses (default: every
	// interface but Interface).
	Addrs func() ([]netip.Addr, error)
	// Interval and Refresh default to DefaultInterval and DefaultRefresh.
	Interval, Refresh time.Duration
	Logger            *slog.Logger
	Now               func() time.Time
}

// Discoverer runs endpoint discovery and reporting.
type Discoverer struct {
	opts Options
	log  *slog.Logger

	// mu guards pending and last.
	mu      sync.Mutex
	pending map[stun.TxID]chan netip.AddrPort
	last    Result
}

// Result is one discovery's outcome.
type Result struct {
	// Public is the endpoint peers should dial.
	Public netip.AddrPort
	// NATType is none, full_cone, symmetric or unknown.
	NATType string
	// Mapped are the mapped addresses the STUN servers reported, in
	// server order, answers only.
	Mapped []netip.AddrPort
	// Candidates are the local "ip:port" endpoints, best first.
	Candidates []string
}

// New validates opts.
func New(opts Options) (*Discoverer, error) {
	if opts.Reporter == nil {
		return nil, errors.New("natpath: Options.Reporter is required")
	}
	if opts.Servers == nil {
		opts.Servers = func() ([]string, bool) { return nil, true }
	}
	if opts.Port == nil {
		opts.Port = func() int { return 0 }
	}
	if opts.Exclude == nil {
		opts.Exclude = func() []netip.Prefix { return nil }
	}
	if opts.Addrs == nil {
		iface := opts.Interface
		opts.Addrs = func() ([]netip.Addr, error) { return hostAddrs(iface) }
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Refresh <= 0 {
		opts.Refresh = DefaultRefresh
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	d := &Discoverer{opts: opts, log: opts.Logger, pending: map[stun.TxID]chan netip.AddrPort{}}
	return d, nil
}

// Last is the last reported result (zero before the first report).
func (d *Discoverer) Last() Result {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.last
	r.Mapped = slices.Clone(r.Mapped)
	r.Candidates = slices.Clone(r.Candidates)
	return r
}

// Run discovers and reports until ctx ends.
func (d *Discoverer) Run(ctx context.Context) {
	if d.opts.Socket != nil {
		d.opts.Socket.OnSTUN(d.onSTUN)
		defer d.opts.Socket.OnSTUN(nil)
	}
	start := d.opts.Now()
	var (
		sent   Result
		have   bool
		dueAt  time.Time
		reason = "start"
	)
	for {
		wait := d.opts.Interval
		servers, applied := d.opts.Servers()
		port := d.port()
		switch {
		case port == 0 || (!applied && d.opts.Now().Sub(start) < withoutServers):
			wait = notReadyWait
		default:
			res := d.Discover(ctx, servers, port)
			now := d.opts.Now()
			changed := !have || !equal(res, sent)
			if changed && have {
				reason = "change"
			}
			if !res.Public.IsValid() {
				wait = failedWait
				break
			}
			if !changed && now.Before(dueAt) {
				break
			}
			if !changed {
				reason = "refresh"
			}
			ans, err := d.report(ctx, res)
			if err != nil {
				if ctx.Err() == nil {
					d.log.LogAttrs(ctx, slog.LevelWarn, "endpoint report failed", slog.String(logkey.Error, err.Error()))
				}
				wait = failedWait
				break
			}
			d.log.LogAttrs(ctx, slog.LevelInfo, "endpoint reported", slog.String(logkey.Endpoint, res.Public.String()),
				slog.String(logkey.NATType, res.NATType), slog.String(logkey.Reason, reason))
			sent, have = res, true
			d.mu.Lock()
			d.last = res
			d.mu.Unlock()
			dueAt = now.Add(d.opts.Refresh)
			if !ans.StaleAfter.IsZero() && !ans.AcceptedAt.IsZero() {
				if half := ans.AcceptedAt.Add(ans.StaleAfter.Sub(ans.AcceptedAt) / 2); half.Before(dueAt) {
					dueAt = half
				}
			}
			if d.opts.Apply != nil && len(ans.PeerEndpoints) > 0 {
				d.opts.Apply(ctx, ans.PeerEndpoints)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// port is the WireGuard socket's port, else Options.Port.
func (d *Discoverer) port() uint16 {
	if d.opts.Socket != nil {
		if p := d.opts.Socket.LocalPort(); p != 0 {
			return p
		}
	}
	if p := d.opts.Port(); p > 0 && p < 65536 {
		return uint16(p)
	}
	return 0
}

func (d *Discoverer) report(ctx context.Context, r Result) (*cpclient.EndpointAnswer, error) {
	ep := r.Public.String()
	return d.opts.Reporter.ReportEndpoint(ctx, nodeproto.EndpointReport{
		PublicEndpoint: ep, Endpoint: ep, NATType: r.NATType, ReportedAt: d.opts.Now().UTC(),
		Candidates: slices.Clone(r.Candidates),
	})
}

func equal(a, b Result) bool {
	return a.Public == b.Public && a.NATType == b.NATType && slices.Equal(a.Candidates, b.Candidates)
}

// Discover asks up to MaxServers STUN servers (in parallel) for the
// socket's mapping, classifies the NAT and gathers the candidates. port is
// the WireGuard port. Public is invalid when neither STUN nor a local
// address gives an endpoint.
func (d *Discoverer) Discover(ctx context.Context, servers []string, port uint16) Result {
	var res Result
	local, err := d.opts.Addrs()
	if err != nil {
		d.log.LogAttrs(ctx, slog.LevelDebug, "local addresses unreadable", slog.String(logkey.Error, err.Error()))
	}
	local = filterAddrs(local, d.opts.Exclude())
	if d.opts.Socket != nil && d.opts.Socket.LocalPort() != 0 && len(servers) > 0 {
		if len(servers) > MaxServers {
			servers = servers[:MaxServers]
		}
		answers := make([]netip.AddrPort, len(servers))
		var wg sync.WaitGroup
		for i, s := range servers {
			wg.Go(func() {
				ap, err := d.query(ctx, s)
				if err != nil {
					d.log.LogAttrs(ctx, slog.LevelDebug, "stun query failed", slog.String(logkey.Addr, s), slog.String(logkey.Error, err.Error()))
					return
				}
				answers[i] = ap
			})
		}
		wg.Wait()
		for _, a := range answers {
			if a.IsValid() {
				res.Mapped = append(res.Mapped, a)
			}
		}
	}
	res.NATType = Classify(local, port, res.Mapped)
	if len(res.Mapped) > 0 {
		res.Public = res.Mapped[0]
	}
	for _, a := range local {
		ap := netip.AddrPortFrom(a, port)
		if ap == res.Public || len(res.Candidates) >= MaxCandidates {
			continue
		}
		if !res.Public.IsValid() {
			res.Public = ap // no STUN answer: the best local address
			continue
		}
		res.Candidates = append(res.Candidates, ap.String())
	}
	return res
}

// Classify tells the NAT type from the mapped addresses of the STUN
// servers that answered: none when the mapping is a local address with the
// WireGuard port; symmetric when two servers saw different mappings;
// full_cone when at least two saw the same; unknown otherwise.
func Classify(local []netip.Addr, port uint16, mapped []netip.AddrPort) string {
	if len(mapped) == 0 {
		return nodeproto.NATUnknown
	}
	for _, m := range mapped[1:] {
		if m != mapped[0] {
			return nodeproto.NATSymmetric
		}
	}
	if mapped[0].Port() == port && slices.Contains(local, mapped[0].Addr()) {
		return nodeproto.NATNone
	}
	if len(mapped) >= 2 {
		return nodeproto.NATFullCone
	}
	return nodeproto.NATUnknown
}

// query asks one STUN server from the WireGuard socket, retransmitting.
func (d *Discoverer) query(ctx context.Context, server string) (netip.AddrPort, error) {
	to, err := resolve(ctx, server)
	if err != nil {
		return netip.AddrPort{}, err
	}
	for range queryTries {
		req, id := stun.NewBindingRequest()
		ch := make(chan netip.AddrPort, 1)
		d.mu.Lock()
		d.pending[id] = ch
		d.mu.Unlock()
		err := d.opts.Socket.SendRaw(req, to)
		var got netip.AddrPort
		if err == nil {
			t := time.NewTimer(queryTimeout)
			select {
			case got = <-ch:
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
		}
		d.mu.Lock()
		delete(d.pending, id)
		d.mu.Unlock()
		switch {
		case got.IsValid():
			return got, nil
		case ctx.Err() != nil:
			return netip.AddrPort{}, ctx.Err()
		case err != nil:
			return netip.AddrPort{}, err
		}
	}
	return netip.AddrPort{}, fmt.Errorf("no answer from %s", server)
}

// onSTUN matches a STUN answer on the shared socket to its query.
func (d *Discoverer) onSTUN(pkt []byte, _ netip.AddrPort) {
	id, mapped, err := stun.ParseBindingResponse(pkt)
	if err != nil {
		return
	}
	d.mu.Lock()
	ch := d.pending[id]
	d.mu.Unlock()
	if ch != nil {
		select {
		case ch <- mapped:
		default:
		}
	}
}

// resolve turns "ip:port" or "host:port" into an address (bounded).
func resolve(ctx context.Context, hostport string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return netip.AddrPort{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return netip.AddrPort{}, fmt.Errorf("resolving %q: %w", host, err)
	}
	return netip.ParseAddrPort(net.JoinHostPort(addrs[0].Unmap().String(), port))
}

// filterAddrs keeps unicast addresses usable by another host, outside the
// excluded prefixes, IPv4 first, without duplicates.
func filterAddrs(in []netip.Addr, exclude []netip.Prefix) []netip.Addr {
	var v4, v6 []netip.Addr
next:
	for _, a := range in {
		a = a.Unmap()
		if !a.IsValid() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified() {
			continue
		}
		for _, p := range exclude {
			if p.Contains(a) {
				continue next
			}
		}
		if a.Is4() {
			if !slices.Contains(v4, a) {
				v4 = append(v4, a)
			}
		} else if !slices.Contains(v6, a) {
			v6 = append(v6, a)
		}
	}
	return append(v4, v6...)
}

// hostAddrs lists the addresses of every interface that is up, skipping
// skip (the mesh interface).
func hostAddrs(skip string) ([]netip.Addr, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, ifc := range ifs {
		if ifc.Name == skip || ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok {
					out = append(out, ip.Unmap())
				}
			}
		}
	}
	return out, nil
}
