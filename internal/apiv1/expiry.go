package apiv1

import "time"

// NeverExpires is the expires_at sent for a credential without an expiry:
// the contract requires a date-time there, and the last instant of year
// 9999 is what every RFC 3339 decoder accepts and every comparison treats
// as "not yet".
var NeverExpires = time.Date(9999, time.December, 31, 23, 59, 59, 0, time.UTC)

// Expiry returns the expires_at to send for t (nil meaning none), and
// whether the credential never expires.
func Expiry(t *time.Time) (*time.Time, bool) {
	if t == nil {
		never := NeverExpires
		return &never, true
	}
	return t, false
}
