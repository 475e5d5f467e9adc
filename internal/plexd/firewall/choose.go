package firewall

import (
	"context"
	"fmt"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// WireGuard backends (the values of wg.Backend*; repeated here so the
// firewall does not depend on the data path).
const (
	wgKernel    = "kernel"
	wgUserspace = "userspace"
	wgNetstack  = "netstack"
)

// ForWireGuard picks the policy backend for a WireGuard backend: the
// nftables table on the mesh interface for the kernel and userspace
// engines when nftables works here, else the userspace filter, whose
// wrap function goes to wg.Options.WrapTUN (nil for nftables). The
// kernel engine has no TUN to wrap: without nftables it gets an
// Unavailable backend that refuses every policy block, so the refusal
// shows in heartbeat and status instead of traffic passing unseen.
func ForWireGuard(wgBackend string, opts NftablesOptions) (Backend, func(tun.Device) tun.Device, error) {
	return forWireGuard(wgBackend, opts, NewNftables)
}

func forWireGuard(wgBackend string, opts NftablesOptions, newNft func(NftablesOptions) (*Nftables, error)) (Backend, func(tun.Device) tun.Device, error) {
	switch wgBackend {
	case wgKernel, wgUserspace:
		nft, err := newNft(opts)
		if err == nil {
			err = nft.probe()
		}
		if err == nil {
			return nft, nil, nil
		}
		if wgBackend == wgKernel {
			return &Unavailable{Reason: err.Error()}, nil, nil
		}
	case wgNetstack:
	default:
		return nil, nil, fmt.Errorf("firewall: unknown WireGuard backend %q", wgBackend)
	}
	u := NewUserspace(UserspaceOptions{})
	return u, u.Wrap, nil
}

// Unavailable is the backend of a node that cannot enforce policy: it
// accepts "no policy" and refuses every block.
type Unavailable struct {
	// Reason says why (reported with every refusal).
	Reason string
}

// Set refuses every non-nil block.
func (u *Unavailable) Set(_ context.Context, p *nodeproto.NodeStatePolicy) error {
	if p == nil {
		return nil
	}
	return fmt.Errorf("firewall: this node cannot enforce policy: %s", u.Reason)
}

// Stats reports nothing enforced.
func (u *Unavailable) Stats() Stats { return Stats{Backend: "none"} }

// Close does nothing.
func (u *Unavailable) Close() error { return nil }
