package relay

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
	"github.com/plexsphere/plexsphere/internal/relaywire"
	"github.com/plexsphere/plexsphere/internal/stun"
)

// bindLifetime is how long a bind (or a level-1 side's raw datagram)
// keeps its source: three missed refreshes (relaywire.RefreshInterval).
const bindLifetime = 3 * relaywire.RefreshInterval

// socketBuffer is the receive and send buffer the relay asks for.
const socketBuffer = 4 << 20

// Defaults of Config.
const (
	// DefaultMaxDatagram bounds a datagram the relay accepts: a WireGuard
	// packet of a 1420-byte MTU plus its overhead and the relay header
	// fits with room for jumbo-free paths up to 2 KiB.
	DefaultMaxDatagram = 2048
	// DefaultMaxTTL caps how far ahead a session's expires_at is honoured;
	// the control plane renews live sessions long before.
	DefaultMaxTTL = time.Hour
	// DefaultBindRate and DefaultBindBurst limit binds per source IP.
	DefaultBindRate  = 10
	DefaultBindBurst = 20
	// DefaultMaxSources bounds the rate limiter's memory.
	DefaultMaxSources = 4096
)

// Drop reasons, the keys of Stats.Drops.
const (
	DropMalformed     = "malformed"       // a relay kind with a bad length, or an ack
	DropOversize      = "oversize"        // longer than MaxDatagram
	DropUnknown       = "unknown_session" // no live session with that id or source
	DropBadToken      = "bad_token"       // a bind with neither side's token
	DropRateLimited   = "rate_limited"    // too many binds from one source IP
	DropUnbound       = "unbound"         // data from a source that has not bound
	DropPeerUnbound   = "peer_unbound"    // data whose other side is not reachable yet
	DropNotRelay      = "not_relay"       // neither relay, STUN nor a level-1 source
	DropWriteFailed   = "write_failed"    // the socket refused the datagram
	DropSessionsLimit = "session_limit"   // assignments beyond MaxSessions
)

var dropReasons = []string{DropMalformed, DropOversize, DropUnknown, DropBadToken, DropRateLimited, DropUnbound,
	DropPeerUnbound, DropNotRelay, DropWriteFailed, DropSessionsLimit}

// Config configures a Server; zero values take the defaults.
type Config struct {
	Logger *slog.Logger
	Now    func() time.Time
	// MaxSessions defaults to nodeproto.MaxRelaySessions.
	MaxSessions int
	MaxDatagram int
	MaxTTL      time.Duration
	// BindRate (per second) and BindBurst limit binds per source IP.
	BindRate   float64
	BindBurst  int
	MaxSources int
	// NoSTUN turns the STUN responder on the relay port off.
	NoSTUN bool
}

func (c *Config) fill() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxSessions, nodeproto.MaxRelaySessions)
	def(&c.MaxDatagram, DefaultMaxDatagram)
	def(&c.BindBurst, DefaultBindBurst)
	def(&c.MaxSources, DefaultMaxSources)
	if c.MaxTTL <= 0 {
		c.MaxTTL = DefaultMaxTTL
	}
	if c.BindRate <= 0 {
		c.BindRate = DefaultBindRate
	}
}

// Server is the relay's packet core. Its methods are safe for concurrent
// use; sessions survive a change of socket.
type Server struct {
	cfg Config

	// mu guards tab, lim and every side's bound and boundAt.
	mu  sync.RWMutex
	tab *table
	lim *limiter

	binds, rebinds, stunAnswered atomic.Uint64
	fwdDatagrams, fwdBytes       atomic.Uint64
	drops                        map[string]*atomic.Uint64 // fixed keys
}

// NewServer builds a Server without sessions.
func NewServer(cfg Config) *Server {
	cfg.fill()
	s := &Server{cfg: cfg, tab: &table{}, lim: newLimiter(cfg.BindRate, cfg.BindBurst, cfg.MaxSources),
		drops: map[string]*atomic.Uint64{}}
	for _, r := range dropReasons {
		s.drops[r] = new(atomic.Uint64)
	}
	return s
}

