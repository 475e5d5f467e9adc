package wg

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/vishvananda/netlink"
	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
)

// ErrKernelUnavailable is returned when the kernel has no WireGuard.
var ErrKernelUnavailable = errors.New("wg: the kernel has no WireGuard support")

// kernelAvailable reports whether a link of type wireguard can be created
// (the module is built in or loads on demand), by creating and deleting a
// scratch one.
func kernelAvailable() bool {
	la := netlink.NewLinkAttrs()
	la.Name = fmt.Sprintf("plexdk%d", os.Getpid()%100000)
	if err := netlink.LinkAdd(&netlink.Wireguard{LinkAttrs: la}); err != nil {
		return false
	}
	deleteLink(la.Name)
	return true
}

// startKernel creates the kernel WireGuard link and drives it with
// wgctrl. The kernel owns the UDP socket, so the shared Bind is not used:
// relay sessions are sent to the relay address unframed (the level-1
// form) and natpath cannot send STUN from the WireGuard port.
func (e *Engine) startKernel(_ mesh.Config) error {
	if err := e.journal.begin(BackendKernel, e.opts.Interface, ""); err != nil {
		return err
	}
	la := netlink.NewLinkAttrs()
	la.Name, la.MTU = e.opts.Interface, e.opts.MTU
	if err := netlink.LinkAdd(&netlink.Wireguard{LinkAttrs: la}); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrKernelUnavailable, e.opts.Interface, err)
	}
	c, err := wgctrl.New()
	if err != nil {
		deleteLink(e.opts.Interface)
		return fmt.Errorf("wg: wgctrl: %w", err)
	}
	e.drv = &kernelDrv{c: c, name: e.opts.Interface}
	e.host, e.listen = &linkNet{name: e.opts.Interface, mtu: e.opts.MTU}, hostListen
	return nil
}

// kernelDrv drives a kernel WireGuard link.
type kernelDrv struct {
	c    *wgctrl.Client
	name string
}

func (k *kernelDrv) apply(d *delta) error {
	var cfg wgtypes.Config
	if d.privateKey != nil {
		key := wgtypes.Key(*d.privateKey)
		cfg.PrivateKey = &key
	}
	cfg.ListenPort = d.listenPort
	for _, pub := range d.remove {
		cfg.Peers = append(cfg.Peers, wgtypes.PeerConfig{PublicKey: wgtypes.Key(pub), Remove: true})
	}
	for _, c := range d.upsert {
		pc := wgtypes.PeerConfig{PublicKey: wgtypes.Key(c.pub), UpdateOnly: !c.create, ReplaceAllowedIPs: c.replaceIP}
		if c.psk != nil {
			psk := wgtypes.Key(*c.psk)
			pc.PresharedKey = &psk
		}
		if c.keepalive != nil {
			ka := time.Duration(*c.keepalive) * time.Second
			pc.PersistentKeepaliveInterval = &ka
		}
		if c.endpoint != "" {
			pc.Endpoint = kernelEndpoint(c.endpoint)
		}
		for _, p := range c.allowed {
			pc.AllowedIPs = append(pc.AllowedIPs, *ipNet(p))
		}
		cfg.Peers = append(cfg.Peers, pc)
	}
	if err := k.c.ConfigureDevice(k.name, cfg); err != nil {
		return fmt.Errorf("wg: configuring %s: %w", k.name, err)
	}
	return nil
}

// kernelEndpoint is the UDP address of a UAPI endpoint; a relay endpoint
// becomes its relay's address.
func kernelEndpoint(s string) *net.UDPAddr {
	b := NewBind()
	ep, err := b.ParseEndpoint(s)
	if err != nil {
		return nil
	}
	if re, ok := ep.(*relayEndpoint); ok {
		return net.UDPAddrFromAddrPort(re.relay)
	}
	ap, err := netip.ParseAddrPort(ep.DstToString())
	if err != nil {
		return nil
	}
	return net.UDPAddrFromAddrPort(ap)
}

func (k *kernelDrv) observe() (map[[32]byte]peerObs, error) {
	d, err := k.c.Device(k.name)
	if err != nil {
		return nil, err
	}
	out := make(map[[32]byte]peerObs, len(d.Peers))
	for _, p := range d.Peers {
		o := peerObs{handshake: p.LastHandshakeTime, rx: p.ReceiveBytes, tx: p.TransmitBytes}
		if p.Endpoint != nil {
			o.endpoint = p.Endpoint.AddrPort().String()
		}
		out[[32]byte(p.PublicKey)] = o
	}
	return out, nil
}

func (k *kernelDrv) close() error {
	k.c.Close()
	return deleteLink(k.name)
}
