package firewall

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// UserspaceOptions configures a Userspace filter.
type UserspaceOptions struct {
	// ConntrackSize bounds the tracked flows (DefaultConntrackSize).
	ConntrackSize int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Userspace filters packets in wireguard-go's data path: Wrap puts it
// between the device and its TUN (a host TUN or a gVisor netstack).
// Packets the node sends into the mesh (TUN reads) are tracked; packets
// arriving from the mesh (TUN writes) pass when they belong to a tracked
// flow (established or related) or the ruleset allows them, and are
// dropped otherwise. Without a ruleset it tracks and passes everything.
type Userspace struct {
	ct     *conntrack
	rs     atomic.Pointer[Ruleset]
	denied atomic.Uint64
	logged atomic.Uint64
	// setMu serialises Set.
	setMu sync.Mutex
}

// NewUserspace returns a filter that enforces nothing until Set.
func NewUserspace(opts UserspaceOptions) *Userspace {
	if opts.ConntrackSize <= 0 {
		opts.ConntrackSize = DefaultConntrackSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Userspace{ct: newConntrack(opts.ConntrackSize, opts.Now)}
}

// Set enforces p (nil: nothing). Tracked flows survive a new ruleset,
// as they do in the kernel's connection tracker.
func (u *Userspace) Set(_ context.Context, p *nodeproto.NodeStatePolicy) error {
	u.setMu.Lock()
	defer u.setMu.Unlock()
	if same(u.rs.Load(), p) {
		return nil
	}
	if p == nil {
		u.rs.Store(nil)
		return nil
	}
	rs, err := Build(p)
	if err != nil {
		return err
	}
	u.rs.Store(rs)
	return nil
}

// Stats reports the ruleset and the counters.
func (u *Userspace) Stats() Stats {
	s := Stats{Backend: BackendUserspace, Denied: u.denied.Load(), Logged: u.logged.Load()}
	if rs := u.rs.Load(); rs != nil {
		s.Enforcing, s.RevisionID, s.Fingerprint, s.Rules = true, rs.RevisionID, rs.Fingerprint, len(rs.Rules)
	}
	return s
}

// Close stops enforcing.
func (u *Userspace) Close() error {
	u.rs.Store(nil)
	return nil
}

// Outbound tracks a packet the node sends into the mesh.
func (u *Userspace) Outbound(b []byte) {
	p, err := ParsePacket(b)
	if err != nil || p.Fragment {
		return
	}
	if !u.ct.seen(&p) {
		u.ct.track(&p)
	}
}

// Inbound decides a packet arriving from the mesh: true passes it.
func (u *Userspace) Inbound(b []byte) bool {
	rs := u.rs.Load()
	p, err := ParsePacket(b)
	if err != nil {
		if rs == nil {
			return true // not ours to judge
		}
		u.denied.Add(1)
		return false
	}
	if p.Fragment {
		// A later fragment has no ports: it follows its first fragment.
		if rs == nil || u.ct.fragAllowed(&p) {
			return true
		}
		u.denied.Add(1)
		return false
	}
	if u.pass(rs, &p) {
		if p.MoreFragments {
			u.ct.fragPassed(&p)
		}
		return true
	}
	return false
}

// pass decides a packet that carries its transport header.
func (u *Userspace) pass(rs *Ruleset, p *Packet) bool {
	if p.Inner != nil && u.ct.related(p.Inner) {
		return true
	}
	if u.ct.seen(p) {
		return true
	}
	if rs == nil {
		u.ct.track(p)
		return true
	}
	v := rs.Decide(p.flow())
	if !v.Allow {
		u.denied.Add(1)
		return false
	}
	if v.Logged {
		u.logged.Add(1)
	}
	u.ct.track(p)
	return true
}

// Wrap returns t with the filter in its data path.
func (u *Userspace) Wrap(t tun.Device) tun.Device { return &filteredTUN{Device: t, f: u} }

// filteredTUN is a tun.Device whose reads are tracked and whose writes
// are filtered.
type filteredTUN struct {
	tun.Device
	f *Userspace
}

// bufsPool recycles the per-call slices of passed packets.
var bufsPool = sync.Pool{New: func() any { s := make([][]byte, 0, 128); return &s }}

func (d *filteredTUN) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	n, err := d.Device.Read(bufs, sizes, offset)
	for i := range n {
		d.f.Outbound(bufs[i][offset : offset+sizes[i]])
	}
	return n, err
}

// Write passes the allowed packets on and reports every packet written,
// since a dropped packet is handled, not failed.
func (d *filteredTUN) Write(bufs [][]byte, offset int) (int, error) {
	sp := bufsPool.Get().(*[][]byte)
	pass := (*sp)[:0]
	for _, b := range bufs {
		if d.f.Inbound(b[offset:]) {
			pass = append(pass, b)
		}
	}
	var err error
	if len(pass) > 0 {
		_, err = d.Device.Write(pass, offset)
	}
	clear(pass)
	*sp = pass[:0]
	bufsPool.Put(sp)
	if err != nil {
		return 0, err
	}
	return len(bufs), nil
}
