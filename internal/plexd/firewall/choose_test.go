package firewall

import (
	"context"
	"errors"
	"testing"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

func TestForWireGuard(t *testing.T) {
	broken := func(NftablesOptions) (*Nftables, error) { return nil, errors.New("no netlink") }
	be, wrap, err := forWireGuard("netstack", NftablesOptions{}, broken)
	if _, ok := be.(*Userspace); !ok || wrap == nil || err != nil {
		t.Fatalf("netstack: %T %v", be, err)
	}
	be, wrap, _ = forWireGuard("userspace", NftablesOptions{}, broken)
	if _, ok := be.(*Userspace); !ok || wrap == nil {
		t.Fatalf("userspace without nftables: %T", be)
	}
	be, wrap, _ = forWireGuard("kernel", NftablesOptions{}, broken)
	if _, ok := be.(*Unavailable); !ok || wrap != nil {
		t.Fatalf("kernel without nftables: %T", be)
	}
	if be.Set(context.Background(), nil) != nil || be.Set(context.Background(), &nodeproto.NodeStatePolicy{Fingerprint: "f"}) == nil {
		t.Fatal("Unavailable must accept nil and refuse a block")
	}
	if _, _, err := forWireGuard("auto", NftablesOptions{}, broken); err == nil {
		t.Fatal("an unresolved backend was accepted")
	}
}
