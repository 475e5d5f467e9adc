package relay

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/relaywire"
)

// freePort finds a UDP port on loopback that is free right now.
func freePort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func TestManagerStartsRebindsAndStops(t *testing.T) {
	clk := newClock()
	m := NewManager(ManagerOptions{Server: Config{Now: clk.Now}, ListenHost: "127.0.0.1"})
	defer m.Close()
	ctx := context.Background()
	id := uuid.New()
	rc := &nodeproto.RelayConfig{Sessions: []nodeproto.RelaySession{l2Session(id, token(1), token(2), clk.Now().Add(time.Minute))}}

	off := &nodeproto.BridgeConfig{Relay: &nodeproto.BridgeRelay{Enabled: false, ListenPort: 1}}
	if err := m.Apply(ctx, off, rc); err != nil || m.LocalAddr().IsValid() {
		t.Fatalf("relay runs with bridge_config.relay disabled: %v %v", err, m.LocalAddr())
	}
	p1 := freePort(t)
	on := func(port int) *nodeproto.BridgeConfig {
		return &nodeproto.BridgeConfig{Relay: &nodeproto.BridgeRelay{Enabled: true, ListenPort: port}}
	}
	if err := m.Apply(ctx, on(p1), rc); err != nil {
		t.Fatal(err)
	}
	if got := m.LocalAddr(); int(got.Port()) != p1 {
		t.Fatalf("listening on %v, want port %d", got, p1)
	}
	// Idempotent: the same state keeps the same socket.
	if err := m.Apply(ctx, on(p1), rc); err != nil || int(m.LocalAddr().Port()) != p1 {
		t.Fatalf("re-apply: %v %v", err, m.LocalAddr())
	}
	a := dial(t, m.LocalAddr())
	a.bind(id, token(1))

	// A new listen_port re-binds; the sessions and their binds stay.
	p2 := freePort(t)
	if err := m.Apply(ctx, on(p2), rc); err != nil {
		t.Fatal(err)
	}
	if got := m.LocalAddr(); int(got.Port()) != p2 {
		t.Fatalf("listening on %v after the port change, want %d", got, p2)
	}
	b := dial(t, m.LocalAddr())
	b.bind(id, token(2))
	a.to = m.LocalAddr()
	pkt := relaywire.Data(id, []byte("over the new port"))
	a.send(pkt)
	b.expect(pkt, "data after re-binding the relay")
	if c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p1}); err != nil {
		t.Errorf("the old port %d is still held: %v", p1, err)
	} else {
		c.Close()
	}

	st := m.Stats()
	if !st.Enabled || st.Sessions != 1 || st.BoundSides != 2 || st.ForwardedDatagrams != 1 {
		t.Errorf("stats %+v", st)
	}
	if info := m.Info(); !info.RelayEnabled || info.ActiveRelaySessions != 1 {
		t.Errorf("info %+v", info)
	}

	// Disabled: the socket closes and the port is free.
	if err := m.Apply(ctx, &nodeproto.BridgeConfig{Relay: &nodeproto.BridgeRelay{ListenPort: p2}}, rc); err != nil {
		t.Fatal(err)
	}
	if m.LocalAddr().IsValid() || m.Stats().Enabled || m.Info().RelayEnabled {
		t.Error("relay still running after it was disabled")
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p2})
	if err != nil {
		t.Fatalf("port %d still held after disabling: %v", p2, err)
	}
	// A taken port is an error, and the next Apply retries.
	if err := m.Apply(ctx, on(p2), rc); err == nil {
		t.Error("Apply on a taken port succeeded")
	}
	c.Close()
	if err := m.Apply(ctx, on(p2), rc); err != nil || !m.LocalAddr().IsValid() {
		t.Errorf("retry after the port was freed: %v", err)
	}
	m.Close()
	if err := m.Apply(ctx, on(p2), rc); err != nil || m.LocalAddr().IsValid() {
		t.Errorf("a closed manager started again: %v", err)
	}
}

func TestManagerLevelOneDefaultPort(t *testing.T) {
	m := NewManager(ManagerOptions{ListenHost: "127.0.0.1"})
	defer m.Close()
	rc := &nodeproto.RelayConfig{Sessions: []nodeproto.RelaySession{{SessionID: "s1", PeerAID: "a",
		PeerAEndpoint: "192.0.2.1:1", PeerBID: "b", PeerBEndpoint: "192.0.2.2:2", ExpiresAt: time.Now().Add(time.Minute)}}}
	// Without bridge_config.relay, sessions alone turn the relay on at the
	// default port (a level-1 control plane).
	err := m.Apply(context.Background(), nil, rc)
	if err != nil {
		t.Skipf("default relay port busy here: %v", err)
	}
	if got := m.LocalAddr().Port(); got != nodeproto.DefaultRelayPort {
		t.Errorf("port %d, want %d", got, nodeproto.DefaultRelayPort)
	}
	if err := m.Apply(context.Background(), nil, &nodeproto.RelayConfig{}); err != nil || m.LocalAddr().IsValid() {
		t.Errorf("relay still on without sessions: %v", err)
	}
}

// dial is a loopback client of the relay at to.
func dial(t testing.TB, to netip.AddrPort) *client {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, conn: conn, to: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), to.Port())}
}
