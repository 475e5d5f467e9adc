package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

// TestActiveClientKeepsItsBucket: when the table is full, only buckets
// untouched for idleAfter are dropped. A client that keeps calling (and
// keeps being refused) is not idle, so a flood of new addresses cannot
// evict its drained bucket and hand it a fresh burst.
//
// Mutation (issue 17): set a bucket's seen time only when it is created →
// the busy client counts as idle, is evicted with the flood's old keys, and
// its next call is allowed; this test fails.
func TestActiveClientKeepsItsBucket(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := New(1.0/3600, 1, func() time.Time { return now }) // one call an hour
	if ok, _ := l.Allow("busy"); !ok {
		t.Fatal("the first call was refused")
	}
	for i := range MaxKeys - 1 {
		l.Allow(fmt.Sprint("old-", i))
	}
	now = now.Add(idleAfter + time.Minute)
	if ok, _ := l.Allow("busy"); ok {
		t.Fatal("a drained bucket refilled within minutes at one call an hour")
	}
	l.Allow("newcomer") // the table is full: idle buckets are dropped
	if _, kept := l.buckets["old-0"]; kept {
		t.Fatal("an idle bucket survived eviction of a full table")
	}
	if ok, _ := l.Allow("busy"); ok {
		t.Fatal("the busy client's drained bucket was evicted as idle and refilled")
	}
}
