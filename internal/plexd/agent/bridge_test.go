package agent_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/cptest"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh/meshtest"
	"github.com/plexsphere/plexsphere/internal/plexd/relay"
	"github.com/plexsphere/plexsphere/internal/plexd/stream"
	"github.com/plexsphere/plexsphere/internal/relaywire"
)

func relayToken(b byte) [relaywire.TokenLen]byte {
	var t [relaywire.TokenLen]byte
	for i := range t {
		t[i] = b ^ byte(i)
	}
	return t
}

func relaySession(id uuid.UUID, a, b byte) nodeproto.RelaySession {
	return nodeproto.RelaySession{SessionID: id.String(), PeerAID: "node-a", PeerAEndpoint: "192.0.2.1:51820",
		PeerBID: "node-b", PeerBEndpoint: "192.0.2.2:51820", ExpiresAt: time.Now().Add(4 * time.Minute).UTC().Truncate(time.Second),
		PeerAToken: relaywire.FormatToken(relayToken(a)), PeerBToken: relaywire.FormatToken(relayToken(b))}
}

// udpPort is a loopback UDP port free right now.
func udpPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// TestBridgeRunsRelayFromStateAndEvents: a bridge agent starts the relay
// from bridge_config.relay, takes sessions from relay_config and from
// relay_session_assigned / revoked events, forwards real datagrams, and
// reports the relay in its heartbeat and status.
func TestBridgeRunsRelayFromStateAndEvents(t *testing.T) {
	cp := cptest.New(t, cptest.Options{})
	id, store, cl := joinNode(t, cp, t.TempDir())
	mgr := relay.NewManager(relay.ManagerOptions{ListenHost: "127.0.0.1"})
	t.Cleanup(mgr.Close)
	logs := &syncBuffer{}
	ag, err := agent.New(agent.Options{
		Identity: id, Store: store, ControlPlane: cl, Mesh: meshtest.New(64), Mode: "bridge", Bridge: mgr,
		Logger:            slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		HeartbeatInterval: time.Hour, ReconcileInterval: time.Hour,
		BinaryChecksum: func() (string, error) { return strings.Repeat("ab", 32), nil },
		Stream:         stream.Options{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ag.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	h := &harness{t: t, cp: cp, id: id}
	h.waitConnect()

	port := udpPort(t)
	s1, s2 := uuid.New(), uuid.New()
	cp.SetState(id.NodeID, nodeproto.StateResponse{Peers: []nodeproto.Peer{}, Policies: []nodeproto.Policy{},
		Metadata: map[string]string{}, Data: []nodeproto.DataEntry{}, SecretRefs: []nodeproto.SecretRef{},
		BridgeConfig: &nodeproto.BridgeConfig{AccessSubnets: []string{}, Relay: &nodeproto.BridgeRelay{Enabled: true, ListenPort: port}},
		RelayConfig:  &nodeproto.RelayConfig{Sessions: []nodeproto.RelaySession{relaySession(s1, 1, 2)}}})
	if err := ag.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if got := mgr.LocalAddr(); int(got.Port()) != port {
		t.Fatalf("relay listens on %v, want port %d", got, port)
	}
	waitSessions := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for mgr.Stats().Sessions != n {
			if time.Now().After(deadline) {
				t.Fatalf("relay holds %d sessions, want %d\n%s", mgr.Stats().Sessions, n, logs.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitSessions(1)

	cp.Emit(id.NodeID, nodeproto.EventRelaySessionAssigned, relaySession(s2, 3, 4))
	waitSessions(2)
	relayAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	a, b := udpClient(t), udpClient(t)
	exchange(t, a, relayAddr, relaywire.Bind(s2, relayToken(3)), relaywire.Ack(s2))
	exchange(t, b, relayAddr, relaywire.Bind(s2, relayToken(4)), relaywire.Ack(s2))
	pkt := relaywire.Data(s2, []byte("ciphertext"))
	exchangeTo(t, a, b, relayAddr, pkt)

	if st := ag.Status(); st.Relay == nil || !st.Relay.Enabled || st.Relay.Sessions != 2 || st.Relay.ForwardedDatagrams != 1 {
		t.Errorf("status relay %+v", st.Relay)
	}
	if hb := ag.Heartbeat(); hb.Bridge == nil || !hb.Bridge.RelayEnabled || hb.Bridge.ActiveRelaySessions != 2 {
		t.Errorf("heartbeat bridge %+v", hb.Bridge)
	}

	cp.Emit(id.NodeID, nodeproto.EventRelaySessionRevoked, nodeproto.RelaySessionRevoked{SessionID: s2.String()})
	waitSessions(1)
	if _, err := a.WriteToUDPAddrPort(pkt, relayAddr); err != nil {
		t.Fatal(err)
	}
	_ = b.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
	if n, _, err := b.ReadFromUDPAddrPort(make([]byte, 256)); err == nil {
		t.Errorf("a revoked session forwarded %d bytes", n)
	}
	if strings.Contains(logs.String(), relaywire.FormatToken(relayToken(3))) {
		t.Error("a relay token appears in the agent's log")
	}
}

// TestPlainNodeHasNoBridge: without a Bridge, heartbeat and status carry
// no relay member.
func TestPlainNodeHasNoBridge(t *testing.T) {
	cp := cptest.New(t, cptest.Options{})
	h := start(t, cp)
	if hb := h.agent.Heartbeat(); hb.Bridge != nil {
		t.Errorf("plain node heartbeat has bridge %+v", hb.Bridge)
	}
	if st := h.agent.Status(); st.Relay != nil {
		t.Errorf("plain node status has relay %+v", st.Relay)
	}
}

func udpClient(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// exchange sends req to the relay and expects want back.
func exchange(t *testing.T, c *net.UDPConn, relayAddr netip.AddrPort, req, want []byte) {
	t.Helper()
	exchangeTo(t, c, c, relayAddr, req, want)
}

// exchangeTo sends pkt from one client and expects the other to receive
// want (pkt itself when omitted).
func exchangeTo(t *testing.T, from, to *net.UDPConn, relayAddr netip.AddrPort, pkt []byte, want ...[]byte) {
	t.Helper()
	exp := pkt
	if len(want) > 0 {
		exp = want[0]
	}
	if _, err := from.WriteToUDPAddrPort(pkt, relayAddr); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	_ = to.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := to.ReadFromUDPAddrPort(buf)
	if err != nil || !bytes.Equal(buf[:n], exp) {
		t.Fatalf("got %q (%v), want %q", buf[:n], err, exp)
	}
}
