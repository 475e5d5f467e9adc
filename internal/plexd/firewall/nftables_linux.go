package firewall

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// DefaultTable is the inet table plexd owns.
const DefaultTable = "plexd"

// Chain names inside the table: the two base chains jump to meshChain,
// which holds the compiled rules and their counters once for both hooks.
const (
	meshChain    = "mesh"
	inputChain   = "input"
	forwardChain = "forward"
	// defaultComment tags the final counted drop of meshChain.
	defaultComment = "default"
)

// NftablesOptions configures an Nftables backend.
type NftablesOptions struct {
	// Interface is the mesh interface whose incoming traffic is filtered
	// (default plexd0).
	Interface string
	// Table is the inet table's name (default plexd).
	Table string
	// DataDir holds the cleanup journal ("" keeps none).
	DataDir string
	// NetNS is a file descriptor of the network namespace to work in
	// (0: the process's own).
	NetNS  int
	Logger *slog.Logger
}

// Nftables enforces the policy with an inet table owned by plexd: base
// chains on the input and forward hooks take traffic arriving on the
// mesh interface, accept established and related flows and jump to one
// chain of counted rules ending in a counted drop. Each new ruleset
// replaces the whole table in one netlink batch, so no packet ever sees
// half of it.
type Nftables struct {
	opts    NftablesOptions
	log     *slog.Logger
	journal *journal

	// mu guards everything below.
	mu     sync.Mutex
	rs     *Ruleset
	denied uint64 // counted by tables already replaced
	logged uint64
}

// NewNftables validates opts and removes a table a crashed earlier run
// left behind (its journal).
func NewNftables(opts NftablesOptions) (*Nftables, error) {
	if opts.Interface == "" {
		opts.Interface = nodeproto.DefaultMeshInterface
	}
	if len(opts.Interface) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("firewall: interface name %q is too long", opts.Interface)
	}
	if opts.Table == "" {
		opts.Table = DefaultTable
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	n := &Nftables{opts: opts, log: opts.Logger, journal: newJournal(opts.DataDir)}
	left, err := n.journal.load()
	if err != nil {
		return nil, err
	}
	if left != nil {
		if err := n.removeTable(left.Table); err != nil {
			return nil, fmt.Errorf("firewall: removing the table an earlier run left: %w", err)
		}
		n.log.LogAttrs(context.Background(), slog.LevelInfo, "removed the firewall table a crashed run left", slog.String(logkey.Kind, left.Table))
		if err := n.journal.finish(); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// batchBuffer is the netlink socket buffer a whole-table batch needs: a
// batch of MaxRules rules is one sendmsg, which the kernel refuses when
// it exceeds the socket's send buffer.
const batchBuffer = 32 << 20

// bigBuffers raises the socket's buffers past the sysctl limits
// (SO_*BUFFORCE needs CAP_NET_ADMIN, which nftables needs anyway),
// falling back to the limited ones.
func bigBuffers(c *netlink.Conn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		for _, o := range [][2]int{{unix.SO_SNDBUFFORCE, unix.SO_SNDBUF}, {unix.SO_RCVBUFFORCE, unix.SO_RCVBUF}} {
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[0], batchBuffer) != nil {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[1], batchBuffer)
			}
		}
	})
	if err != nil {
		return err
	}
	return serr
}

func (n *Nftables) conn() (*nftables.Conn, error) {
	opts := []nftables.ConnOption{nftables.WithSockOptions(bigBuffers)}
	if n.opts.NetNS != 0 {
		opts = append(opts, nftables.WithNetNSFd(n.opts.NetNS))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("firewall: nftables: %w", err)
	}
	return c, nil
}

// probe checks that nftables answers here (netlink and the permission
// to list tables).
func (n *Nftables) probe() error {
	c, err := n.conn()
	if err != nil {
		return err
	}
	if _, err := c.ListTablesOfFamily(nftables.TableFamilyINet); err != nil {
		return fmt.Errorf("firewall: nftables: %w", err)
	}
	return nil
}

