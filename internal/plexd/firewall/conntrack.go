package firewall

import (
	"net/netip"
	"sync"
	"time"
)

// Connection tracker defaults.
const (
	// DefaultConntrackSize bounds the tracked flows.
	DefaultConntrackSize = 65536
	tcpTimeout           = 5 * time.Minute
	tcpClosingTimeout    = 10 * time.Second
	udpTimeout           = time.Minute
	icmpTimeout          = 30 * time.Second
)

// flowKey is one direction of a flow: protocol, addresses and ports (ICMP
// echo identifiers in the port of the side that chose them).
type flowKey struct {
	proto    uint8
	src, dst netip.Addr
	sp, dp   uint16
}

func (k flowKey) reverse() flowKey {
	return flowKey{proto: k.proto, src: k.dst, dst: k.src, sp: k.dp, dp: k.sp}
}

func keyOf(p *Packet) flowKey {
	return flowKey{proto: p.Proto, src: p.Src.Unmap(), dst: p.Dst.Unmap(), sp: p.SrcPort, dp: p.DstPort}
}

// conntrack remembers flows, keyed by the direction of their first
// packet, with an idle timeout per protocol and a bounded size.
type conntrack struct {
	max int
	now func() time.Time

	// mu guards flows and frags.
	mu    sync.Mutex
	flows map[flowKey]ctEntry
	// frags are fragmented datagrams whose first fragment passed: their
	// later fragments (no transport header) pass too, as they would
	// after the kernel's reassembly.
	frags map[fragKey]time.Time
}

// fragKey names one fragmented datagram.
type fragKey struct {
	proto    uint8
	src, dst netip.Addr
	id       uint32
}

// fragTimeout is how long later fragments of a passed datagram pass.
const fragTimeout = 30 * time.Second

func newConntrack(max int, now func() time.Time) *conntrack {
	return &conntrack{max: max, now: now, flows: make(map[flowKey]ctEntry), frags: make(map[fragKey]time.Time)}
}

// ctEntry is a tracked flow: when it expires, and whether a TCP FIN or
// RST was seen (the flow then lives only tcpClosingTimeout more).
type ctEntry struct {
	exp     time.Time
	closing bool
}

// refreshed is e after packet p at now.
func (e ctEntry) refreshed(p *Packet, now time.Time) ctEntry {
	e.closing = e.closing || p.Proto == ProtoTCP && p.TCPFlags&(tcpFIN|tcpRST) != 0
	if e.closing {
		if e.exp.IsZero() || now.Add(tcpClosingTimeout).Before(e.exp) {
			e.exp = now.Add(tcpClosingTimeout)
		}
		return e
	}
	e.exp = now.Add(timeoutOf(p))
	return e
}

func timeoutOf(p *Packet) time.Duration {
	switch p.Proto {
	case ProtoTCP:
		return tcpTimeout
	case ProtoICMP, ProtoICMPv6:
		return icmpTimeout
	}
	return udpTimeout
}

// seen refreshes the flow of p in either direction and reports whether
// it was tracked.
func (c *conntrack) seen(p *Packet) bool {
	k := keyOf(p)
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, key := range [2]flowKey{k, k.reverse()} {
		if e, ok := c.flows[key]; ok {
			if now.After(e.exp) {
				delete(c.flows, key)
				continue
			}
			c.flows[key] = e.refreshed(p, now)
			return true
		}
	}
	return false
}

// related reports whether an ICMP error quotes a tracked flow.
func (c *conntrack) related(in *Packet) bool {
	k := keyOf(in)
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, key := range [2]flowKey{k, k.reverse()} {
		if e, ok := c.flows[key]; ok && !now.After(e.exp) {
			return true
		}
	}
	return false
}

// track starts tracking the flow p opens (or refreshes it).
func (c *conntrack) track(p *Packet) {
	k := keyOf(p)
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.flows[k]; !ok && len(c.flows) >= c.max {
		c.evictLocked(now)
	}
	c.flows[k] = ctEntry{}.refreshed(p, now)
}

// evictLocked drops expired flows and, when that freed nothing, an
// arbitrary eighth of the table, so the table never outgrows max and a
// flood of new flows costs amortised constant time per flow.
func (c *conntrack) evictLocked(now time.Time) {
	for k, e := range c.flows {
		if now.After(e.exp) {
			delete(c.flows, k)
		}
	}
	if len(c.flows) < c.max {
		return
	}
	n := max(1, c.max/8)
	for k := range c.flows {
		delete(c.flows, k)
		if n--; n == 0 {
			return
		}
	}
}

// len is the number of tracked flows.
func (c *conntrack) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.flows)
}

func fragKeyOf(p *Packet) fragKey {
	return fragKey{proto: p.Proto, src: p.Src.Unmap(), dst: p.Dst.Unmap(), id: p.FragID}
}

// fragPassed records the first fragment of a datagram that passed.
func (c *conntrack) fragPassed(p *Packet) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.frags) >= c.max {
		for k, exp := range c.frags {
			if now.After(exp) || len(c.frags) >= c.max {
				delete(c.frags, k)
			}
		}
	}
	c.frags[fragKeyOf(p)] = now.Add(fragTimeout)
}

// fragAllowed reports whether a later fragment belongs to a datagram
// whose first fragment passed.
func (c *conntrack) fragAllowed(p *Packet) bool {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.frags[fragKeyOf(p)]
	return ok && !now.After(exp)
}
