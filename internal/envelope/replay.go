package envelope

import (
	"container/heap"
	"crypto/sha256"
	"sync"
	"time"
)

// nonceKey is a fixed-size digest of a nonce, so memory per entry does not
// depend on the nonce's length.
type nonceKey [16]byte

func keyOf(nonce string) nonceKey {
	sum := sha256.Sum256([]byte(nonce))
	var k nonceKey
	copy(k[:], sum[:])
	return k
}

// replayCache remembers accepted nonces until their issued_at is more than
// FreshnessWindow old (§7.4 step 7); after that freshness alone rejects a
// replay. At most max entries are held: when full of live entries it
// refuses new ones (fail closed) instead of forgetting one that could
// still be replayed.
type replayCache struct {
	max int

	// mu guards seen and byExpiry, which hold the same entries.
	mu       sync.Mutex
	seen     map[nonceKey]struct{}
	byExpiry expiryHeap
}

func newReplayCache(max int) *replayCache {
	return &replayCache{max: max, seen: make(map[nonceKey]struct{})}
}

// add records nonce, or reports ErrReplay if it is already held.
func (c *replayCache) add(nonce string, issuedAt, now time.Time) error {
	k := keyOf(nonce)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pruneLocked(now)
	if _, dup := c.seen[k]; dup {
		return ErrReplay
	}
	if len(c.seen) >= c.max {
		return ErrReplayCacheFull
	}
	c.seen[k] = struct{}{}
	heap.Push(&c.byExpiry, expiring{key: k, at: issuedAt.Add(FreshnessWindow).UnixNano()})
	return nil
}

// pruneLocked drops entries whose issued_at is more than FreshnessWindow
// before now.
func (c *replayCache) pruneLocked(now time.Time) {
	n := now.UnixNano()
	for len(c.byExpiry) > 0 && c.byExpiry[0].at < n {
		e := heap.Pop(&c.byExpiry).(expiring)
		delete(c.seen, e.key)
	}
}

// len reports the number of held nonces.
func (c *replayCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// expiring is a held nonce and the UnixNano after which it is dropped
// (fine for clocks between the years 1678 and 2262).
type expiring struct {
	key nonceKey
	at  int64
}

// expiryHeap is a min-heap of entries by expiry.
type expiryHeap []expiring

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiring)) }
func (h *expiryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
