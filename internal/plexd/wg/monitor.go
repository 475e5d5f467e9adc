package wg

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
	"github.com/plexsphere/plexsphere/internal/relaywire"
)

// unackedRebind is how soon an unanswered relay bind is repeated.
const unackedRebind = 2 * time.Second

// peerTrack is the engine's running knowledge of one peer's path.
type peerTrack struct {
	configured time.Time // when its endpoints were last set
	attempt    int       // index of the direct target in use
	attemptAt  time.Time // when that target was set
	wrapped    bool      // every target has been tried
	// directFailed: direct targets got no handshake (DirectFailAfter).
	directFailed bool
	rttMillis    float64
	lastBind     time.Time // last relay bind sent
	lastAck      time.Time // last relay ack received
	// sessionFrom is when the peer's session last had to start over (the
	// peer was created, re-pointed, or the private key changed);
	// reinitiated is set once a crossed handshake was broken since.
	sessionFrom time.Time
	reinitiated bool
}

// crossedAfter is how long a new session may go without a handshake before
// the side with the lower public key starts a fresh one. Both sides kick a
// peer they add, so their initiations can cross: each answers the other's,
// and each then drops the response to its own (its handshake state was
// replaced). Neither holds a confirmed session, so neither sends data, and
// WireGuard would only retry after its 5 s rekey timeout. One side
// re-initiating (never both, or they could cross again) completes it
// within a round trip.
const crossedAfter = time.Second

