package firewall_test

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"testing"

	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/tun/netstack"

	"github.com/plexsphere/plexsphere/internal/plexd/firewall"
)

// netstackLab is three gVisor netstacks joined by an in-process router;
// db's TUN is wrapped by the userspace filter, exactly where wireguard-go
// would sit on it. No privileges, nothing on the host.
type netstackLab struct {
	filter *firewall.Userspace
	nets   map[string]*netstack.Net
	addrs  map[string][2]netip.Addr
	inj    *injector
	db     tun.Device // db's device as wireguard-go would see it

	// mu guards replies.
	mu      sync.Mutex
	replies map[uint16]chan bool // ICMP echo id → where the reply was seen (true: in db's stack)
	nextID  uint16
}

func newNetstackLab(t *testing.T) *netstackLab {
	lab := &netstackLab{filter: firewall.NewUserspace(firewall.UserspaceOptions{}), nets: map[string]*netstack.Net{},
		addrs: map[string][2]netip.Addr{"db": {dbV4, dbV6}, "web": {webV4, webV6}, "other": {otherV4, otherV6}}}
	devs := map[netip.Addr]tun.Device{}
	for name, a := range lab.addrs {
		dev, tnet, err := netstack.CreateNetTUN(a[:], nil, 1420)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dev.Close() })
		if name == "db" {
			lab.inj = &injector{Device: dev, lab: lab, in: make(chan []byte, 16)}
			dev = lab.filter.Wrap(lab.inj)
			lab.db = dev
		}
		lab.nets[name] = tnet
		devs[a[0]], devs[a[1]] = dev, dev
	}
	for _, a := range lab.addrs {
		go lab.route(devs[a[0]], devs)
	}
	for _, a := range []netip.Addr{dbV4, dbV6} {
		for _, port := range dbTCPPorts {
			l, err := lab.nets["db"].ListenTCPAddrPort(netip.AddrPortFrom(a, port))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			go serveTCP(l)
		}
		u, err := lab.nets["db"].ListenUDPAddrPort(netip.AddrPortFrom(a, dbUDPPort))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { u.Close() })
		go serveUDPEcho(u)
	}
	for _, name := range []string{"web", "other"} {
		l, err := lab.nets[name].ListenTCPAddrPort(netip.AddrPortFrom(lab.addrs[name][0], clientTCPPort))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go serveTCP(l)
	}
	return lab
}

// route forwards every packet src's stack sends to the device holding its
// destination, until src closes.
func (lab *netstackLab) route(src tun.Device, devs map[netip.Addr]tun.Device) {
	bufs, sizes := [][]byte{make([]byte, 2048)}, []int{0}
	for {
		n, err := src.Read(bufs, sizes, 0)
		if err != nil {
			return
		}
		if n == 0 {
			continue
		}
		p, err := firewall.ParsePacket(bufs[0][:sizes[0]])
		if err != nil {
			continue
		}
		lab.observe(false, p)
		if dst := devs[p.Dst]; dst != nil {
			dst.Write([][]byte{append([]byte(nil), bufs[0][:sizes[0]]...)}, 0)
		}
	}
}

func (l *netstackLab) backend() firewall.Backend { return l.filter }

func (l *netstackLab) dialTCP(ctx context.Context, from string, to netip.AddrPort) (net.Conn, error) {
	return l.nets[from].DialContextTCPAddrPort(ctx, to)
}

func (l *netstackLab) local(from string, to netip.Addr) netip.Addr {
	if to.Is4() {
		return l.addrs[from][0]
	}
	return l.addrs[from][1]
}

func (l *netstackLab) udpEcho(ctx context.Context, from string, to netip.AddrPort) bool {
	c, err := l.nets[from].DialUDPAddrPort(netip.AddrPortFrom(l.local(from, to.Addr()), 0), to)
	if err != nil {
		return false
	}
	return echoOnce(ctx, c)
}

// TestUserspaceCompliance runs the compliance suite through the
// userspace filter.
func TestUserspaceCompliance(t *testing.T) {
	runCompliance(t, newNetstackLab(t))
}

