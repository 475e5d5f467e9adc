package wg

import (
	"fmt"

	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
)

// probes tells what the host offers (injected by tests).
type probes struct {
	kernel func() bool // a wireguard link can be created
	tun    func() bool // a TUN device can be created
}

// Resolve turns a configured backend into the one to run: auto is kernel
// when the kernel has WireGuard, else userspace when a TUN device can be
// created (/dev/net/tun and CAP_NET_ADMIN), else netstack.
func Resolve(backend string) (string, error) {
	return resolveWith(backend, probes{kernel: kernelAvailable, tun: tunAvailable})
}

func resolveWith(backend string, p probes) (string, error) {
	switch backend {
	case "", BackendAuto:
		switch {
		case p.kernel():
			return BackendKernel, nil
		case p.tun():
			return BackendUserspace, nil
		}
		return BackendNetstack, nil
	case BackendKernel, BackendUserspace, BackendNetstack:
		return backend, nil
	}
	return "", fmt.Errorf("wg: backend %q is not auto, kernel, userspace or netstack", backend)
}

// ValidBackend reports whether s names a backend or auto.
func ValidBackend(s string) bool {
	_, err := resolveWith(s, probes{kernel: func() bool { return false }, tun: func() bool { return false }})
	return err == nil
}

// start creates the device of the configured backend.
func (e *Engine) start(cfg mesh.Config) error {
	switch e.opts.Backend {
	case BackendNetstack:
		return e.startNetstack(cfg)
	case BackendUserspace:
		return e.startUserspace(cfg)
	}
	return e.startKernel(cfg)
}
