//go:build !linux

package firewall

import (
	"errors"
	"net/netip"
)

// DefaultAccessTable is the inet table of the access listener's guard
// on Linux.
const DefaultAccessTable = "plexd_access"

// AccessGuardOptions configures an AccessGuard (Linux only).
type AccessGuardOptions struct {
	Interface, Table string
	NetNS            int
}

// AccessGuard is unavailable outside Linux.
type AccessGuard struct{}

// NewAccessGuard fails outside Linux.
func NewAccessGuard(AccessGuardOptions) (*AccessGuard, error) {
	return nil, errors.New("firewall: nftables exists only on Linux")
}

// Set is never reached.
func (*AccessGuard) Set(netip.Addr, int) error {
	return errors.New("firewall: nftables exists only on Linux")
}

// Close does nothing.
func (*AccessGuard) Close() error { return nil }
