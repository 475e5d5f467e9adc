package wg

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.zx2c4.com/wireguard/tun/netstack"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/identity"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
	"github.com/plexsphere/plexsphere/internal/relaywire"
)

// node is one in-process netstack engine of a test.
type node struct {
	id   string
	ip   string
	key  identity.KeyPair
	eng  *Engine
	port int
}

// fastOptions shortens every timer so path tests take seconds.
func fastOptions() Options {
	return Options{Backend: BackendNetstack, Tick: 50 * time.Millisecond, ProbeInterval: 200 * time.Millisecond,
		AttemptTimeout: 400 * time.Millisecond, DirectFailAfter: 1500 * time.Millisecond}
}

func newNode(t *testing.T, id, ip string, opts Options) *node {
	t.Helper()
	kp, err := identity.NewKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	n := &node{id: id, ip: ip, key: kp, eng: e}
	n.set(t) // no peers yet: opens the socket on a random port
	n.port = int(e.Bind().LocalPort())
	if n.port == 0 {
		t.Fatal("no listen port after Set")
	}
	return n
}

func (n *node) cfg(peers ...nodeproto.Peer) mesh.Config {
	return mesh.Config{Interface: "plexd0", Address: n.ip, MeshCIDR: "10.99.0.0/16", PrivateKey: n.key.Private, Peers: peers}
}

func (n *node) set(t *testing.T, peers ...nodeproto.Peer) {
	t.Helper()
	if err := n.eng.Set(context.Background(), n.cfg(peers...)); err != nil {
		t.Fatal(err)
	}
}

// peerOf is n as a peer reached at endpoint.
func (n *node) peerOf(endpoint string) nodeproto.Peer {
	return nodeproto.Peer{ID: n.id, PublicKey: n.key.Public, MeshIP: n.ip, Endpoint: endpoint, AllowedIPs: []string{n.ip + "/32"}}
}

func (n *node) addr() string { return fmt.Sprintf("127.0.0.1:%d", n.port) }

// pair returns two engines configured as each other's peer; a knows b's
// endpoint, b learns a's from a's handshake (so the two never send
// crossing initiations, which cost WireGuard a 5 s retry).
func pair(t *testing.T) (*node, *node) {
	a := newNode(t, "node-a", "10.99.0.1", fastOptions())
	b := newNode(t, "node-b", "10.99.0.2", fastOptions())
	b.set(t, a.peerOf(""))
	a.set(t, b.peerOf(b.addr()))
	return a, b
}

// link configures x with peer px, waits until x has sent its handshake
// initiation (which y, not yet configured, drops), then configures y with
// py: y's initiation then finds x ready and the two never cross in flight
// (crossed initiations cost WireGuard a 5 s retry).
func link(t *testing.T, x *node, px nodeproto.Peer, y *node, py nodeproto.Peer) {
	t.Helper()
	x.set(t, px)
	waitFor(t, x.id+" sending", func() bool { return peerStatus(x.eng, px.ID).TxBytes > 0 })
	y.set(t, py)
}

