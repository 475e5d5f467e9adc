package wg

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/relaywire"
)

// wantPeer is one peer as the device should hold it.
type wantPeer struct {
	id        string
	pub       [32]byte
	psk       [32]byte // zero: none
	keepalive int
	allowed   []netip.Prefix // sorted
	// relay is the peer's level-2 relay session (nil: none).
	relay *relayEndpoint
	token [relaywire.TokenLen]byte
	// targets are the direct "ip:port" endpoints to try, best first.
	targets []netip.AddrPort
	// fallback is the level-1 relay address (fallback_endpoint).
	fallback netip.AddrPort
	meshIP   netip.Addr
}

// endpoint is the UAPI endpoint the device starts with ("" none).
func (w *wantPeer) endpoint() string {
	if w.relay != nil {
		return w.relay.DstToString()
	}
	if len(w.targets) > 0 {
		return w.targets[0].String()
	}
	return ""
}

// resolver turns "host:port" into an address; tests use the default.
type resolver func(ctx context.Context, hostport string) (netip.AddrPort, error)

// resolveAddrPort parses "ip:port" or resolves "host:port" (bounded).
func resolveAddrPort(ctx context.Context, hostport string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return netip.AddrPort{}, err
	}
	addr, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addr) == 0 {
		return netip.AddrPort{}, fmt.Errorf("resolving %q: %w", host, err)
	}
	ap, err := netip.ParseAddrPort(net.JoinHostPort(addr[0].Unmap().String(), port))
	return ap, err
}

// wantOf renders a validated peer. Unusable optional members (a bad
// candidate, a relay with an unparsable token) are dropped, reported
// through drop; a bad key or allowed IP fails the peer.
func wantOf(ctx context.Context, p nodeproto.Peer, resolve resolver, drop func(string, error)) (*wantPeer, error) {
	w := &wantPeer{id: p.ID, keepalive: p.PersistentKeepalive}
	var err error
	if w.pub, err = nodeproto.ParseKey32(p.PublicKey); err != nil {
		return nil, fmt.Errorf("peer %s: public key: %w", p.ID, err)
	}
	if p.PSK != "" {
		if w.psk, err = nodeproto.ParseKey32(p.PSK); err != nil {
			return nil, fmt.Errorf("peer %s: psk: %w", p.ID, err)
		}
	}
	for _, s := range p.AllowedIPs {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("peer %s: allowed ip %q: %w", p.ID, s, err)
		}
		w.allowed = append(w.allowed, pfx.Masked())
	}
	slices.SortFunc(w.allowed, comparePrefix)
	w.allowed = slices.Compact(w.allowed)
	w.meshIP, _ = netip.ParseAddr(p.MeshIP)
	if p.Relay != nil {
		if re, tok, err := relayOf(ctx, p.Relay, resolve); err != nil {
			drop("relay", fmt.Errorf("peer %s: %w", p.ID, err))
		} else {
			w.relay, w.token = re, tok
		}
	}
	if p.FallbackEndpoint != "" {
		w.fallback, _ = resolve(ctx, p.FallbackEndpoint)
	}
	for _, s := range append([]string{p.Endpoint}, p.Candidates...) {
		if s == "" {
			continue
		}
		ap, err := resolve(ctx, s)
		if err != nil || !ap.IsValid() || ap.Port() == 0 {
			drop("endpoint", fmt.Errorf("peer %s: %q unusable", p.ID, s))
			continue
		}
		if !slices.Contains(w.targets, ap) {
			w.targets = append(w.targets, ap)
		}
	}
	return w, nil
}

func relayOf(ctx context.Context, r *nodeproto.PeerRelay, resolve resolver) (*relayEndpoint, [relaywire.TokenLen]byte, error) {
	var tok [relaywire.TokenLen]byte
	sid, err := uuid.Parse(r.SessionID)
	if err != nil {
		return nil, tok, fmt.Errorf("relay session: %w", err)
	}
	ap, err := resolve(ctx, r.Endpoint)
	if err != nil {
		return nil, tok, fmt.Errorf("relay endpoint: %w", err)
	}
	if tok, err = relaywire.ParseToken(r.Token); err != nil {
		return nil, tok, err
	}
	return &relayEndpoint{session: sid, relay: ap}, tok, nil
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// delta is what one Set changes on the device.
type delta struct {
	privateKey *[32]byte
	listenPort *int
	remove     [][32]byte
	upsert     []peerChange
}

// peerChange creates a peer or updates some of its members.
type peerChange struct {
	pub       [32]byte
	create    bool
	psk       *[32]byte
	keepalive *int
	allowed   []netip.Prefix // with replaceIPs
	replaceIP bool
	endpoint  string // "" unchanged
}

func (d *delta) empty() bool {
	return d.privateKey == nil && d.listenPort == nil && len(d.remove) == 0 && len(d.upsert) == 0
}

// diffPeers computes the peer part of a delta from old to new (by ID).
// A peer whose key changed is removed and created again.
func diffPeers(old, new map[string]*wantPeer) (remove [][32]byte, upsert []peerChange) {
	for id, o := range old {
		if n, ok := new[id]; !ok || n.pub != o.pub {
			remove = append(remove, o.pub)
		}
	}
	for _, id := range sortedKeys(new) {
		n := new[id]
		o, ok := old[id]
		if !ok || o.pub != n.pub {
			upsert = append(upsert, createOf(n))
			continue
		}
		c := peerChange{pub: n.pub}
		if o.psk != n.psk {
			psk := n.psk
			c.psk = &psk
		}
		if o.keepalive != n.keepalive {
			ka := n.keepalive
			c.keepalive = &ka
		}
		if !slices.Equal(o.allowed, n.allowed) {
			c.allowed, c.replaceIP = n.allowed, true
		}
		if o.endpoint() != n.endpoint() {
			c.endpoint = n.endpoint()
		}
		if c.psk != nil || c.keepalive != nil || c.replaceIP || c.endpoint != "" {
			upsert = append(upsert, c)
		}
	}
	return remove, upsert
}

// createOf is the change that creates w with every member.
func createOf(w *wantPeer) peerChange {
	psk, ka := w.psk, w.keepalive
	return peerChange{pub: w.pub, create: true, psk: &psk, keepalive: &ka, allowed: w.allowed, replaceIP: true, endpoint: w.endpoint()}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// uapi renders d in the UAPI set format (replace_peers is never sent:
// peers are updated or removed one by one).
func (d *delta) uapi() string {
	var b strings.Builder
	kv := func(k, v string) { b.WriteString(k + "=" + v + "\n") }
	if d.privateKey != nil {
		kv("private_key", hex.EncodeToString(d.privateKey[:]))
	}
	if d.listenPort != nil {
		kv("listen_port", fmt.Sprint(*d.listenPort))
	}
	for _, pub := range d.remove {
		kv("public_key", hex.EncodeToString(pub[:]))
		kv("remove", "true")
	}
	for _, c := range d.upsert {
		kv("public_key", hex.EncodeToString(c.pub[:]))
		if !c.create {
			kv("update_only", "true")
		}
		if c.psk != nil {
			kv("preshared_key", hex.EncodeToString(c.psk[:]))
		}
		if c.endpoint != "" {
			kv("endpoint", c.endpoint)
		}
		if c.keepalive != nil {
			kv("persistent_keepalive_interval", fmt.Sprint(*c.keepalive))
		}
		if c.replaceIP {
			kv("replace_allowed_ips", "true")
			for _, p := range c.allowed {
				kv("allowed_ip", p.String())
			}
		}
	}
	return b.String()
}
