package wg

import "golang.zx2c4.com/wireguard/tun"

// wrapTUN puts Options.WrapTUN (the userspace policy filter) between
// wireguard-go and its TUN device: packets wireguard-go writes are those
// arriving from the mesh, packets it reads are those the node sends.
func (e *Engine) wrapTUN(t tun.Device) tun.Device {
	if e.opts.WrapTUN == nil {
		return t
	}
	return e.opts.WrapTUN(t)
}
