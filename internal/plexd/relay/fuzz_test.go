package relay

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/relaywire"
	"github.com/plexsphere/plexsphere/internal/stun"
)

// FuzzServerDatagram feeds arbitrary datagrams from four kinds of source
// to a relay holding a level-2 session (side A bound, side B not) and a
// level-1 session. Whatever the bytes, the relay answers only the sender
// (an ack to a correct bind, a STUN response), forwards only what came
// from an authenticated source to that session's other side, and never
// forwards to or from the unbound side.
func FuzzServerDatagram(f *testing.F) {
	sess := uuid.MustParse("0193a5b4-0000-7000-8000-000000000001")
	boundA := netip.MustParseAddrPort("198.51.100.1:40000")
	unboundB := netip.MustParseAddrPort("198.51.100.2:40001")
	stranger := netip.MustParseAddrPort("203.0.113.7:5555")
	l1A := netip.MustParseAddrPort("192.0.2.10:51820")
	l1B := netip.MustParseAddrPort("192.0.2.11:51820")
	sources := []netip.AddrPort{boundA, unboundB, stranger, l1A}

	req, _ := stun.NewBindingRequest()
	for _, seed := range [][]byte{
		relaywire.Bind(sess, token(1)), relaywire.Bind(sess, token(2)), relaywire.Bind(sess, token(7)),
		relaywire.Data(sess, []byte("\x04\x00\x00\x00ciphertext")), relaywire.Ack(sess), []byte("PXRB"),
		[]byte("\x01\x00\x00\x00raw wireguard"), req, {},
	} {
		for i := range sources {
			f.Add(seed, uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, src uint8) {
		clk := newClock()
		s := NewServer(Config{Now: clk.Now})
		l2 := l2Session(sess, token(1), token(2), clk.Now().Add(time.Minute))
		l1 := nodeproto.RelaySession{SessionID: "level-one", PeerAID: "a", PeerAEndpoint: l1A.String(),
			PeerBID: "b", PeerBEndpoint: l1B.String(), ExpiresAt: clk.Now().Add(time.Minute)}
		s.SetSessions([]nodeproto.RelaySession{l2, l1})
		if _, _, ok := s.Handle(relaywire.Bind(sess, token(1)), boundA); !ok {
			t.Fatal("seed bind refused")
		}
		from := sources[int(src)%len(sources)]
		in := bytes.Clone(b)
		out, to, ok := s.Handle(b, from)
		if !ok {
			return
		}
		switch {
		case to == from:
			// An answer: an ack for a bind that was this very datagram, or STUN.
			if d, err := relaywire.Parse(in); err == nil && d.Kind == relaywire.KindBind {
				if !bytes.Equal(out, relaywire.Ack(d.Session)) {
					t.Fatalf("answer to a bind is %q", out)
				}
				return
			}
			if !stun.IsSTUN(in) || !stun.IsSTUN(out) {
				t.Fatalf("answered %q to %q from %v", out, in, from)
			}
		case from == l1A:
			if to != l1B || !bytes.Equal(out, in) {
				t.Fatalf("level-1 datagram forwarded to %v as %q", to, out)
			}
		default:
			// boundA's side B never bound: nothing may go to unboundB, and
			// nothing from unboundB or a stranger may be forwarded.
			t.Fatalf("forwarded %q from %v to %v", out, from, to)
		}
	})
}
