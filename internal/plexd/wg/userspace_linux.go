package wg

import (
	"fmt"
	"os"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
)

// startUserspace creates wireguard-go on a TUN device named Interface and
// serves its UAPI socket under DataDir (not /var/run/wireguard, so plexd
// instances in different network namespaces of one host never collide).
func (e *Engine) startUserspace(_ mesh.Config) error {
	sock := e.opts.sockPath()
	if err := e.journal.begin(BackendUserspace, e.opts.Interface, sock); err != nil {
		return err
	}
	t, err := tun.CreateTUN(e.opts.Interface, e.opts.MTU)
	if err != nil {
		return fmt.Errorf("wg: creating TUN %s: %w", e.opts.Interface, err)
	}
	drv, err := newWGGo(e.wrapTUN(t), e.bind, deviceLogger(e.log, e.opts.Interface), sock)
	if err != nil {
		return err
	}
	e.drv, e.host, e.listen = drv, &linkNet{name: e.opts.Interface, mtu: e.opts.MTU}, hostListen
	return nil
}

// tunAvailable reports whether this process can create a TUN device
// (/dev/net/tun present and CAP_NET_ADMIN), by creating and closing one.
func tunAvailable() bool {
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return false
	}
	t, err := tun.CreateTUN(fmt.Sprintf("plexdt%d", os.Getpid()%100000), MinMTU)
	if err != nil {
		return false
	}
	t.Close()
	return true
}