// startLoops starts the path monitor and the tunnel probes.
func (e *Engine) startLoops(cfg mesh.Config) {
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.bind.OnRelayAck(e.onAck)
	e.loops.Go(func() {
		t := time.NewTicker(e.opts.Tick)
		defer t.Stop()
		for {
			e.tick(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	self, err := netip.ParseAddr(cfg.Address)
	if e.opts.ProbePort > 0 && err == nil && e.listen != nil {
		e.loops.Go(func() { e.probeLoop(ctx, self) })
	}
}

// onAck records a relay ack for the session's peer.
func (e *Engine) onAck(session uuid.UUID, _ netip.AddrPort) {
	now := e.opts.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, w := range e.peers {
		if w.relay != nil && w.relay.session == session {
			e.track[id].lastAck = now
		}
	}
}

// bindReq is a relay bind to send.
type bindReq struct {
	pkt []byte
	to  netip.AddrPort
}

// tick sends due relay binds and moves peers without a handshake to
// their next direct target, declaring direct_failed when all failed.
func (e *Engine) tick(ctx context.Context) {
	e.sendBinds(ctx)
	obs, err := e.drv.observe()
	if err != nil {
		return
	}
	now := e.opts.Now()
	var moves []*wantPeer
	var kicks []string
	var pinned []peerChange
	e.mu.Lock()
	for id, w := range e.peers {
		if t := e.track[id]; e.crossedLocked(w, t, obs[w.pub], now) {
			t.reinitiated = true
			m := *w
			if w.relay == nil && len(w.targets) > 1 {
				m.targets = []netip.AddrPort{w.targets[t.attempt]}
			}
			moves, kicks = append(moves, &m), append(kicks, id)
			continue
		}
		if w.relay != nil {
			// WireGuard roams to the source of any authenticated packet; a
			// stray direct packet (sent before the relay was assigned) must
			// not move a relayed pair off its relay, or both sides follow
			// each other onto a path the control plane did not choose.
			if ep := w.relay.DstToString(); obs[w.pub].endpoint != "" && obs[w.pub].endpoint != ep {
				pinned = append(pinned, peerChange{pub: w.pub, endpoint: ep})
			}
			continue
		}
		if target, ok := e.nextTargetLocked(w, e.track[id], obs[w.pub], now); ok {
			m := *w
			m.targets = []netip.AddrPort{target}
			moves, kicks = append(moves, &m), append(kicks, id)
		}
	}
	e.mu.Unlock()
	if len(pinned) > 0 {
		e.setMu.Lock()
		if !e.closed {
			e.drv.apply(&delta{upsert: pinned})
		}
		e.setMu.Unlock()
	}
	if len(moves) == 0 {
		return
	}
	// The peer has no working session, so re-creating it drops nothing and
	// clears WireGuard's 5 s handshake rate limit: the next packet (a kick
	// probe) starts a handshake towards the new target at once.
	d := &delta{}
	for _, m := range moves {
		d.remove = append(d.remove, m.pub)
		d.upsert = append(d.upsert, createOf(m))
	}
	e.setMu.Lock()
	if !e.closed {
		e.drv.apply(d)
	}
	e.setMu.Unlock()
	for _, id := range kicks {
		select {
		case e.kick <- id:
		default:
		}
	}
}

// sendBinds sends the relay binds that are due: every RefreshInterval
// once acked, every unackedRebind until then (at once for a new session).
func (e *Engine) sendBinds(ctx context.Context) {
	now := e.opts.Now()
	var binds []bindReq
	e.mu.Lock()
	for id, w := range e.peers {
		t := e.track[id]
		if w.relay == nil {
			continue
		}
		due := relaywire.RefreshInterval
		if t.lastAck.Before(t.lastBind) || t.lastAck.IsZero() {
			due = unackedRebind
		}
		if t.lastBind.IsZero() || now.Sub(t.lastBind) >= due {
			t.lastBind = now
			binds = append(binds, bindReq{relaywire.Bind(w.relay.session, w.token), w.relay.relay})
		}
	}
	e.mu.Unlock()
	for _, b := range binds {
		if err := e.bind.SendRaw(b.pkt, b.to); err != nil && ctx.Err() == nil {
			e.log.LogAttrs(ctx, slog.LevelDebug, "relay bind not sent", slog.String(logkey.Addr, b.to.String()), slog.String(logkey.Error, err.Error()))
		}
	}
}

// nextTargetLocked decides whether a direct peer moves to its next target.
func (e *Engine) nextTargetLocked(w *wantPeer, t *peerTrack, o peerObs, now time.Time) (netip.AddrPort, bool) {
	if len(w.targets) == 0 || (w.fallback.IsValid() && o.endpoint == w.fallback.String()) {
		return netip.AddrPort{}, false
	}
	if fresh(o.handshake, now) {
		t.directFailed = false
		return netip.AddrPort{}, false
	}
	if o.tx == 0 && t.attempt == 0 {
		t.attemptAt = now // nothing sent yet: no attempt is running
		return netip.AddrPort{}, false
	}
	if now.Sub(t.configured) >= e.opts.DirectFailAfter && (t.wrapped || len(w.targets) == 1) {
		t.directFailed = true
	}
	if len(w.targets) == 1 || now.Sub(t.attemptAt) < e.opts.AttemptTimeout {
		return netip.AddrPort{}, false
	}
	t.attempt++
	if t.attempt >= len(w.targets) {
		t.attempt, t.wrapped = 0, true
	}
	t.attemptAt = now
	return w.targets[t.attempt], true
}

// crossedLocked: t's session started crossedAfter ago without a
// handshake, has not been re-initiated since, this node holds the lower
// public key of the pair and has somewhere to send an initiation (a peer
// known only by roaming is left alone: re-creating it would forget the
// endpoint it learnt and a session about to be confirmed).
func (e *Engine) crossedLocked(w *wantPeer, t *peerTrack, o peerObs, now time.Time) bool {
	return t != nil && !t.reinitiated && !t.sessionFrom.IsZero() && w.endpoint() != "" && now.Sub(t.sessionFrom) >= crossedAfter &&
		(o.handshake.IsZero() || o.handshake.Before(t.sessionFrom)) && bytes.Compare(e.selfPub[:], w.pub[:]) < 0
}

func fresh(hs, now time.Time) bool { return !hs.IsZero() && now.Sub(hs) < HandshakeFresh }

// Stats reports the interface and every peer's path.
func (e *Engine) Stats() mesh.Stats {
	e.mu.Lock()
	started, drv := e.started, e.drvRO
	e.mu.Unlock()
	var obs map[[32]byte]peerObs
	if started {
		obs, _ = drv.observe()
	}
	now := e.opts.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	s := mesh.Stats{Interface: e.opts.Interface, ListenPort: e.port, PeerCount: len(e.peers), Backend: e.opts.Backend, Peers: []nodeproto.PeerStatus{}}
	if p := e.bind.LocalPort(); p != 0 {
		s.ListenPort = int(p)
	}
	for _, id := range sortedKeys(e.peers) {
		w, t := e.peers[id], e.track[id]
		o := obs[w.pub]
		path, ep := w.pathOf(o, now)
		s.Peers = append(s.Peers, nodeproto.PeerStatus{
			PeerID: id, Path: path, Endpoint: ep, LastHandshake: o.handshake.UTC(), RTTMillis: t.rttMillis,
			RxBytes: o.rx, TxBytes: o.tx, DirectFailed: t.directFailed && path != nodeproto.PathRelayed,
		})
		if o.handshake.IsZero() {
			s.Peers[len(s.Peers)-1].LastHandshake = time.Time{}
		}
	}
	return s
}

// pathOf is the peer's path and the "ip:port" its packets go to.
func (w *wantPeer) pathOf(o peerObs, now time.Time) (path, endpoint string) {
	endpoint = o.endpoint
	if rest, ok := strings.CutPrefix(o.endpoint, relayPrefix); ok {
		if re, err := parseRelayEndpoint(rest); err == nil {
			return nodeproto.PathRelayed, re.relay.String()
		}
	}
	if (w.fallback.IsValid() && o.endpoint == w.fallback.String()) || (w.relay != nil && o.endpoint == w.relay.relay.String()) {
		return nodeproto.PathRelayed, endpoint
	}
	if fresh(o.handshake, now) {
		return nodeproto.PathDirect, endpoint
	}
	return nodeproto.PathDown, endpoint
}