// Set installs p's ruleset (replacing the table atomically), removes the
// table for nil, and does nothing when the fingerprint is unchanged.
func (n *Nftables) Set(_ context.Context, p *nodeproto.NodeStatePolicy) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if same(n.rs, p) {
		return nil
	}
	if p == nil {
		return n.uninstallLocked()
	}
	rs, err := Build(p)
	if err != nil {
		return err
	}
	if err := n.journal.begin(journalEntry{Table: n.opts.Table, Family: "inet", Interface: n.opts.Interface}); err != nil {
		return err
	}
	n.foldCountersLocked()
	c, err := n.conn()
	if err != nil {
		return err
	}
	n.batch(c, rs)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("firewall: installing table %s: %w", n.opts.Table, err)
	}
	n.rs = rs
	return nil
}

// Close removes the table and the journal.
func (n *Nftables) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.uninstallLocked()
}

func (n *Nftables) uninstallLocked() error {
	n.foldCountersLocked()
	if err := n.removeTable(n.opts.Table); err != nil {
		return err
	}
	n.rs = nil
	return n.journal.finish()
}

// removeTable deletes table name if it exists (add-then-delete in one
// batch cannot fail on an absent table).
func (n *Nftables) removeTable(name string) error {
	c, err := n.conn()
	if err != nil {
		return err
	}
	t := &nftables.Table{Name: name, Family: nftables.TableFamilyINet}
	c.AddTable(t)
	c.DelTable(t)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("firewall: removing table %s: %w", name, err)
	}
	return nil
}

// batch queues the whole table for rs: create-or-keep, delete, create.
func (n *Nftables) batch(c *nftables.Conn, rs *Ruleset) {
	t := &nftables.Table{Name: n.opts.Table, Family: nftables.TableFamilyINet}
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	mesh := c.AddChain(&nftables.Chain{Name: meshChain, Table: t})
	accept := nftables.ChainPolicyAccept
	for _, base := range []struct {
		name string
		hook *nftables.ChainHook
	}{{inputChain, nftables.ChainHookInput}, {forwardChain, nftables.ChainHookForward}} {
		ch := c.AddChain(&nftables.Chain{Name: base.name, Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: base.hook, Priority: nftables.ChainPriorityFilter, Policy: &accept})
		for _, exprs := range n.baseRules(mesh.Name) {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: exprs})
		}
	}
	for i := range rs.Rules {
		r := &rs.Rules[i]
		c.AddRule(&nftables.Rule{Table: t, Chain: mesh, Exprs: ruleExprs(r),
			UserData: userdata.AppendString(nil, userdata.TypeComment, r.Action.String()+" "+strconv.Itoa(i))})
	}
	c.AddRule(&nftables.Rule{Table: t, Chain: mesh, Exprs: []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}},
		UserData: userdata.AppendString(nil, userdata.TypeComment, defaultComment)})
}

// baseRules: traffic not arriving on the mesh interface is not ours;
// established and related flows pass; the rest goes to the mesh chain.
func (n *Nftables) baseRules(mesh string) [][]expr.Any {
	ifname := make([]byte, unix.IFNAMSIZ)
	copy(ifname, n.opts.Interface)
	return [][]expr.Any{
		{
			&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ifname},
			&expr.Verdict{Kind: expr.VerdictAccept},
		},
		{
			&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED),
				Xor:  binaryutil.NativeEndian.PutUint32(0)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
			&expr.Verdict{Kind: expr.VerdictAccept},
		},
		{&expr.Verdict{Kind: expr.VerdictJump, Chain: mesh}},
	}
}

