package relay

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/relaywire"
	"github.com/plexsphere/plexsphere/internal/stun"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func token(b byte) [relaywire.TokenLen]byte {
	var t [relaywire.TokenLen]byte
	for i := range t {
		t[i] = b + byte(i)
	}
	return t
}

// l2Session is a level-2 session with tokens tokA and tokB.
func l2Session(id uuid.UUID, tokA, tokB [relaywire.TokenLen]byte, expires time.Time) nodeproto.RelaySession {
	return nodeproto.RelaySession{SessionID: id.String(), PeerAID: "node-a", PeerAEndpoint: "192.0.2.1:51820",
		PeerBID: "node-b", PeerBEndpoint: "192.0.2.2:51820", ExpiresAt: expires,
		PeerAToken: relaywire.FormatToken(tokA), PeerBToken: relaywire.FormatToken(tokB)}
}

// lab is a relay on a loopback socket and its clients.
type lab struct {
	t   testing.TB
	clk *fakeClock
	srv *Server
	// addr is the relay's address.
	addr netip.AddrPort
}

func newLab(t testing.TB, cfg Config) *lab {
	t.Helper()
	clk := newClock()
	if cfg.Now == nil {
		cfg.Now = clk.Now
	}
	srv := NewServer(cfg)
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, conn) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &lab{t: t, clk: clk, srv: srv, addr: conn.LocalAddr().(*net.UDPAddr).AddrPort()}
}

// client is a UDP socket on loopback.
type client struct {
	t    testing.TB
	conn *net.UDPConn
	to   netip.AddrPort
}

func (l *lab) client() *client {
	l.t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { conn.Close() })
	return &client{t: l.t, conn: conn, to: l.addr}
}

func (c *client) addr() netip.AddrPort { return c.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (c *client) send(b []byte) {
	c.t.Helper()
	if _, err := c.conn.WriteToUDPAddrPort(b, c.to); err != nil {
		c.t.Fatal(err)
	}
}

// recv reads one datagram or returns nil after wait.
func (c *client) recv(wait time.Duration) ([]byte, netip.AddrPort) {
	c.t.Helper()
	buf := make([]byte, 4096)
	_ = c.conn.SetReadDeadline(time.Now().Add(wait))
	n, from, err := c.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		return nil, netip.AddrPort{}
	}
	return buf[:n], from
}

// bind binds the client and expects an ack from the relay.
func (c *client) bind(id uuid.UUID, tok [relaywire.TokenLen]byte) {
	c.t.Helper()
	c.send(relaywire.Bind(id, tok))
	got, from := c.recv(2 * time.Second)
	if !bytes.Equal(got, relaywire.Ack(id)) || from != c.to {
		c.t.Fatalf("bind: got %q from %v, want an ack from %v", got, from, c.to)
	}
}

// expectNothing fails if a datagram arrives within a short wait.
func (c *client) expectNothing(what string) {
	c.t.Helper()
	if got, from := c.recv(150 * time.Millisecond); got != nil {
		c.t.Fatalf("%s: got %q from %v, want nothing", what, got, from)
	}
}

func (c *client) expect(want []byte, what string) {
	c.t.Helper()
	got, _ := c.recv(2 * time.Second)
	if !bytes.Equal(got, want) {
		c.t.Fatalf("%s: got %q, want %q", what, got, want)
	}
}

