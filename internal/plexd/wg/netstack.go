package wg

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"golang.zx2c4.com/wireguard/tun/netstack"

	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
)

// startNetstack creates wireguard-go on a gVisor netstack holding the
// node's mesh addresses; it needs no privileges and touches no host
// interface. The UAPI socket is served only when DataDir is set.
func (e *Engine) startNetstack(cfg mesh.Config) error {
	addrs := meshAddrs(cfg)
	if len(addrs) == 0 {
		return errors.New("wg: netstack needs the node's mesh address")
	}
	t, tnet, err := netstack.CreateNetTUN(addrs, nil, e.opts.MTU)
	if err != nil {
		return fmt.Errorf("wg: netstack: %w", err)
	}
	drv, err := newWGGo(e.wrapTUN(t), e.bind, deviceLogger(e.log, e.opts.Interface), e.opts.sockPath())
	if err != nil {
		return err
	}
	e.drv, e.tnet = drv, tnet
	e.listen = func(ap netip.AddrPort) (net.PacketConn, error) { return tnet.ListenUDPAddrPort(ap) }
	return nil
}
