package api

import (
	"net/netip"
	"testing"
)

// Issue 7 row 14: the client address is the right-most X-Forwarded-For hop
// that is not a trusted proxy, and X-Forwarded-For counts only when the
// peer itself is a trusted proxy; left-most entries are the client's to
// write and never count.
func TestClientAddr(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	cases := []struct {
		name, remote string
		xff          []string
		want         string
		trusted      bool
	}{
		{"direct client, no header", "203.0.113.7:5000", nil, "203.0.113.7", false},
		{"direct client spoofs the header", "203.0.113.7:5000", []string{"198.51.100.1"}, "203.0.113.7", false},
		{"one trusted proxy", "10.0.0.2:443", []string{"203.0.113.7"}, "203.0.113.7", true},
		{"spoofed left-most entry", "10.0.0.2:443", []string{"198.51.100.1, 203.0.113.7"}, "203.0.113.7", true},
		{"proxy chain", "10.0.0.2:443", []string{"198.51.100.1, 203.0.113.7, 10.1.2.3"}, "203.0.113.7", true},
		{"several header lines", "10.0.0.2:443", []string{"198.51.100.1", "203.0.113.7", "10.9.9.9"}, "203.0.113.7", true},
		{"all hops trusted", "10.0.0.2:443", []string{"10.0.0.9, 10.0.0.3"}, "10.0.0.9", true},
		{"trusted proxy without header", "10.0.0.2:443", nil, "10.0.0.2", true},
		{"garbage left of trusted hops", "10.0.0.2:443", []string{"evil, 10.0.0.3"}, "10.0.0.3", true},
		{"garbage right-most", "10.0.0.2:443", []string{"203.0.113.7, evil"}, "10.0.0.2", true},
		{"IPv6 proxy, port in entry", "[::1]:443", []string{"198.51.100.1, [2001:db8::1]:1234"}, "2001:db8::1", true},
		{"IPv4-mapped peer", "[::ffff:10.0.0.2]:443", []string{"203.0.113.7"}, "203.0.113.7", true},
		{"no proxies configured", "10.0.0.2:443", []string{"203.0.113.7"}, "10.0.0.2", false},
	}
	for _, c := range cases {
		ps := proxies
		if c.name == "no proxies configured" {
			ps = nil
		}
		got, trusted := clientAddr(c.remote, c.xff, ps)
		if got != c.want || trusted != c.trusted {
			t.Errorf("%s: clientAddr(%q, %q) = %q, %v; want %q, %v", c.name, c.remote, c.xff, got, trusted, c.want, c.trusted)
		}
	}
}

// A 501 answers a contract operation not provisioned yet: expected, so it
// is not logged as a server failure; other 5xx are.
func TestServerFault(t *testing.T) {
	for status, want := range map[int]bool{200: false, 404: false, 499: false, 500: true, 501: false, 502: true, 503: true} {
		if got := serverFault(status); got != want {
			t.Errorf("serverFault(%d) = %v, want %v", status, got, want)
		}
	}
}
