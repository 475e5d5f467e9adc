package firewall

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// DefaultAccessTable is the inet table of the access listener's guard.
const DefaultAccessTable = "plexd_access"

// AccessGuardOptions configures an AccessGuard.
type AccessGuardOptions struct {
	// Interface is the mesh interface (default plexd0).
	Interface string
	// Table is the inet table's name (default plexd_access).
	Table string
	// NetNS is a file descriptor of the network namespace to work in
	// (0: the process's own).
	NetNS int
}

// AccessGuard keeps the access listener (docs/design/0008-access.md)
// reachable only through the mesh interface: one input rule drops TCP to
// the mesh IP's access port arriving on any other interface. It has a
// table of its own because plexd's policy table exists only while a
// policy is enforced, and the listener must be guarded regardless. Set
// replaces the table in one batch, so a table a crashed run left behind
// is replaced at the next start (and only ever drops that port).
type AccessGuard struct {
	opts AccessGuardOptions
	nft  *Nftables // for its netlink connection

	// mu serialises Set and Close.
	mu sync.Mutex
}

// NewAccessGuard validates opts.
func NewAccessGuard(opts AccessGuardOptions) (*AccessGuard, error) {
	if opts.Interface == "" {
		opts.Interface = nodeproto.DefaultMeshInterface
	}
	if len(opts.Interface) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("firewall: interface name %q is too long", opts.Interface)
	}
	if opts.Table == "" {
		opts.Table = DefaultAccessTable
	}
	return &AccessGuard{opts: opts, nft: &Nftables{opts: NftablesOptions{NetNS: opts.NetNS}}}, nil
}

// Set installs the guard of addr:port (IPv4 or IPv6), replacing any
// earlier one.
func (g *AccessGuard) Set(addr netip.Addr, port int) error {
	if !addr.IsValid() || port < 1 || port > 65535 {
		return fmt.Errorf("firewall: access guard: %v:%d is not an address and port", addr, port)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	c, err := g.nft.conn()
	if err != nil {
		return err
	}
	t := &nftables.Table{Name: g.opts.Table, Family: nftables.TableFamilyINet}
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	accept := nftables.ChainPolicyAccept
	ch := c.AddChain(&nftables.Chain{Name: inputChain, Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: guardExprs(g.opts.Interface, addr.Unmap(), uint16(port))})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("firewall: installing table %s: %w", g.opts.Table, err)
	}
	return nil
}

// guardExprs: iifname != ifname, daddr == addr, tcp dport == port: drop.
func guardExprs(ifname string, addr netip.Addr, port uint16) []expr.Any {
	name := make([]byte, unix.IFNAMSIZ)
	copy(name, ifname)
	fam, off := byte(unix.NFPROTO_IPV4), uint32(16)
	if addr.Is6() {
		fam, off = unix.NFPROTO_IPV6, 24
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: name},
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{fam}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: uint32(addr.BitLen() / 8)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: addr.AsSlice()},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, port)},
		&expr.Counter{},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}
}

// Close removes the guard's table.
func (g *AccessGuard) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.nft.removeTable(g.opts.Table)
}
