// Package ratelimit keeps per-client token buckets for the API's
// unauthenticated operations (sign-in, device codes, service tokens,
// registration), so that a flood from one address cannot fill the database
// with flows or exhaust the password-hash workers. Memory is bounded: idle
// buckets are dropped, and the table never holds more than MaxKeys clients.
package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// MaxKeys bounds the clients tracked at once.
const MaxKeys = 10_000

// idleAfter is how long an untouched bucket is kept.
const idleAfter = 5 * time.Minute

// Limiter hands out one token bucket per key.
type Limiter struct {
	rate  rate.Limit
	burst int
	now   func() time.Time

	// mu guards buckets.
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// New returns a limiter allowing perSecond sustained and burst at once per
// key; perSecond ≤ 0 allows everything. now nil means time.Now.
func New(perSecond float64, burst int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{rate: rate.Limit(perSecond), burst: max(burst, 1), now: now, buckets: map[string]*bucket{}}
}

// Allow takes one token for key. When none is left it returns false and how
// long until the next one.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	if l == nil || l.rate <= 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= MaxKeys {
			l.evictLocked(now)
		}
		b = &bucket{lim: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// evictLocked drops idle buckets, or all of them when none is idle (a
// reset is better than unbounded memory under a wide flood).
func (l *Limiter) evictLocked(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.seen) > idleAfter {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= MaxKeys {
		clear(l.buckets)
	}
}
