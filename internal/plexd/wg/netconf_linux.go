package wg

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// linkNet sets the addresses, routes, MTU and state of one interface
// through netlink, remembering what it installed so a later set removes
// only its own addresses and routes.
type linkNet struct {
	name   string
	mtu    int
	addrs  []netip.Prefix
	routes []netip.Prefix
}

func (h *linkNet) set(w hostWant) error {
	link, err := netlink.LinkByName(h.name)
	if err != nil {
		return fmt.Errorf("wg: %s: %w", h.name, err)
	}
	if link.Attrs().MTU != h.mtu {
		if err := netlink.LinkSetMTU(link, h.mtu); err != nil {
			return fmt.Errorf("wg: %s mtu: %w", h.name, err)
		}
	}
	for _, a := range w.addrs {
		na := &netlink.Addr{IPNet: ipNet(a)}
		if a.Addr().Is6() {
			na.Flags = unix.IFA_F_NODAD // usable at once; the ULA is ours alone
		}
		if err := netlink.AddrReplace(link, na); err != nil {
			return fmt.Errorf("wg: %s address %s: %w", h.name, a, err)
		}
	}
	for _, a := range h.addrs {
		if !contains(w.addrs, a) {
			if err := netlink.AddrDel(link, &netlink.Addr{IPNet: ipNet(a)}); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
				return fmt.Errorf("wg: %s address %s: %w", h.name, a, err)
			}
		}
	}
	h.addrs = w.addrs
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("wg: %s up: %w", h.name, err)
	}
	for _, r := range w.routes {
		if err := netlink.RouteReplace(route(link, r)); err != nil {
			return fmt.Errorf("wg: route %s: %w", r, err)
		}
	}
	for _, r := range h.routes {
		if !contains(w.routes, r) {
			if err := netlink.RouteDel(route(link, r)); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("wg: route %s: %w", r, err)
			}
		}
	}
	h.routes = w.routes
	return nil
}

func contains(ps []netip.Prefix, p netip.Prefix) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

func route(link netlink.Link, dst netip.Prefix) *netlink.Route {
	return &netlink.Route{LinkIndex: link.Attrs().Index, Dst: ipNet(dst.Masked()), Scope: netlink.SCOPE_LINK}
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// deleteLink deletes the interface name if it exists.
func deleteLink(name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return err
	}
	return netlink.LinkDel(link)
}