// serveHTTP answers "hello from <ip>" on ip:80 of tnet.
func serveHTTP(t *testing.T, tnet *netstack.Net, ip string) {
	l, err := tnet.ListenTCPAddrPort(netip.MustParseAddrPort(ip + ":80"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "hello from %s", ip)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

func get(t *testing.T, tnet *netstack.Net, url string) string {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: tnet.DialContext}, Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatalf("GET %s through the tunnel: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func peerStatus(e *Engine, id string) nodeproto.PeerStatus {
	for _, p := range e.Stats().Peers {
		if p.PeerID == id {
			return p
		}
	}
	return nodeproto.PeerStatus{}
}

func TestNetstackHTTPThroughTunnel(t *testing.T) {
	a, b := pair(t)
	serveHTTP(t, b.eng.Net(), b.ip)
	if got := get(t, a.eng.Net(), "http://10.99.0.2/"); got != "hello from 10.99.0.2" {
		t.Fatalf("body %q", got)
	}
	st := a.eng.Stats()
	if st.Backend != BackendNetstack || st.PeerCount != 1 || st.ListenPort != a.port || st.Interface != "plexd0" {
		t.Fatalf("stats %+v", st)
	}
	waitFor(t, "a direct path with an RTT", func() bool {
		p := peerStatus(a.eng, "node-b")
		return p.Path == nodeproto.PathDirect && p.Endpoint == b.addr() && p.RTTMillis > 0 && !p.LastHandshake.IsZero() && p.TxBytes > 0
	})
	// Set is idempotent: the same config changes nothing and keeps traffic.
	a.set(t, b.peerOf(b.addr()))
	if got := get(t, a.eng.Net(), "http://10.99.0.2/"); got != "hello from 10.99.0.2" {
		t.Fatalf("after an idempotent Set: %q", got)
	}
}

// echo serves a line echo on ip:7 and returns a connection from the
// other side.
func echoConn(t *testing.T, server, client *netstack.Net, ip string) net.Conn {
	l, err := server.ListenTCPAddrPort(netip.MustParseAddrPort(ip + ":7"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		io.Copy(c, c)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, "tcp", ip+":7")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintln(c, msg); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	line, err := r.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != msg {
		t.Fatalf("echo of %q: %q %v", msg, line, err)
	}
}

func TestNetstackKeyRotationAndEndpointChangeKeepConnection(t *testing.T) {
	a := newNode(t, "node-a", "10.99.0.1", fastOptions())
	b := newNode(t, "node-b", "10.99.0.2", fastOptions())
	// a reaches b through a forwarder (b's first address); b answers
	// whatever address a's packets come from.
	fw1 := newForwarder(t, b.addr())
	b.set(t, a.peerOf(""))
	a.set(t, b.peerOf(fw1.addr()))
	c := echoConn(t, b.eng.Net(), a.eng.Net(), b.ip)
	r := bufio.NewReader(c)
	roundTrip(t, c, r, "before")

	// a rotates its key: a applies it, b learns the new public key.
	kp, err := identity.NewKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	a.key = kp
	a.set(t, b.peerOf(fw1.addr()))
	b.set(t, a.peerOf(""))
	roundTrip(t, c, r, "after rotation")

	// b moves: its first address goes away, then a is told the second one.
	// (The other order races: a packet still in flight from the old
	// address after the change makes WireGuard roam back to it.)
	fw := newForwarder(t, b.addr())
	fw1.pc.Close()
	time.Sleep(100 * time.Millisecond)
	a.set(t, b.peerOf(fw.addr()))
	roundTrip(t, c, r, "after endpoint change")
	roundTrip(t, c, r, "still there")
	if fw.n.Load() == 0 || peerStatus(a.eng, "node-b").Endpoint != fw.addr() {
		t.Fatalf("traffic did not move to the new endpoint: %d forwarded, endpoint %s", fw.n.Load(), peerStatus(a.eng, "node-b").Endpoint)
	}
}

// forwarder relays UDP between its first client and target.
type forwarder struct {
	pc *net.UDPConn
	n  atomic.Int64
}

func newForwarder(t *testing.T, target string) *forwarder {
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	f := &forwarder{pc: pc}
	to, _ := net.ResolveUDPAddr("udp4", target)
	go func() {
		var client *net.UDPAddr
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if from.String() == to.String() {
				if client != nil {
					pc.WriteToUDP(buf[:n], client)
				}
				continue
			}
			client = from
			pc.WriteToUDP(buf[:n], to)
			f.n.Add(1)
		}
	}()
	return f
}

func (f *forwarder) addr() string { return f.pc.LocalAddr().String() }

// relay is a tiny relaywire forwarder: binds with either token register
// that side's source, data goes to the other side, header kept.
type relay struct {
	pc        *net.UDPConn
	session   uuid.UUID
	tokens    [2][relaywire.TokenLen]byte
	mu        sync.Mutex
	sides     [2]*net.UDPAddr
	forwarded atomic.Int64
}

func newRelay(t *testing.T) *relay {
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{pc: pc, session: uuid.New()}
	r.tokens[0][0], r.tokens[1][0] = 1, 2
	t.Cleanup(func() { pc.Close() })
	go r.serve()
	return r
}

func (r *relay) serve() {
	buf := make([]byte, 2048)
	for {
		n, from, err := r.pc.ReadFromUDP(buf)
		if err != nil {
			return
		}
		d, err := relaywire.Parse(buf[:n])
		if err != nil || d.Session != r.session {
			continue
		}
		r.mu.Lock()
		switch d.Kind {
		case relaywire.KindBind:
			for i, tok := range r.tokens {
				if relaywire.TokenEqual(tok, d.Token) {
					r.sides[i] = from
					r.pc.WriteToUDP(relaywire.Ack(r.session), from)
				}
			}
		case relaywire.KindData:
			for i, s := range r.sides {
				other := r.sides[1-i]
				if s != nil && other != nil && s.String() == from.String() {
					r.pc.WriteToUDP(buf[:n], other)
					r.forwarded.Add(1)
				}
			}
		}
		r.mu.Unlock()
	}
}

func (r *relay) peerRelay(side int) *nodeproto.PeerRelay {
	return &nodeproto.PeerRelay{SessionID: r.session.String(), Endpoint: r.pc.LocalAddr().String(), Token: relaywire.FormatToken(r.tokens[side])}
}

func TestNetstackThroughRelay(t *testing.T) {
	a := newNode(t, "node-a", "10.99.0.1", fastOptions())
	b := newNode(t, "node-b", "10.99.0.2", fastOptions())
	rl := newRelay(t)
	pa, pb := a.peerOf(""), b.peerOf("")
	pb.Relay, pa.Relay = rl.peerRelay(0), rl.peerRelay(1) // a binds with token 0, b with 1
	link(t, b, pa, a, pb)
	serveHTTP(t, b.eng.Net(), b.ip)
	if got := get(t, a.eng.Net(), "http://10.99.0.2/"); got != "hello from 10.99.0.2" {
		t.Fatalf("body %q", got)
	}
	if rl.forwarded.Load() == 0 {
		t.Fatal("the relay forwarded nothing: the traffic did not go through it")
	}
	for _, n := range []*node{a, b} {
		other := map[string]string{"node-a": "node-b", "node-b": "node-a"}[n.id]
		p := peerStatus(n.eng, other)
		if p.Path != nodeproto.PathRelayed || p.Endpoint != rl.pc.LocalAddr().String() || p.DirectFailed {
			t.Fatalf("%s sees %+v, want relayed via %s", n.id, p, rl.pc.LocalAddr())
		}
	}
}

// deadAddr is a UDP address that swallows everything.
func deadAddr(t *testing.T) string {
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String()
}

func TestNetstackCandidatesThenDirectFailed(t *testing.T) {
	a := newNode(t, "node-a", "10.99.0.1", fastOptions())
	b := newNode(t, "node-b", "10.99.0.2", fastOptions())
	// The endpoint is dead, the second candidate is b: a finds it.
	pb := b.peerOf(deadAddr(t))
	pb.Candidates = []string{deadAddr(t), b.addr()}
	link(t, a, pb, b, a.peerOf(""))
	waitFor(t, "a direct path over the third target", func() bool {
		p := peerStatus(a.eng, "node-b")
		return p.Path == nodeproto.PathDirect && p.Endpoint == b.addr() && !p.DirectFailed
	})

	// A peer with only dead targets is reported direct_failed.
	c := newNode(t, "node-c", "10.99.0.3", fastOptions())
	pc := c.peerOf(deadAddr(t))
	pc.Candidates = []string{deadAddr(t)}
	a.set(t, pb, pc)
	waitFor(t, "direct_failed for node-c", func() bool {
		p := peerStatus(a.eng, "node-c")
		return p.DirectFailed && p.Path == nodeproto.PathDown
	})
	if p := peerStatus(a.eng, "node-b"); p.DirectFailed || p.Path != nodeproto.PathDirect {
		t.Fatalf("node-b lost its path when node-c was added: %+v", p)
	}
}

func TestNewValidatesOptions(t *testing.T) {
	for _, o := range []Options{
		{Backend: "bogus"},
		{Backend: BackendUserspace}, // no data dir
		{Backend: BackendNetstack, MTU: 1000},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	e, err := New(Options{Backend: BackendNetstack})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Set(context.Background(), mesh.Config{Address: "10.99.0.1", PrivateKey: "not a key"}); err == nil || strings.Contains(err.Error(), "not a key") {
		t.Fatalf("bad private key: %v", err)
	}
}

func TestResolveBackend(t *testing.T) {
	yes, no := func() bool { return true }, func() bool { return false }
	for _, c := range []struct {
		want        string
		kernel, tun func() bool
		got         string
	}{
		{"auto", yes, yes, BackendKernel},
		{"auto", no, yes, BackendUserspace},
		{"", no, no, BackendNetstack},
		{"userspace", yes, yes, BackendUserspace},
		{"netstack", yes, yes, BackendNetstack},
	} {
		got, err := resolveWith(c.want, probes{kernel: c.kernel, tun: c.tun})
		if err != nil || got != c.got {
			t.Errorf("%q: %q %v, want %q", c.want, got, err, c.got)
		}
	}
	if _, err := resolveWith("wireguard", probes{kernel: yes, tun: yes}); err == nil {
		t.Error("unknown backend accepted")
	}
}

// TestRelayedPeerDoesNotRoamOff: WireGuard roams to the source of any
// authenticated packet; a relayed peer whose device endpoint moved to a
// direct address (here set behind the engine's back, as a stray direct
// packet would) is put back on its relay by the next tick, and traffic
// keeps flowing through the relay.
func TestRelayedPeerDoesNotRoamOff(t *testing.T) {
	a := newNode(t, "node-a", "10.99.0.1", fastOptions())
	b := newNode(t, "node-b", "10.99.0.2", fastOptions())
	rl := newRelay(t)
	pa, pb := a.peerOf(""), b.peerOf("")
	pb.Relay, pa.Relay = rl.peerRelay(0), rl.peerRelay(1)
	link(t, b, pa, a, pb)
	serveHTTP(t, b.eng.Net(), b.ip)
	if got := get(t, a.eng.Net(), "http://10.99.0.2/"); got != "hello from 10.99.0.2" {
		t.Fatalf("body %q", got)
	}
	// Both sides roam to each other's direct address: without the pin they
	// would stay there, each answering the other directly.
	for _, x := range [][2]*node{{a, b}, {b, a}} {
		x[0].eng.setMu.Lock()
		err := x[0].eng.drv.apply(&delta{upsert: []peerChange{{pub: x[1].key32(t), endpoint: x[1].addr()}}})
		x[0].eng.setMu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, x := range [][2]*node{{a, b}, {b, a}} {
		waitFor(t, x[0].id+" back on the relay", func() bool {
			p := peerStatus(x[0].eng, x[1].id)
			return p.Path == nodeproto.PathRelayed && p.Endpoint == rl.pc.LocalAddr().String()
		})
	}
	before := rl.forwarded.Load()
	if got := get(t, a.eng.Net(), "http://10.99.0.2/"); got != "hello from 10.99.0.2" {
		t.Fatalf("body after the roam %q", got)
	}
	if rl.forwarded.Load() == before {
		t.Error("traffic after the roam did not go through the relay")
	}
}

func (n *node) key32(t *testing.T) [32]byte {
	k, err := nodeproto.ParseKey32(n.key.Public)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
