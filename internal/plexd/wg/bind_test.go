package wg

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.zx2c4.com/wireguard/conn"

	"github.com/plexsphere/plexsphere/internal/relaywire"
)

// stunBinding is a minimal STUN binding request (header only).
func stunBinding() []byte {
	return []byte{0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
}

func TestClassOf(t *testing.T) {
	wgInit := make([]byte, 148)
	wgInit[0] = 1
	copy(wgInit[4:8], stunCookie[:]) // a sender index equal to the cookie
	for _, c := range []struct {
		name string
		p    []byte
		want int
	}{
		{"stun", stunBinding(), classSTUN},
		{"wireguard initiation with cookie-like index", wgInit, classWireGuard},
		{"wireguard data", []byte{4, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8}, classWireGuard},
		{"relay ack", relaywire.Ack(uuid.New()), classRelay},
		{"relay data", relaywire.Data(uuid.New(), []byte{4, 0, 0, 0}), classRelay},
		{"short", []byte{0, 1}, classWireGuard},
	} {
		if got := classOf(c.p); got != c.want {
			t.Errorf("%s: class %d, want %d", c.name, got, c.want)
		}
	}
}

// recv runs one receive function until it yields a datagram WireGuard
// would see, returning it and its endpoint.
func recvWG(t *testing.T, fns []conn.ReceiveFunc) ([]byte, conn.Endpoint) {
	t.Helper()
	type res struct {
		p  []byte
		ep conn.Endpoint
	}
	ch := make(chan res, len(fns))
	for _, fn := range fns {
		go func() {
			k := conn.IdealBatchSize
			bufs := make([][]byte, k)
			for i := range bufs {
				bufs[i] = make([]byte, 2048)
			}
			sizes, eps := make([]int, k), make([]conn.Endpoint, k)
			for {
				n, err := fn(bufs, sizes, eps)
				if err != nil {
					return
				}
				for i := range n {
					if sizes[i] > 0 {
						ch <- res{bufs[i][:sizes[i]], eps[i]}
						return
					}
				}
			}
		}()
	}
	select {
	case r := <-ch:
		return r.p, r.ep
	case <-time.After(5 * time.Second):
		t.Fatal("no datagram reached WireGuard")
	}
	return nil, nil
}

func TestBindDemux(t *testing.T) {
	b := NewBind()
	if err := b.SendRaw([]byte("x"), netip.MustParseAddrPort("127.0.0.1:9")); err != ErrNotOpen {
		t.Fatalf("SendRaw before Open: %v", err)
	}
	fns, port, err := b.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.LocalPort() != port || port == 0 {
		t.Fatalf("LocalPort %d, Open said %d", b.LocalPort(), port)
	}
	stun := make(chan []byte, 1)
	b.OnSTUN(func(p []byte, _ netip.AddrPort) { stun <- p })
	acks := make(chan uuid.UUID, 1)
	b.OnRelayAck(func(s uuid.UUID, _ netip.AddrPort) { acks <- s })

	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	peerAddr := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	session := uuid.New()
	b.setSessions([]*relayEndpoint{{session: session, relay: peerAddr}})
	to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port))

	// SendRaw goes out of the shared socket.
	if err := b.SendRaw([]byte("hello"), peerAddr); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := peer.ReadFromUDP(buf)
	if err != nil || string(buf[:n]) != "hello" || from.Port != int(port) {
		t.Fatalf("raw datagram: %q from %v, %v", buf[:n], from, err)
	}

	// STUN, an ack and relay data of a foreign session never reach
	// WireGuard; relay data of our session arrives stripped.
	wgPkt := []byte{4, 0, 0, 0, 9, 9, 9, 9}
	for _, d := range [][]byte{stunBinding(), relaywire.Ack(session), relaywire.Data(uuid.New(), []byte{4, 0, 0, 0}), relaywire.Data(session, wgPkt)} {
		if _, err := peer.WriteToUDP(d, to); err != nil {
			t.Fatal(err)
		}
	}
	got, ep := recvWG(t, fns)
	if !bytes.Equal(got, wgPkt) {
		t.Fatalf("WireGuard got %x, want %x", got, wgPkt)
	}
	re, ok := ep.(*relayEndpoint)
	if !ok || re.session != session {
		t.Fatalf("endpoint %T %v, want the session's relay endpoint", ep, ep)
	}
	if p := <-stun; !bytes.Equal(p, stunBinding()) {
		t.Fatalf("stun handler got %x", p)
	}
	if s := <-acks; s != session {
		t.Fatalf("ack for %v", s)
	}

	// WireGuard's sends to the relay endpoint are framed.
	if err := b.Send([][]byte{wgPkt}, re); err != nil {
		t.Fatal(err)
	}
	n, _, err = peer.ReadFromUDP(buf)
	if err != nil {
		t.Fatal(err)
	}
	d, err := relaywire.Parse(buf[:n])
	if err != nil || d.Kind != relaywire.KindData || d.Session != session || !bytes.Equal(d.Payload, wgPkt) {
		t.Fatalf("framed: %+v %v", d, err)
	}
}

func TestParseRelayEndpoint(t *testing.T) {
	b := NewBind()
	s := uuid.New()
	ep, err := b.ParseEndpoint(RelayEndpointString(s, netip.MustParseAddrPort("192.0.2.1:51820")))
	if err != nil {
		t.Fatal(err)
	}
	if ep.DstToString() != "pxr:"+s.String()+"@192.0.2.1:51820" {
		t.Fatalf("round trip: %s", ep.DstToString())
	}
	for _, bad := range []string{"pxr:nope@1.2.3.4:5", "pxr:" + s.String(), "pxr:" + s.String() + "@host:1"} {
		if _, err := b.ParseEndpoint(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzClassify(f *testing.F) {
	s := uuid.New()
	f.Add(stunBinding())
	f.Add(relaywire.Data(s, []byte{4, 0, 0, 0}))
	f.Add(relaywire.Ack(s))
	f.Fuzz(func(t *testing.T, p []byte) {
		b := NewBind()
		b.setSessions([]*relayEndpoint{{session: s, relay: netip.MustParseAddrPort("127.0.0.1:1")}})
		buf := append([]byte(nil), p...)
		size := len(buf)
		var ep conn.Endpoint = &conn.StdNetEndpoint{AddrPort: netip.MustParseAddrPort("127.0.0.1:1")}
		b.classify(buf, &size, &ep)
		if size < 0 || size > len(p) {
			t.Fatalf("size %d of %d", size, len(p))
		}
		if classOf(p) == classWireGuard && size != len(p) {
			t.Fatal("a WireGuard datagram was altered")
		}
	})
}
