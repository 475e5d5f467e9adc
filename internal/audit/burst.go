package audit

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// ErrNoChain is returned for an append to a chain that does not exist and
// may not be created: chains exist for the platform and for Domains only
// (issue 7 row 10).
var ErrNoChain = errors.New("audit: no such chain")

// sqlCreateChain creates the platform chain or the chain of an existing
// Domain, never one for any other id, so a request naming a random UUID
// cannot make a chain for it.
const sqlCreateChain = `INSERT INTO audit_chains (chain_id, last_seq, last_hash)
	SELECT CAST($1 AS TEXT), 0, CAST($2 AS TEXT)
	WHERE CAST($1 AS TEXT) = '` + PlatformChain + `' OR EXISTS (SELECT 1 FROM domains WHERE id = CAST($1 AS TEXT))
	ON CONFLICT (chain_id) DO NOTHING`

// DomainResolver names the existing Domain an object belongs to; false for
// an object of no Domain or one that does not exist.
type DomainResolver interface {
	DomainOf(ctx context.Context, objType, objID string) (string, bool)
}

// DefaultBurstWindow is how long the entries of one client's failed
// authentications or rate-limited requests are aggregated.
const DefaultBurstWindow = time.Minute

// SuppressedEvents is the object type of a roll-up entry: its object id is
// the number of like events (same chain, action, outcome, reason and client
// network) the window held after the first, which was appended on its own.
const SuppressedEvents = "suppressed_events"

// maxBurstKeys bounds the windows tracked at once; past it, events share one
// overflow window per chain, action and reason.
const maxBurstKeys = 4096

// burst aggregates the entries a client can cause without credentials
// (401s) or by sheer volume (429s), so that no flood lengthens a chain by
// more than one entry per client network, chain, action, outcome and reason
// per window, plus one roll-up carrying the count of the rest.
type burst struct {
	window time.Duration

	// mu guards the fields below.
	mu      sync.Mutex
	windows map[burstKey]*burstWindow
	// pending are roll-ups of closed windows not yet handed out.
	pending []Entry
	swept   time.Time
}

type burstKey struct {
	chain, action, outcome, reason, network string
}

type burstWindow struct {
	start      time.Time
	suppressed int64
	last       Entry
}

func newBurst(window time.Duration) *burst {
	return &burst{window: window, windows: map[burstKey]*burstWindow{}}
}

// network is the aggregation unit of a client address: the address for
// IPv4, its /64 for IPv6 (one host may hold a whole /64), the text
// otherwise.
func network(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a.Is4() || a.Is4In6() {
		return a.Unmap().String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// admit reports whether e is appended now (the first of its window) or only
// counted into the window's roll-up.
func (b *burst) admit(e Entry, now time.Time) bool {
	k := burstKey{e.ChainID, e.Action, e.Outcome, e.Reason, network(e.IP)}
	b.mu.Lock()
	defer b.mu.Unlock()
	w, ok := b.windows[k]
	if !ok && len(b.windows) >= maxBurstKeys {
		b.sweepDueLocked(now)
		if len(b.windows) >= maxBurstKeys {
			k.network = "*"
			w, ok = b.windows[k]
		}
	}
	if ok && now.Sub(w.start) < b.window {
		w.suppressed++
		w.last = e
		return false
	}
	if ok && w.suppressed > 0 {
		b.pending = append(b.pending, rollup(w))
	}
	b.windows[k] = &burstWindow{start: now}
	return true
}

// take hands out the roll-ups of closed windows. It looks for closed
// windows at most once per quarter window, unless force is set.
func (b *burst) take(now time.Time, force bool) []Entry {
	b.mu.Lock()
	defer b.mu.Unlock()
	if force {
		b.swept = now
		b.sweepLocked(now)
	}
	b.sweepDueLocked(now)
	out := b.pending
	b.pending = nil
	return out
}

// sweepDueLocked sweeps at most once per quarter window, so that a wide
// flood does not scan the table for every event.
func (b *burst) sweepDueLocked(now time.Time) {
	if now.Sub(b.swept) >= b.window/4 {
		b.swept = now
		b.sweepLocked(now)
	}
}

// sweepLocked forgets the closed windows, keeping their roll-ups pending.
func (b *burst) sweepLocked(now time.Time) {
	for k, w := range b.windows {
		if now.Sub(w.start) < b.window {
			continue
		}
		if w.suppressed > 0 {
			b.pending = append(b.pending, rollup(w))
		}
		delete(b.windows, k)
	}
}

// rollup is the entry standing for a window's suppressed events: the last
// of them, naming their count as its object.
func rollup(w *burstWindow) Entry {
	e := w.last
	e.OccurredAt = time.Time{}
	e.ObjectType, e.ObjectID = SuppressedEvents, strconv.FormatInt(w.suppressed, 10)
	return e
}