// SetSessions replaces the session set (state.relay_config, or it with
// events applied). Sessions already known with the same tokens and
// endpoints keep their bound sides, so a renewal costs no rebind.
func (s *Server) SetSessions(list []nodeproto.RelaySession) {
	now := s.cfg.Now()
	s.mu.Lock()
	tab, over := buildTable(list, s.tab, now, s.cfg.MaxSessions, s.cfg.MaxTTL)
	s.tab = tab
	s.mu.Unlock()
	if over > 0 {
		s.drops[DropSessionsLimit].Add(uint64(over))
	}
}

// Handle processes one datagram that came from from and returns the
// datagram to send in answer or to forward, and where; ok is false when
// nothing is sent. out may alias b.
func (s *Server) Handle(b []byte, from netip.AddrPort) (out []byte, to netip.AddrPort, ok bool) {
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	if len(b) > s.cfg.MaxDatagram {
		return s.drop(DropOversize)
	}
	now := s.cfg.Now()
	switch {
	case relaywire.IsRelay(b) && b[3] == relaywire.KindData[3]:
		return s.data(b, from, now) // the hot path: no decoding, no allocation
	case relaywire.IsRelay(b):
		d, err := relaywire.Parse(b)
		if err != nil || d.Kind != relaywire.KindBind {
			return s.drop(DropMalformed)
		}
		return s.bind(&d, from, now)
	case !s.cfg.NoSTUN && stun.IsSTUN(b):
		if resp, ok := stun.Respond(b, from); ok {
			s.stunAnswered.Add(1)
			return resp, from, true
		}
		return s.drop(DropMalformed)
	}
	return s.raw(b, from, now)
}

func (s *Server) drop(reason string) ([]byte, netip.AddrPort, bool) {
	s.drops[reason].Add(1)
	return nil, netip.AddrPort{}, false
}

// bind authenticates a side and records its source.
func (s *Server) bind(d *relaywire.Datagram, from netip.AddrPort, now time.Time) ([]byte, netip.AddrPort, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.lim.allow(from.Addr(), now) {
		return s.drop(DropRateLimited)
	}
	sess := s.tab.byID[d.Session]
	if sess == nil || !sess.live(now) {
		return s.drop(DropUnknown)
	}
	// Compare against both tokens always, in constant time each.
	matchA := sess.sides[0].hasToken && relaywire.TokenEqual(sess.sides[0].token, d.Token)
	matchB := sess.sides[1].hasToken && relaywire.TokenEqual(sess.sides[1].token, d.Token)
	var sd *side
	switch {
	case matchA && !matchB:
		sd = &sess.sides[0]
	case matchB && !matchA:
		sd = &sess.sides[1]
	default:
		return s.drop(DropBadToken)
	}
	if sd.bound.IsValid() && sd.bound != from {
		s.rebinds.Add(1)
	}
	sd.bound, sd.boundAt = from, now
	s.binds.Add(1)
	return relaywire.Ack(d.Session), from, true
}

// data forwards a level-2 data datagram from a bound side.
// b is at least a relay header long.
func (s *Server) data(b []byte, from netip.AddrPort, now time.Time) ([]byte, netip.AddrPort, bool) {
	id := uuid.UUID(b[len(relaywire.KindData):relaywire.HeaderLen])
	s.mu.RLock()
	defer s.mu.RUnlock()
	sess := s.tab.byID[id]
	if sess == nil || !sess.live(now) {
		return s.drop(DropUnknown)
	}
	i := -1
	for j := range sess.sides {
		if ap, ok := sess.sides[j].boundAddr(now); ok && ap == from {
			i = j
			break
		}
	}
	if i < 0 {
		return s.drop(DropUnbound)
	}
	return s.forward(sess, 1-i, b, b[relaywire.HeaderLen:], from, now)
}

