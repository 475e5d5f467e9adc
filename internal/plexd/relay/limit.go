package relay

import (
	"net/netip"
	"time"
)

// limiter is a token bucket per source IP for binds (the one datagram
// that costs the relay two token comparisons and an answer). It holds at
// most max sources; when full it forgets sources whose bucket has refilled,
// and refuses new sources while none has.
type limiter struct {
	rate  float64 // tokens per second
	burst float64
	max   int
	srcs  map[netip.Addr]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(rate float64, burst, max int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), max: max, srcs: map[netip.Addr]*bucket{}}
}

// allow takes one token for ip at now. The caller serialises calls.
func (l *limiter) allow(ip netip.Addr, now time.Time) bool {
	b := l.srcs[ip]
	if b == nil {
		if len(l.srcs) >= l.max && !l.prune(now) {
			return false
		}
		b = &bucket{tokens: l.burst, at: now}
		l.srcs[ip] = b
	}
	if dt := now.Sub(b.at).Seconds(); dt > 0 {
		b.tokens = min(l.burst, b.tokens+dt*l.rate)
	}
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// prune forgets sources whose bucket is full again; it reports whether
// any room was made.
func (l *limiter) prune(now time.Time) bool {
	n := len(l.srcs)
	for ip, b := range l.srcs {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.srcs, ip)
		}
	}
	return len(l.srcs) < n
}
