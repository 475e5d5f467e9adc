// Package clock is the time source of plexd's loops: the reconcile and
// heartbeat tickers, stream backoff and the verifier's freshness check all
// read time through a Clock so tests can control it.
package clock

import "time"

// Clock tells time and waits.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After delivers the time on the returned channel once d has passed.
	After(d time.Duration) <-chan time.Time
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// After is time.After.
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }

// OrReal returns c, or Real when c is nil.
func OrReal(c Clock) Clock {
	if c == nil {
		return Real{}
	}
	return c
}
