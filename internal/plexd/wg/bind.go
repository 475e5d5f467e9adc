package wg

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/google/uuid"
	"golang.zx2c4.com/wireguard/conn"

	"github.com/plexsphere/plexsphere/internal/relaywire"
)

// ErrNotOpen is returned by SendRaw before WireGuard opened the socket.
var ErrNotOpen = errors.New("wg: the WireGuard socket is not open")

// stunCookie is the STUN magic cookie at bytes 4–7 (RFC 5389).
var stunCookie = [4]byte{0x21, 0x12, 0xa4, 0x42}

// relayPrefix starts the UAPI string form of a relay endpoint:
// "pxr:<session-uuid>@<relay ip:port>".
const relayPrefix = "pxr:"

// Bind is the one UDP socket of a node's mesh (the WireGuard listen port),
// shared by WireGuard, NAT traversal and the relay client. It wraps
// conn.StdNetBind and demultiplexes every received datagram:
//
//   - STUN (first byte 0x00 or 0x01, magic cookie 0x2112A442 at bytes 4–7)
//     goes to the OnSTUN handler and never reaches WireGuard;
//   - relay acks (relaywire "PXRA") go to the relay client (OnRelayAck);
//   - relay data ("PXRD" + session + WireGuard) from the session's relay is
//     stripped of its header and handed to WireGuard with the session's
//     virtual endpoint as source, so WireGuard answers through the relay;
//   - other relay datagrams and relay data of unknown sessions are dropped;
//   - everything else is WireGuard.
//
// Packets WireGuard sends to a relay endpoint are framed as PXRD. The
// exported methods are safe for concurrent use; handlers run on the
// receive path and must not block (copy and hand off).
//
// For internal/plexd/natpath: SendRaw sends a datagram (a STUN request, a
// hole-punching probe) from the WireGuard socket, LocalPort tells its
// port and OnSTUN receives the STUN responses arriving on it.
type Bind struct {
	inner *conn.StdNetBind

	// mu guards the fields below.
	mu       sync.RWMutex
	open     bool
	port     uint16
	onSTUN   func(pkt []byte, from netip.AddrPort)
	onAck    func(session uuid.UUID, from netip.AddrPort)
	sessions map[uuid.UUID]*relayEndpoint // relay sessions by id
}

// NewBind returns a closed Bind; WireGuard opens it.
func NewBind() *Bind {
	inner, _ := conn.NewStdNetBind().(*conn.StdNetBind)
	return &Bind{inner: inner, sessions: map[uuid.UUID]*relayEndpoint{}}
}

var _ conn.Bind = (*Bind)(nil)

// OnSTUN registers the handler of STUN datagrams (nil removes it). pkt is
// a copy the handler may keep.
func (b *Bind) OnSTUN(fn func(pkt []byte, from netip.AddrPort)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.onSTUN = fn
}

// OnRelayAck registers the handler of relay acks (nil removes it).
func (b *Bind) OnRelayAck(fn func(session uuid.UUID, from netip.AddrPort)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.onAck = fn
}

// LocalPort is the UDP port the socket listens on (0 while closed).
func (b *Bind) LocalPort() uint16 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.port
}

// SendRaw sends pkt to to from the WireGuard socket, unframed.
func (b *Bind) SendRaw(pkt []byte, to netip.AddrPort) error {
	b.mu.RLock()
	open := b.open
	b.mu.RUnlock()
	if !open {
		return ErrNotOpen
	}
	ep := &conn.StdNetEndpoint{AddrPort: to}
	return b.inner.Send([][]byte{pkt}, ep)
}

// Open opens the socket on port (0: any) and wraps its receive functions.
func (b *Bind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	fns, actual, err := b.inner.Open(port)
	if err != nil {
		return nil, 0, err
	}
	b.mu.Lock()
	b.open, b.port = true, actual
	b.mu.Unlock()
	out := make([]conn.ReceiveFunc, len(fns))
	for i, fn := range fns {
		out[i] = b.demux(fn)
	}
	return out, actual, nil
}

// Close closes the socket.
func (b *Bind) Close() error {
	b.mu.Lock()
	b.open, b.port = false, 0
	b.mu.Unlock()
	return b.inner.Close()
}

// SetMark sets SO_MARK on the socket.
func (b *Bind) SetMark(mark uint32) error { return b.inner.SetMark(mark) }

// BatchSize is the inner bind's batch size.
func (b *Bind) BatchSize() int { return b.inner.BatchSize() }

// ParseEndpoint parses "ip:port" or the relay form "pxr:<session>@<ip:port>".
func (b *Bind) ParseEndpoint(s string) (conn.Endpoint, error) {
	if rest, ok := strings.CutPrefix(s, relayPrefix); ok {
		return parseRelayEndpoint(rest)
	}
	return b.inner.ParseEndpoint(s)
}

