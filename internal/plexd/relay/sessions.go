package relay

import (
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/relaywire"
)

// side is one end of a session.
type side struct {
	token    [relaywire.TokenLen]byte
	hasToken bool
	// exact is the level-1 source endpoint the control plane named; raw
	// datagrams from it belong to this side.
	exact netip.AddrPort
	// bound is the source of the last valid bind, boundAt when it came;
	// both written with Server.mu held for writing.
	bound   netip.AddrPort
	boundAt time.Time
	// rawAt is when a raw (level-1) datagram last came from exact, in Unix
	// nanoseconds; written on the data path with only the read lock held.
	rawAt atomic.Int64
}

// session is one relay session on the bridge.
type session struct {
	id      uuid.UUID
	hasID   bool // id is a UUID (level-2 binds can name it)
	name    string
	expires time.Time
	sides   [2]side
}

// live reports whether the session has not expired at now.
func (s *session) live(now time.Time) bool { return now.Before(s.expires) }

// boundAddr is the side's authenticated address at now, if it bound
// within the bind lifetime.
func (sd *side) boundAddr(now time.Time) (netip.AddrPort, bool) {
	if !sd.bound.IsValid() || now.Sub(sd.boundAt) >= bindLifetime {
		return netip.AddrPort{}, false
	}
	return sd.bound, true
}

// rawLive reports whether the side sent raw level-1 traffic recently.
func (sd *side) rawLive(now time.Time) bool {
	at := sd.rawAt.Load()
	return at != 0 && now.Sub(time.Unix(0, at)) < bindLifetime
}

// sameAssignment reports whether a and b carry the same tokens and exact
// endpoints, so a renewal keeps what the sides have bound.
func (s *session) sameAssignment(o *session) bool {
	for i := range s.sides {
		a, b := &s.sides[i], &o.sides[i]
		if a.hasToken != b.hasToken || !relaywire.TokenEqual(a.token, b.token) || a.exact != b.exact {
			return false
		}
	}
	return true
}

// newSession converts a RelaySession, capping its lifetime at maxTTL from
// now. It reports false for a session that is void (expired, or with
// neither a usable token nor a usable endpoint on a side).
func newSession(rs *nodeproto.RelaySession, now time.Time, maxTTL time.Duration) (*session, bool) {
	s := &session{name: rs.SessionID, expires: rs.ExpiresAt}
	if limit := now.Add(maxTTL); s.expires.After(limit) {
		s.expires = limit
	}
	if !s.live(now) {
		return nil, false
	}
	if id, err := uuid.Parse(rs.SessionID); err == nil {
		s.id, s.hasID = id, true
	}
	ends := [2]struct{ token, endpoint string }{{rs.PeerAToken, rs.PeerAEndpoint}, {rs.PeerBToken, rs.PeerBEndpoint}}
	for i, e := range ends {
		sd := &s.sides[i]
		if t, err := relaywire.ParseToken(e.token); err == nil && s.hasID {
			sd.token, sd.hasToken = t, true
		}
		if ap, err := netip.ParseAddrPort(e.endpoint); err == nil && ap.Port() != 0 {
			sd.exact = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		}
		if !sd.hasToken && !sd.exact.IsValid() {
			return nil, false
		}
	}
	return s, true
}

// table is an immutable index of sessions; Server swaps whole tables.
type table struct {
	byID  map[uuid.UUID]*session
	byRaw map[netip.AddrPort]rawRef // level-1 exact endpoints
	all   []*session
}

// rawRef names a session side by its exact endpoint.
type rawRef struct {
	s    *session
	side int
}

// buildTable indexes list, carrying over the bound state of sessions in
// old whose assignment did not change. At most max sessions are kept.
func buildTable(list []nodeproto.RelaySession, old *table, now time.Time, max int, maxTTL time.Duration) (*table, int) {
	t := &table{byID: map[uuid.UUID]*session{}, byRaw: map[netip.AddrPort]rawRef{}}
	names := map[string]bool{}
	dropped := 0
	for i := range list {
		s, ok := newSession(&list[i], now, maxTTL)
		if !ok || names[s.name] {
			continue
		}
		if len(t.all) >= max {
			dropped++
			continue
		}
		names[s.name] = true
		if prev := old.find(s); prev != nil && prev.sameAssignment(s) {
			for j := range s.sides {
				s.sides[j].bound, s.sides[j].boundAt = prev.sides[j].bound, prev.sides[j].boundAt
				s.sides[j].rawAt.Store(prev.sides[j].rawAt.Load())
			}
		}
		t.all = append(t.all, s)
		if s.hasID {
			t.byID[s.id] = s
		}
		for j := range s.sides {
			if ep := s.sides[j].exact; ep.IsValid() {
				t.byRaw[ep] = rawRef{s, j}
			}
		}
	}
	return t, dropped
}

// find is the session of old with s's name, or nil.
func (t *table) find(s *session) *session {
	if t == nil {
		return nil
	}
	if s.hasID {
		return t.byID[s.id]
	}
	for _, o := range t.all {
		if o.name == s.name {
			return o
		}
	}
	return nil
}
