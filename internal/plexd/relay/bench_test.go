package relay

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/relaywire"
)

// BenchmarkRelayForwardLoopback measures forwarding over real loopback
// sockets: side A sends 1280-byte WireGuard-sized data datagrams through
// the relay to side B, with at most a window of them in flight; the
// reported datagrams/s counts what B received.
func BenchmarkRelayForwardLoopback(b *testing.B) {
	l := newLab(b, Config{})
	id := uuid.New()
	l.srv.SetSessions([]nodeproto.RelaySession{l2Session(id, token(1), token(2), l.clk.Now().Add(time.Hour))})
	ca, cc := l.client(), l.client()
	ca.bind(id, token(1))
	cc.bind(id, token(2))
	a, c := ca.conn, cc.conn
	_ = c.SetReadBuffer(4 << 20)
	pkt := relaywire.Data(id, make([]byte, 1280))
	const window = 64
	credits := make(chan struct{}, window)
	for range window {
		credits <- struct{}{}
	}
	received := 0
	done, sentAll := make(chan struct{}), make(chan struct{})
	b.ResetTimer()
	start := time.Now()
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for received < b.N && time.Since(start) < time.Minute {
			_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
				// Nothing for 50 ms: whatever was in flight is lost, so
				// the whole window is free again (or the run is over).
				select {
				case <-sentAll:
					return
				default:
				}
				for len(credits) < window {
					credits <- struct{}{}
				}
				continue
			}
			received++
			select {
			case credits <- struct{}{}:
			default:
			}
		}
	}()
	for sent := 0; sent < b.N; sent++ {
		select {
		case <-credits:
		case <-done:
			sent = b.N
			continue
		}
		if _, err := a.WriteToUDPAddrPort(pkt, l.addr); err != nil {
			b.Fatal(err)
		}
	}
	close(sentAll)
	<-done
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(received)/el.Seconds(), "datagrams/s")
	b.ReportMetric(float64(received*len(pkt))*8/el.Seconds()/1e6, "Mbit/s")
}

// BenchmarkHandleData is the per-datagram cost of the packet core alone.
func BenchmarkHandleData(b *testing.B) {
	clk := newClock()
	s := NewServer(Config{Now: clk.Now})
	id := uuid.New()
	s.SetSessions([]nodeproto.RelaySession{l2Session(id, token(1), token(2), clk.Now().Add(time.Hour))})
	a, c := netip.MustParseAddrPort("198.51.100.1:1"), netip.MustParseAddrPort("198.51.100.2:2")
	s.Handle(relaywire.Bind(id, token(1)), a)
	s.Handle(relaywire.Bind(id, token(2)), c)
	pkt := relaywire.Data(id, make([]byte, 1280))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, to, ok := s.Handle(pkt, a); !ok || to != c {
			b.Fatal("not forwarded")
		}
	}
}
