// Package wg is plexd's WireGuard data path behind mesh.Engine: three
// engines (kernel via netlink and wgctrl, userspace wireguard-go on a TUN
// device with its UAPI socket under plexd's data directory, and
// wireguard-go on a gVisor netstack that needs no privileges), the one
// shared UDP socket (Bind) that demultiplexes STUN, relay and WireGuard
// datagrams, the relay client (PXRB binds, PXRD framing), addresses,
// routes and MTU, per-peer paths (direct, relayed, down, direct_failed),
// the cleanup journal of what plexd created on the host, and the tunnel
// probes that measure each peer's round trip.
//
// Engines apply only deltas: a changed peer is updated in place, a removed
// one removed, a new private key set without recreating the device, so a
// key rotation or an endpoint change never drops established traffic for
// more than a handshake.
package wg
