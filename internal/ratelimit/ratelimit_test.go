package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

func TestBurstThenRefill(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(2, 3, func() time.Time { return now })
	for i := range 3 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	ok, wait := l.Allow("a")
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("fourth request: ok=%v wait=%v", ok, wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another client is limited by the first")
	}
	now = now.Add(500 * time.Millisecond) // one token at 2/s
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("no refill after 500 ms at 2/s")
	}
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("refused requests must not have consumed the refill")
	}
}

func TestDisabledAndBounded(t *testing.T) {
	if ok, _ := New(0, 1, nil).Allow("x"); !ok {
		t.Fatal("a zero rate must allow everything")
	}
	now := time.Unix(0, 0)
	l := New(1, 1, func() time.Time { return now })
	for i := range MaxKeys + 10 {
		l.Allow(fmt.Sprint(i))
	}
	if n := len(l.buckets); n > MaxKeys {
		t.Fatalf("%d buckets kept, bound is %d", n, MaxKeys)
	}
}
