//go:build !linux

package firewall

import (
	"context"
	"errors"
	"log/slog"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// DefaultTable is the inet table plexd owns on Linux.
const DefaultTable = "plexd"

// NftablesOptions configures an Nftables backend (Linux only).
type NftablesOptions struct {
	Interface, Table, DataDir string
	NetNS                     int
	Logger                    *slog.Logger
}

// Nftables is unavailable outside Linux.
type Nftables struct{}

// NewNftables fails outside Linux.
func NewNftables(NftablesOptions) (*Nftables, error) {
	return nil, errors.New("firewall: nftables exists only on Linux")
}

// Set is never reached.
func (*Nftables) Set(context.Context, *nodeproto.NodeStatePolicy) error {
	return errors.New("firewall: nftables exists only on Linux")
}

// Stats reports nothing.
func (*Nftables) Stats() Stats { return Stats{Backend: BackendNftables} }

// Close does nothing.
func (*Nftables) Close() error { return nil }

func (*Nftables) probe() error { return errors.New("firewall: nftables exists only on Linux") }