// raw forwards a datagram from a level-1 side's exact endpoint.
func (s *Server) raw(b []byte, from netip.AddrPort, now time.Time) ([]byte, netip.AddrPort, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ref, ok := s.tab.byRaw[from]
	if !ok {
		return s.drop(DropNotRelay)
	}
	if !ref.s.live(now) {
		return s.drop(DropUnknown)
	}
	ref.s.sides[ref.side].rawAt.Store(now.UnixNano())
	return s.forward(ref.s, 1-ref.side, nil, b, from, now)
}

// forward sends payload (a WireGuard packet; framed is it with its relay
// header, nil when it came raw) to side to of sess: framed to a bound
// side, raw to a level-1 side. Called with mu held for reading.
func (s *Server) forward(sess *session, to int, framed, payload []byte, from netip.AddrPort, now time.Time) ([]byte, netip.AddrPort, bool) {
	sd := &sess.sides[to]
	var (
		out  []byte
		dest netip.AddrPort
	)
	if ap, ok := sd.boundAddr(now); ok {
		dest, out = ap, framed
		if out == nil {
			out = relaywire.Data(sess.id, payload)
		}
	} else if sd.exact.IsValid() && (sd.rawLive(now) || !sd.hasToken) {
		dest, out = sd.exact, payload
	} else {
		return s.drop(DropPeerUnbound)
	}
	if dest == from {
		return s.drop(DropPeerUnbound) // never reflect to the sender
	}
	s.fwdDatagrams.Add(1)
	s.fwdBytes.Add(uint64(len(out)))
	return out, dest, true
}

// Serve reads conn until ctx ends or conn fails, answering and forwarding;
// it closes conn when ctx ends and then returns nil.
func (s *Server) Serve(ctx context.Context, conn *net.UDPConn) error {
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	// Best effort: bursts of two sides' traffic should not overrun the
	// kernel's default buffers (the kernel caps what it grants).
	_ = conn.SetReadBuffer(socketBuffer)
	_ = conn.SetWriteBuffer(socketBuffer)
	buf := make([]byte, s.cfg.MaxDatagram+1)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		out, to, ok := s.Handle(buf[:n], from)
		if !ok {
			continue
		}
		if _, err := conn.WriteToUDPAddrPort(out, to); err != nil {
			s.drops[DropWriteFailed].Add(1)
			s.cfg.Logger.LogAttrs(ctx, slog.LevelDebug, "relay write failed", slog.String(logkey.Addr, to.String()), slog.String(logkey.Error, err.Error()))
		}
	}
}

// Stats is the relay's counters as `plexd status` shows them.
type Stats struct {
	Enabled    bool   `json:"enabled"`
	ListenAddr string `json:"listen_addr,omitempty"`
	// Sessions is the live sessions; BoundSides the sides that have bound
	// (level 2) or sent raw (level 1) within the bind lifetime.
	Sessions           int               `json:"sessions"`
	BoundSides         int               `json:"bound_sides"`
	Binds              uint64            `json:"binds"`
	Rebinds            uint64            `json:"rebinds"`
	ForwardedDatagrams uint64            `json:"forwarded_datagrams"`
	ForwardedBytes     uint64            `json:"forwarded_bytes"`
	STUNAnswered       uint64            `json:"stun_answered"`
	Dropped            uint64            `json:"dropped"`
	Drops              map[string]uint64 `json:"drops"`
}

// Stats returns the counters and the live session count.
func (s *Server) Stats() Stats {
	now := s.cfg.Now()
	st := Stats{Binds: s.binds.Load(), Rebinds: s.rebinds.Load(), ForwardedDatagrams: s.fwdDatagrams.Load(),
		ForwardedBytes: s.fwdBytes.Load(), STUNAnswered: s.stunAnswered.Load(), Drops: map[string]uint64{}}
	for r, c := range s.drops {
		if v := c.Load(); v > 0 {
			st.Drops[r] = v
			st.Dropped += v
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, sess := range s.tab.all {
		if !sess.live(now) {
			continue
		}
		st.Sessions++
		for j := range sess.sides {
			if _, ok := sess.sides[j].boundAddr(now); ok || sess.sides[j].rawLive(now) {
				st.BoundSides++
			}
		}
	}
	return st
}