// ruleExprs renders one rule: family, source, destination, protocol,
// destination ports, a counter and the verdict.
func ruleExprs(r *Rule) []expr.Any {
	fam, srcOff, dstOff := byte(unix.NFPROTO_IPV4), uint32(12), uint32(16)
	if r.IPv6() {
		fam, srcOff, dstOff = unix.NFPROTO_IPV6, 8, 24
	}
	out := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{fam}},
	}
	out = append(out, prefixExprs(r.Src, srcOff)...)
	out = append(out, prefixExprs(r.Dst, dstOff)...)
	if !r.AnyProto {
		out = append(out,
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{r.Proto}})
		if r.PortTo != 0 {
			out = append(out, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2})
			if r.PortFrom == r.PortTo {
				out = append(out, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, r.PortFrom)})
			} else {
				out = append(out, &expr.Range{Op: expr.CmpOpEq, Register: 1,
					FromData: binary.BigEndian.AppendUint16(nil, r.PortFrom), ToData: binary.BigEndian.AppendUint16(nil, r.PortTo)})
			}
		}
	}
	verdict := expr.VerdictAccept
	if r.Action == ActionDeny {
		verdict = expr.VerdictDrop
	}
	return append(out, &expr.Counter{}, &expr.Verdict{Kind: verdict})
}

// prefixExprs matches the address at off of the network header against
// p (nothing for a /0).
func prefixExprs(p netip.Prefix, off uint32) []expr.Any {
	if p.Bits() == 0 {
		return nil
	}
	addr := p.Addr().AsSlice()
	out := []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: uint32(len(addr))}}
	if p.Bits() < len(addr)*8 {
		mask := net.CIDRMask(p.Bits(), len(addr)*8)
		out = append(out, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: uint32(len(addr)), Mask: mask, Xor: make([]byte, len(addr))})
	}
	return append(out, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: addr})
}

// Stats reports the ruleset and the counters (those of replaced tables
// included).
func (n *Nftables) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := Stats{Backend: BackendNftables, Denied: n.denied, Logged: n.logged}
	if n.rs != nil {
		d, l, err := n.readCounters()
		if err != nil {
			n.log.LogAttrs(context.Background(), slog.LevelDebug, "reading firewall counters failed", slog.String(logkey.Error, err.Error()))
		}
		s.Denied, s.Logged = s.Denied+d, s.Logged+l
		s.Enforcing, s.RevisionID, s.Fingerprint, s.Rules = true, n.rs.RevisionID, n.rs.Fingerprint, len(n.rs.Rules)
	}
	return s
}

// foldCountersLocked adds the installed table's counters to the totals
// before the table is replaced or removed.
func (n *Nftables) foldCountersLocked() {
	if n.rs == nil {
		return
	}
	d, l, err := n.readCounters()
	if err != nil {
		n.log.LogAttrs(context.Background(), slog.LevelDebug, "reading firewall counters failed", slog.String(logkey.Error, err.Error()))
		return
	}
	n.denied, n.logged = n.denied+d, n.logged+l
}

// readCounters sums the packets of the mesh chain's deny rules and
// default drop (denied) and of its log rules (logged).
func (n *Nftables) readCounters() (denied, logged uint64, err error) {
	c, err := n.conn()
	if err != nil {
		return 0, 0, err
	}
	t := &nftables.Table{Name: n.opts.Table, Family: nftables.TableFamilyINet}
	rules, err := c.GetRules(t, &nftables.Chain{Name: meshChain, Table: t})
	if err != nil {
		return 0, 0, fmt.Errorf("firewall: listing rules: %w", err)
	}
	for _, r := range rules {
		comment, _ := userdata.GetString(r.UserData, userdata.TypeComment)
		var packets uint64
		for _, e := range r.Exprs {
			if ctr, ok := e.(*expr.Counter); ok {
				packets += ctr.Packets
			}
		}
		switch {
		case comment == defaultComment, strings.HasPrefix(comment, nodeproto.ActionDeny+" "):
			denied += packets
		case strings.HasPrefix(comment, nodeproto.ActionLog+" "):
			logged += packets
		}
	}
	return denied, logged, nil
}