// injector sits under the filter on db's TUN: its Read also returns
// packets the test makes db send, and its Write reports echo replies
// that passed the filter into db's stack.
type injector struct {
	tun.Device
	lab *netstackLab
	in  chan []byte
}

func (d *injector) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	select {
	case p := <-d.in:
		sizes[0] = copy(bufs[0][offset:], p)
		return 1, nil
	default:
	}
	return d.Device.Read(bufs, sizes, offset)
}

func (d *injector) Write(bufs [][]byte, offset int) (int, error) {
	for _, b := range bufs {
		if p, err := firewall.ParsePacket(b[offset:]); err == nil {
			d.lab.observe(true, p)
		}
	}
	return d.Device.Write(bufs, offset)
}

// observe reports an echo reply: inStack when it passed db's filter.
func (l *netstackLab) observe(inStack bool, p firewall.Packet) {
	if !(p.Proto == firewall.ProtoICMP && p.ICMPType == 0 || p.Proto == firewall.ProtoICMPv6 && p.ICMPType == 129) {
		return
	}
	l.mu.Lock()
	ch := l.replies[p.DstPort]
	l.mu.Unlock()
	if ch != nil {
		select {
		case ch <- inStack:
		default:
		}
	}
}

// ping sends raw echo requests (gVisor's ping sockets lose replies): from
// db through the filter's outbound path, from a peer straight into db's
// device as its tunnel would deliver them. A reply counts when db's
// stack answered (seen by the router) or, for db's own ping, when the
// answer passed the filter.
func (l *netstackLab) ping(ctx context.Context, from string, to netip.Addr) bool {
	l.mu.Lock()
	if l.replies == nil {
		l.replies = map[uint16]chan bool{}
	}
	l.nextID++
	id := l.nextID
	ch := make(chan bool, 8)
	l.replies[id] = ch
	l.mu.Unlock()
	defer func() { l.mu.Lock(); delete(l.replies, id); l.mu.Unlock() }()
	pkt := ipPacket(l.local(from, to), to, icmpEcho(to.Is6(), id, 1))
	if from == "db" {
		l.inj.in <- pkt
		// Wake db's router, which may be blocked in the stack's Read, with
		// a datagram of db's own (to the discard port).
		if c, err := l.nets["db"].DialUDPAddrPort(netip.AddrPortFrom(l.local("db", to), 0), netip.AddrPortFrom(to, 9)); err == nil {
			c.Write([]byte{0})
			c.Close()
		}
	} else {
		l.db.Write([][]byte{pkt}, 0)
	}
	for {
		select {
		case inStack := <-ch:
			if inStack == (from == "db") {
				return true
			}
		case <-ctx.Done():
			return false
		}
	}
}

// ipPacket wraps an ICMP message in an IPv4 or IPv6 header (ICMPv6
// checksum filled in).
func ipPacket(src, dst netip.Addr, icmp []byte) []byte {
	if src.Is4() {
		h := make([]byte, 20, 20+len(icmp))
		h[0], h[8], h[9] = 0x45, 64, firewall.ProtoICMP
		binary.BigEndian.PutUint16(h[2:], uint16(20+len(icmp)))
		copy(h[12:], src.AsSlice())
		copy(h[16:], dst.AsSlice())
		binary.BigEndian.PutUint16(h[10:], checksum(h, 0))
		return append(h, icmp...)
	}
	h := make([]byte, 40, 40+len(icmp))
	h[0], h[6], h[7] = 0x60, firewall.ProtoICMPv6, 64
	binary.BigEndian.PutUint16(h[4:], uint16(len(icmp)))
	copy(h[8:], src.AsSlice())
	copy(h[24:], dst.AsSlice())
	// pseudo-header: addresses, length, next header
	var pseudo uint32
	for i := 8; i < 40; i += 2 {
		pseudo += uint32(h[i])<<8 | uint32(h[i+1])
	}
	pseudo += uint32(len(icmp)) + uint32(firewall.ProtoICMPv6)
	binary.BigEndian.PutUint16(icmp[2:], checksum(icmp, pseudo))
	return append(h, icmp...)
}

// checksum is the Internet checksum of b with a starting sum.
func checksum(b []byte, sum uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
