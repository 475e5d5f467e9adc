package alerts

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Webhook receivers a Domain editor names are refused on addresses inside
// the control plane's own networks (SSRF), unless
// Config.AllowPrivateWebhooks: the check runs on every connection's
// resolved address (a net.Dialer Control function, so a name that
// resolves, or re-resolves, to such an address is refused too), and on a
// literal address when a rule is created or updated.

var (
	// cgnat is RFC 6598 shared address space, where plexsphere meshes
	// live.
	cgnat = netip.MustParsePrefix("100.64.0.0/10")
	// thisNetwork is 0.0.0.0/8, which Linux routes to the host itself.
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
	// nat64 is the well-known NAT64 prefix (RFC 6052): the IPv4 address
	// it embeds is what a NAT64 gateway connects to.
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
	// broadcast is the limited broadcast address.
	broadcast = netip.MustParseAddr("255.255.255.255")
)

// refusedAddress names why a webhook may not connect to a, or answers ""
// when it may.
func refusedAddress(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() && nat64.Contains(a) {
		b := a.As16()
		a = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	switch {
	case !a.IsValid():
		return "not an IP address"
	case a.IsUnspecified() || thisNetwork.Contains(a):
		return "unspecified"
	case a.IsLoopback():
		return "loopback"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsMulticast() || a == broadcast:
		return "multicast or broadcast"
	case a.IsPrivate():
		return "private (RFC 1918 or ULA)"
	case cgnat.Contains(a):
		return "shared address space 100.64.0.0/10 (meshes)"
	}
	return ""
}

// guardControl is a net.Dialer Control function refusing the addresses
// refusedAddress names.
func guardControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook address %q refused: not an IP address", address)
	}
	if why := refusedAddress(ap.Addr()); why != "" {
		return fmt.Errorf("webhook address %s refused: %s (alert_webhook_allow_private permits it)", ap.Addr(), why)
	}
	return nil
}

// guardedClient is the default webhook client: redirects not followed
// and, unless allowPrivate, every connection's address checked and no
// proxy from the environment (a proxy would connect on the guard's
// behalf).
func guardedClient(allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: deliverTimeout, KeepAlive: 30 * time.Second}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if !allowPrivate {
		d.Control = guardControl
		tr.Proxy = nil
	}
	tr.DialContext = d.DialContext
	// Redirects are not followed: the rule names the one receiver.
	return &http.Client{Timeout: deliverTimeout, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// checkWebhookHost refuses a webhook URL whose host is a literal address
// refusedAddress names (a name is checked when it is connected to).
func checkWebhookHost(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return nil // validateWebhook answers
	}
	host := strings.TrimSuffix(u.Hostname(), ".")
	host, _, _ = strings.Cut(host, "%") // an IPv6 zone
	a, err := netip.ParseAddr(host)
	if err != nil {
		if ip := parseLegacyIPv4(host); ip.IsValid() {
			a = ip
		} else {
			return nil
		}
	}
	if why := refusedAddress(a); why != "" {
		return invalid("webhook_url must not point at a " + why + " address; the server's alert_webhook_allow_private setting permits it.")
	}
	return nil
}

// parseLegacyIPv4 reads the forms inet_aton accepts besides dotted
// quads ("127.1", "2130706433", "0x7f.1"), which some resolvers turn into
// addresses; it answers the zero Addr for anything else.
func parseLegacyIPv4(s string) netip.Addr {
	parts := strings.Split(s, ".")
	if len(parts) > 4 || s == "" {
		return netip.Addr{}
	}
	var nums []uint64
	for _, p := range parts {
		base := 10
		switch {
		case strings.HasPrefix(p, "0x") || strings.HasPrefix(p, "0X"):
			base, p = 16, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		if p == "" {
			return netip.Addr{}
		}
		var n uint64
		for _, c := range strings.ToLower(p) {
			d := strings.IndexRune("0123456789abcdef", c)
			if d < 0 || d >= base {
				return netip.Addr{}
			}
			n = n*uint64(base) + uint64(d)
			if n > 0xffffffff {
				return netip.Addr{}
			}
		}
		nums = append(nums, n)
	}
	var v uint64
	for i, n := range nums[:len(nums)-1] {
		if n > 0xff {
			return netip.Addr{}
		}
		v |= n << (24 - 8*i)
	}
	last := nums[len(nums)-1]
	if last >= 1<<(8*(5-len(nums))) {
		return netip.Addr{}
	}
	v |= last
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