func TestBindAndForwardBothWays(t *testing.T) {
	l := newLab(t, Config{})
	id := uuid.New()
	l.srv.SetSessions([]nodeproto.RelaySession{l2Session(id, token(1), token(2), l.clk.Now().Add(4*time.Minute))})
	a, b := l.client(), l.client()
	a.bind(id, token(1))
	b.bind(id, token(2))

	ab := relaywire.Data(id, []byte("wireguard ciphertext a→b"))
	a.send(ab)
	b.expect(ab, "a→b")
	ba := relaywire.Data(id, []byte("wireguard ciphertext b→a"))
	b.send(ba)
	a.expect(ba, "b→a")

	st := l.srv.Stats()
	if st.Sessions != 1 || st.BoundSides != 2 || st.Binds != 2 || st.ForwardedDatagrams != 2 ||
		st.ForwardedBytes != uint64(len(ab)+len(ba)) || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestWrongTokenAndUnboundAreDropped(t *testing.T) {
	l := newLab(t, Config{})
	id := uuid.New()
	l.srv.SetSessions([]nodeproto.RelaySession{l2Session(id, token(1), token(2), l.clk.Now().Add(4*time.Minute))})
	a, b, evil := l.client(), l.client(), l.client()
	b.bind(id, token(2))

	evil.send(relaywire.Bind(id, token(9)))
	evil.expectNothing("bind with a wrong token")
	evil.send(relaywire.Bind(uuid.New(), token(1)))
	evil.expectNothing("bind of an unknown session")
	evil.send(relaywire.Data(id, []byte("forged")))
	b.expectNothing("data from an unbound source")
	// Side A has not bound: B's data has nowhere to go.
	b.send(relaywire.Data(id, []byte("to nobody")))
	a.expectNothing("data to an unbound side")
	evil.send([]byte("\x01\x00\x00\x00 raw wireguard from a stranger"))
	b.expectNothing("raw datagram from a stranger")

	st := l.srv.Stats()
	want := map[string]uint64{DropBadToken: 1, DropUnknown: 1, DropUnbound: 1, DropPeerUnbound: 1, DropNotRelay: 1}
	for r, n := range want {
		if st.Drops[r] != n {
			t.Errorf("drops[%s] = %d, want %d (%+v)", r, st.Drops[r], n, st.Drops)
		}
	}
	if st.ForwardedDatagrams != 0 || st.BoundSides != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestRebindFromNewPortReplacesSource(t *testing.T) {
	l := newLab(t, Config{})
	id := uuid.New()
	l.srv.SetSessions([]nodeproto.RelaySession{l2Session(id, token(1), token(2), l.clk.Now().Add(4*time.Minute))})
	a1, a2, b := l.client(), l.client(), l.client()
	a1.bind(id, token(1))
	b.bind(id, token(2))
	// The NAT in front of A picks a new port; A's next bind comes from it.
	a2.bind(id, token(1))
	pkt := relaywire.Data(id, []byte("after rebinding"))
	b.send(pkt)
	a2.expect(pkt, "data to the new source")
	a1.expectNothing("data to the old source")
	a1.send(relaywire.Data(id, []byte("stale source")))
	b.expectNothing("data from the replaced source")
	if st := l.srv.Stats(); st.Rebinds != 1 || st.Drops[DropUnbound] != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestExpiryRenewalAndRevoke(t *testing.T) {
	l := newLab(t, Config{})
	id := uuid.New()
	exp := l.clk.Now().Add(22 * time.Second)
	l.srv.SetSessions([]nodeproto.RelaySession{l2Session(id, token(1), token(2), exp)})
	a, b := l.client(), l.client()
	a.bind(id, token(1))
	b.bind(id, token(2))

	// A renewal (same tokens, later expires_at) keeps both sides bound.
	l.clk.Add(20 * time.Second)
	l.srv.SetSessions([]nodeproto.RelaySession{l2Session(id, token(1), token(2), exp.Add(time.Minute))})
	l.clk.Add(5 * time.Second) // past the first expires_at, within the binds' lifetime
	pkt := relaywire.Data(id, []byte("renewed"))
	a.send(pkt)
	b.expect(pkt, "data after renewal")

	// Sides that stop binding are forgotten after three refreshes.
	l.clk.Add(bindLifetime)
	a.send(pkt)
	b.expectNothing("data from a side whose bind lapsed")
	a.bind(id, token(1))
	b.bind(id, token(2))
	a.send(pkt)
	b.expect(pkt, "data after binding again")

	// Past expires_at without renewal the session is gone.
	l.clk.Add(time.Minute)
	a.send(pkt)
	b.expectNothing("data of an expired session")
	a.send(relaywire.Bind(id, token(1)))
	a.expectNothing("bind of an expired session")
	if st := l.srv.Stats(); st.Sessions != 0 || st.Drops[DropUnknown] != 2 {
		t.Errorf("stats %+v", st)
	}

	// A revoked session (gone from the set) forwards nothing.
	id2 := uuid.New()
	l.srv.SetSessions([]nodeproto.RelaySession{l2Session(id2, token(3), token(4), l.clk.Now().Add(time.Minute))})
	a.bind(id2, token(3))
	b.bind(id2, token(4))
	l.srv.SetSessions(nil)
	a.send(relaywire.Data(id2, []byte("revoked")))
	b.expectNothing("data of a revoked session")
}

func TestChangedTokensDropBinds(t *testing.T) {
	l := newLab(t, Config{})
	id := uuid.New()
	l.srv.SetSessions([]nodeproto.RelaySession{l2Session(id, token(1), token(2), l.clk.Now().Add(time.Minute))})
	a, b := l.client(), l.client()
	a.bind(id, token(1))
	b.bind(id, token(2))
	// Re-assigned with new tokens: the old binds no longer count.
	l.srv.SetSessions([]nodeproto.RelaySession{l2Session(id, token(5), token(6), l.clk.Now().Add(time.Minute))})
	a.send(relaywire.Data(id, []byte("x")))
	b.expectNothing("data under the old binding")
}

func TestLevelOneRawAndMixed(t *testing.T) {
	l := newLab(t, Config{})
	a, b, c := l.client(), l.client(), l.client()
	// A level-1 session: no tokens, exact endpoints.
	raw := nodeproto.RelaySession{SessionID: "sess-l1", PeerAID: "a", PeerAEndpoint: a.addr().String(),
		PeerBID: "b", PeerBEndpoint: b.addr().String(), ExpiresAt: l.clk.Now().Add(time.Minute)}
	// A mixed session: side A is level 1 (raw from c), side B binds.
	id := uuid.New()
	mixed := l2Session(id, token(1), token(2), l.clk.Now().Add(time.Minute))
	mixed.PeerAEndpoint = c.addr().String()
	l.srv.SetSessions([]nodeproto.RelaySession{raw, mixed})

	wgPkt := []byte("\x01\x00\x00\x00handshake initiation")
	a.send(wgPkt)
	b.expect(wgPkt, "level-1 a→b")
	b.send(wgPkt)
	a.expect(wgPkt, "level-1 b→a")

	d := l.client()
	d.bind(id, token(2))
	d.send(relaywire.Data(id, []byte("to c")))
	c.expectNothing("data to a level-1 side that has sent nothing yet")
	c.send([]byte("raw from c"))
	d.expect(relaywire.Data(id, []byte("raw from c")), "raw framed to the bound side")
	d.send(relaywire.Data(id, []byte("to c")))
	c.expect([]byte("to c"), "framed unwrapped to the level-1 side")
}

func TestSTUNOnRelayPort(t *testing.T) {
	l := newLab(t, Config{})
	c := l.client()
	req, tx := stun.NewBindingRequest()
	c.send(req)
	resp, _ := c.recv(2 * time.Second)
	gotTx, mapped, err := stun.ParseBindingResponse(resp)
	if err != nil || gotTx != tx || mapped != c.addr() {
		t.Fatalf("STUN: tx %v mapped %v err %v, want %v", gotTx, mapped, err, c.addr())
	}
	if l.srv.Stats().STUNAnswered != 1 {
		t.Errorf("stun_answered not counted")
	}

	off := NewServer(Config{NoSTUN: true})
	if _, _, ok := off.Handle(req, c.addr()); ok {
		t.Error("STUN answered with NoSTUN")
	}
}

func TestBindRateLimitAndBounds(t *testing.T) {
	clk := newClock()
	s := NewServer(Config{Now: clk.Now, BindRate: 1, BindBurst: 5, MaxSessions: 2, MaxDatagram: 100})
	id := uuid.New()
	exp := clk.Now().Add(time.Minute)
	s.SetSessions([]nodeproto.RelaySession{l2Session(id, token(1), token(2), exp),
		l2Session(uuid.New(), token(3), token(4), exp), l2Session(uuid.New(), token(5), token(6), exp)})
	src := netip.MustParseAddrPort("192.0.2.9:4000")
	acks := 0
	for range 10 {
		if _, _, ok := s.Handle(relaywire.Bind(id, token(1)), src); ok {
			acks++
		}
	}
	if acks != 5 {
		t.Errorf("%d binds answered in a burst, want 5", acks)
	}
	clk.Add(2 * time.Second)
	if _, _, ok := s.Handle(relaywire.Bind(id, token(1)), src); !ok {
		t.Error("bind refused after the bucket refilled")
	}
	if _, _, ok := s.Handle(relaywire.Data(id, make([]byte, 100)), src); ok {
		t.Error("oversize datagram forwarded")
	}
	st := s.Stats()
	if st.Sessions != 2 || st.Drops[DropSessionsLimit] != 1 || st.Drops[DropRateLimited] != 5 || st.Drops[DropOversize] != 1 {
		t.Errorf("stats %+v", st)
	}

	// The limiter's memory is bounded: a new source is refused while every
	// known one is still draining.
	lim := newLimiter(1, 2, 2)
	now := clk.Now()
	for _, ip := range []string{"192.0.2.1", "192.0.2.2"} {
		lim.allow(netip.MustParseAddr(ip), now)
	}
	if lim.allow(netip.MustParseAddr("192.0.2.3"), now) {
		t.Error("a third source admitted into a full limiter")
	}
	if !lim.allow(netip.MustParseAddr("192.0.2.3"), now.Add(5*time.Second)) || len(lim.srcs) > 2 {
		t.Errorf("refilled sources not pruned: %d", len(lim.srcs))
	}
}

func TestSessionValidation(t *testing.T) {
	now := newClock().Now()
	good := l2Session(uuid.New(), token(1), token(2), now.Add(time.Minute))
	cases := map[string]func(*nodeproto.RelaySession){
		"expired":               func(r *nodeproto.RelaySession) { r.ExpiresAt = now.Add(-time.Second) },
		"no token, no endpoint": func(r *nodeproto.RelaySession) { r.PeerAToken, r.PeerAEndpoint = "", "" },
		"bad token, bad addr":   func(r *nodeproto.RelaySession) { r.PeerBToken, r.PeerBEndpoint = "short", "nope" },
	}
	for name, mut := range cases {
		r := good
		mut(&r)
		if _, ok := newSession(&r, now, time.Hour); ok {
			t.Errorf("%s: session accepted", name)
		}
	}
	far := good
	far.ExpiresAt = now.Add(48 * time.Hour)
	if s, ok := newSession(&far, now, time.Hour); !ok || !s.expires.Equal(now.Add(time.Hour)) {
		t.Errorf("expires_at not capped: %v", s)
	}
}