// Send sends WireGuard packets to ep, framing them as relay data when ep
// is a relay endpoint.
func (b *Bind) Send(bufs [][]byte, ep conn.Endpoint) error {
	re, ok := ep.(*relayEndpoint)
	if !ok {
		return b.inner.Send(bufs, ep)
	}
	framed := make([][]byte, len(bufs))
	for i, p := range bufs {
		framed[i] = relaywire.Data(re.session, p)
	}
	return b.inner.Send(framed, &conn.StdNetEndpoint{AddrPort: re.relay})
}

// setSessions replaces the relay sessions whose data the bind accepts.
func (b *Bind) setSessions(eps []*relayEndpoint) {
	m := make(map[uuid.UUID]*relayEndpoint, len(eps))
	for _, e := range eps {
		m[e.session] = e
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sessions = m
}

// demux wraps one receive function of the inner bind.
func (b *Bind) demux(fn conn.ReceiveFunc) conn.ReceiveFunc {
	return func(packets [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
		n, err := fn(packets, sizes, eps)
		for i := 0; i < n; i++ {
			if sizes[i] == 0 {
				continue
			}
			b.classify(packets[i], &sizes[i], &eps[i])
		}
		return n, err
	}
}

// Datagram classes of the shared socket.
const (
	classWireGuard = iota
	classSTUN
	classRelay
)

// classOf tells what a datagram is, from its first bytes only.
func classOf(p []byte) int {
	switch {
	case isSTUN(p):
		return classSTUN
	case relaywire.IsRelay(p):
		return classRelay
	}
	return classWireGuard
}

// isSTUN matches a STUN message: the first byte 0x00 or 0x01, the magic
// cookie at bytes 4–7 and a length field (bytes 2–3) equal to the rest, a
// multiple of 4 — a WireGuard message (length bytes zero, at least 32
// bytes) never matches even when its sender index equals the cookie.
func isSTUN(p []byte) bool {
	if len(p) < 20 || (p[0] != 0 && p[0] != 1) || [4]byte(p[4:8]) != stunCookie {
		return false
	}
	n := int(p[2])<<8 | int(p[3])
	return n == len(p)-20 && n%4 == 0
}

// classify handles one datagram in place: it zeroes *size for datagrams
// WireGuard must not see and strips relay data to its WireGuard payload.
func (b *Bind) classify(buf []byte, size *int, ep *conn.Endpoint) {
	p := buf[:*size]
	switch classOf(p) {
	case classWireGuard:
		return
	case classSTUN:
		*size = 0
		b.mu.RLock()
		fn := b.onSTUN
		b.mu.RUnlock()
		if fn != nil {
			fn(append([]byte(nil), p...), addrOf(*ep))
		}
		return
	}
	*size = 0
	d, err := relaywire.Parse(p)
	if err != nil {
		return
	}
	from := addrOf(*ep)
	b.mu.RLock()
	re := b.sessions[d.Session]
	ack := b.onAck
	b.mu.RUnlock()
	if re == nil || from != re.relay {
		return // not one of our sessions, or not from its relay
	}
	switch d.Kind {
	case relaywire.KindAck:
		if ack != nil {
			ack(d.Session, from)
		}
	case relaywire.KindData:
		*size = copy(buf, d.Payload)
		*ep = re
	}
}

// addrOf is the remote address of an endpoint the inner bind produced.
func addrOf(ep conn.Endpoint) netip.AddrPort {
	if se, ok := ep.(*conn.StdNetEndpoint); ok {
		return netip.AddrPortFrom(se.AddrPort.Addr().Unmap(), se.AddrPort.Port())
	}
	ap, _ := netip.ParseAddrPort(ep.DstToString())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// relayEndpoint is the virtual WireGuard endpoint of a relay session.
type relayEndpoint struct {
	session uuid.UUID
	relay   netip.AddrPort
}

// RelayEndpointString is the UAPI form of a relay session's endpoint.
func RelayEndpointString(session uuid.UUID, relay netip.AddrPort) string {
	return fmt.Sprintf("%s%s@%s", relayPrefix, session, relay)
}

func parseRelayEndpoint(s string) (*relayEndpoint, error) {
	sid, addr, ok := strings.Cut(s, "@")
	if !ok {
		return nil, errors.New("wg: relay endpoint without @")
	}
	session, err := uuid.Parse(sid)
	if err != nil {
		return nil, fmt.Errorf("wg: relay endpoint session: %w", err)
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("wg: relay endpoint address: %w", err)
	}
	return &relayEndpoint{session: session, relay: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())}, nil
}

func (e *relayEndpoint) ClearSrc()           {}
func (e *relayEndpoint) SrcToString() string { return "" }
func (e *relayEndpoint) DstToString() string { return RelayEndpointString(e.session, e.relay) }
func (e *relayEndpoint) DstToBytes() []byte  { b, _ := e.relay.MarshalBinary(); return b }
func (e *relayEndpoint) DstIP() netip.Addr   { return e.relay.Addr() }
func (e *relayEndpoint) SrcIP() netip.Addr   { return netip.Addr{} }
