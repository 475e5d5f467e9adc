package firewall

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// maxExtHeaders bounds the IPv6 extension headers ParsePacket walks.
const maxExtHeaders = 8

// Packet is what the filter reads from an IP packet's headers.
type Packet struct {
	Proto            uint8
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	// Fragment is true for a non-first fragment (no transport header);
	// MoreFragments for every fragment but the last; FragID is the
	// datagram's identification (IPv4 16 bits, IPv6 32 bits).
	Fragment      bool
	MoreFragments bool
	FragID        uint32
	// TCPFlags are the TCP header's flag bits (FIN 0x01, SYN 0x02, RST 0x04).
	TCPFlags uint8
	// ICMPType is the ICMP or ICMPv6 type.
	ICMPType uint8
	// Inner is the packet quoted by an ICMP error (nil otherwise); its
	// Inner is always nil.
	Inner *Packet
}

// TCP flag bits.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
)

var (
	errShort   = errors.New("firewall: packet too short")
	errVersion = errors.New("firewall: not an IPv4 or IPv6 packet")
	errHeader  = errors.New("firewall: malformed IP header")
)

// ParsePacket reads the IPv4 or IPv6 header of b and, where present, the
// TCP, UDP, ICMP or ICMPv6 header after it. It reads only within b and
// walks at most maxExtHeaders IPv6 extension headers; an ICMP error's
// quoted packet is parsed once (never recursively).
func ParsePacket(b []byte) (Packet, error) {
	return parse(b, true)
}

func parse(b []byte, outer bool) (Packet, error) {
	var p Packet
	if len(b) < 1 {
		return p, errShort
	}
	var l4 []byte
	var err error
	switch b[0] >> 4 {
	case 4:
		l4, err = p.parseV4(b, outer)
	case 6:
		l4, err = p.parseV6(b, outer)
	default:
		return p, errVersion
	}
	if err != nil || p.Fragment {
		return p, err
	}
	return p, p.parseL4(l4, outer)
}

// parseV4 reads an IPv4 header and returns the payload.
func (p *Packet) parseV4(b []byte, outer bool) ([]byte, error) {
	if len(b) < 20 {
		return nil, errShort
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 || len(b) < ihl {
		return nil, errHeader
	}
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if total < ihl {
		return nil, errHeader
	}
	if total < len(b) {
		b = b[:total]
	} else if outer && total > len(b) {
		return nil, errShort // a quoted packet may be truncated, a real one not
	}
	p.Proto = b[9]
	p.Src = netip.AddrFrom4([4]byte(b[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(b[16:20]))
	frag := binary.BigEndian.Uint16(b[6:8])
	p.Fragment, p.MoreFragments = frag&0x1fff != 0, frag&0x2000 != 0
	p.FragID = uint32(binary.BigEndian.Uint16(b[4:6]))
	return b[ihl:], nil
}

// parseV6 reads an IPv6 header and its extension headers and returns the
// upper-layer payload.
func (p *Packet) parseV6(b []byte, outer bool) ([]byte, error) {
	if len(b) < 40 {
		return nil, errShort
	}
	plen := int(binary.BigEndian.Uint16(b[4:6]))
	if 40+plen < len(b) {
		b = b[:40+plen]
	} else if outer && 40+plen > len(b) {
		return nil, errShort
	}
	p.Src = netip.AddrFrom16([16]byte(b[8:24]))
	p.Dst = netip.AddrFrom16([16]byte(b[24:40]))
	next, rest := b[6], b[40:]
	for range maxExtHeaders {
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(rest) < 8 {
				return nil, errShort
			}
			n := (int(rest[1]) + 1) * 8
			if len(rest) < n {
				return nil, errShort
			}
			next, rest = rest[0], rest[n:]
		case 44: // fragment
			if len(rest) < 8 {
				return nil, errShort
			}
			off := binary.BigEndian.Uint16(rest[2:4])
			p.Fragment, p.MoreFragments = off&0xfff8 != 0, off&1 != 0
			p.FragID = binary.BigEndian.Uint32(rest[4:8])
			next, rest = rest[0], rest[8:]
		default:
			p.Proto = next
			return rest, nil
		}
	}
	return nil, errHeader
}

// parseL4 reads the transport header. A quoted packet carries only the
// first 8 bytes of it, which hold the ports and ICMP identifiers.
func (p *Packet) parseL4(b []byte, outer bool) error {
	switch p.Proto {
	case ProtoTCP:
		need := 20
		if !outer {
			need = 8
		}
		if len(b) < need {
			return errShort
		}
		p.SrcPort, p.DstPort = binary.BigEndian.Uint16(b[0:2]), binary.BigEndian.Uint16(b[2:4])
		if outer {
			p.TCPFlags = b[13]
		}
	case ProtoUDP:
		if len(b) < 8 {
			return errShort
		}
		p.SrcPort, p.DstPort = binary.BigEndian.Uint16(b[0:2]), binary.BigEndian.Uint16(b[2:4])
	case ProtoICMP, ProtoICMPv6:
		if len(b) < 8 {
			return errShort
		}
		p.ICMPType = b[0]
		id := binary.BigEndian.Uint16(b[4:6])
		switch icmpKind(p.Proto, p.ICMPType) {
		case icmpEchoRequest:
			p.SrcPort = id
		case icmpEchoReply:
			p.DstPort = id
		case icmpError:
			if outer {
				in, err := parse(b[8:], false)
				if err == nil { // parse(…, false) never parses a further Inner
					p.Inner = &in
				}
			}
		}
	}
	return nil
}

// ICMP message kinds the connection tracker tells apart.
const (
	icmpOther = iota
	icmpEchoRequest
	icmpEchoReply
	icmpError
)

func icmpKind(proto, typ uint8) int {
	if proto == ProtoICMP {
		switch typ {
		case 8:
			return icmpEchoRequest
		case 0:
			return icmpEchoReply
		case 3, 4, 5, 11, 12:
			return icmpError
		}
		return icmpOther
	}
	switch typ {
	case 128:
		return icmpEchoRequest
	case 129:
		return icmpEchoReply
	case 1, 2, 3, 4:
		return icmpError
	}
	return icmpOther
}

// flow is the decision input of p.
func (p *Packet) flow() Flow {
	return Flow{Proto: p.Proto, Src: p.Src, Dst: p.Dst, DstPort: p.l4DstPort(), NoPorts: p.Fragment}
}

// l4DstPort is the TCP/UDP destination port rules match (0 otherwise).
func (p *Packet) l4DstPort() uint16 {
	if p.Proto == ProtoTCP || p.Proto == ProtoUDP {
		return p.DstPort
	}
	return 0
}
