package wg

import (
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// Tunnel probe datagrams: a 4-byte kind and an 8-byte nonce; the answer
// echoes the nonce. They travel inside the tunnel between mesh IPs.
const (
	probeRequest = "PXPQ"
	probeAnswer  = "PXPA"
	probeLen     = 12
)

// parseProbe decodes a probe datagram: its kind and nonce.
func parseProbe(b []byte) (kind string, nonce uint64, ok bool) {
	if len(b) != probeLen {
		return "", 0, false
	}
	kind = string(b[:4])
	if kind != probeRequest && kind != probeAnswer {
		return "", 0, false
	}
	return kind, binary.BigEndian.Uint64(b[4:]), true
}

func probeDatagram(kind string, nonce uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(kind), nonce)
}

// pendingProbe is a probe awaiting its answer.
type pendingProbe struct {
	peer string
	sent time.Time
}

// probeLoop answers probes on self:ProbePort and probes every peer's mesh
// IP each ProbeInterval, recording the round trip. The traffic also keeps
// handshakes fresh, which path detection relies on.
func (e *Engine) probeLoop(ctx context.Context, self netip.Addr) {
	resp, err := e.listen(netip.AddrPortFrom(self, uint16(e.opts.ProbePort)))
	if err != nil {
		e.log.LogAttrs(ctx, slog.LevelWarn, "tunnel probe responder not started", slog.String(logkey.Error, err.Error()))
		return
	}
	prober, err := e.listen(netip.AddrPortFrom(self, 0))
	if err != nil {
		resp.Close()
		e.log.LogAttrs(ctx, slog.LevelWarn, "tunnel prober not started", slog.String(logkey.Error, err.Error()))
		return
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	go func() {
		<-ctx.Done()
		resp.Close()
		prober.Close()
	}()
	wg.Go(func() { answerProbes(resp) })
	var mu sync.Mutex
	pending := map[uint64]pendingProbe{}
	wg.Go(func() {
		buf := make([]byte, 64)
		for {
			n, _, err := prober.ReadFrom(buf)
			if err != nil {
				return
			}
			kind, nonce, ok := parseProbe(buf[:n])
			if !ok || kind != probeAnswer {
				continue
			}
			mu.Lock()
			p, ok := pending[nonce]
			delete(pending, nonce)
			mu.Unlock()
			if ok {
				e.setRTT(p.peer, e.opts.Now().Sub(p.sent))
			}
		}
	})
	var nonce uint64
	send := func(id string, ip netip.Addr) {
		nonce++
		mu.Lock()
		pending[nonce] = pendingProbe{peer: id, sent: e.opts.Now()}
		mu.Unlock()
		prober.WriteTo(probeDatagram(probeRequest, nonce), net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(e.opts.ProbePort))))
	}
	t := time.NewTicker(e.opts.ProbeInterval)
	defer t.Stop()
	for {
		now := e.opts.Now()
		mu.Lock()
		for k, p := range pending {
			if now.Sub(p.sent) > 2*e.opts.ProbeInterval {
				delete(pending, k)
			}
		}
		mu.Unlock()
		for id, ip := range e.probeTargets() {
			send(id, ip)
		}
	wait:
		select {
		case <-ctx.Done():
			return
		case id := <-e.kick:
			if ip, ok := e.probeTargets()[id]; ok {
				send(id, ip)
			}
			goto wait
		case <-t.C:
		}
	}
}

// answerProbes echoes every probe request until pc is closed.
func answerProbes(pc net.PacketConn) {
	buf := make([]byte, 64)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if kind, nonce, ok := parseProbe(buf[:n]); ok && kind == probeRequest {
			pc.WriteTo(probeDatagram(probeAnswer, nonce), from)
		}
	}
}

// probeTargets are the mesh IPs of the peers, by peer ID.
func (e *Engine) probeTargets() map[string]netip.Addr {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]netip.Addr, len(e.peers))
	for id, w := range e.peers {
		if w.meshIP.IsValid() {
			out[id] = w.meshIP
		}
	}
	return out
}

func (e *Engine) setRTT(peer string, d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.track[peer]; t != nil {
		t.rttMillis = float64(d.Microseconds()) / 1000
		if t.rttMillis == 0 {
			t.rttMillis = 0.001
		}
	}
}
