package compile

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"slices"
)

// intersect returns the prefix both a and b contain, if any: two
// prefixes either nest (the longer one is the intersection) or are
// disjoint.
func intersect(a, b netip.Prefix) (netip.Prefix, bool) {
	if a.Addr().Is4() != b.Addr().Is4() {
		return netip.Prefix{}, false
	}
	if a.Bits() <= b.Bits() {
		return b, a.Contains(b.Addr())
	}
	return a, b.Contains(a.Addr())
}

// aggregate returns the fewest prefixes covering exactly the given
// prefixes: IPv4 host addresses are merged into aligned blocks of
// consecutive addresses; IPv6 hosts and routes are kept as they are (a
// prefix already inside another one is dropped).
func aggregate(in []netip.Prefix) []netip.Prefix {
	var v4 []uint32
	var rest []netip.Prefix
	for _, p := range in {
		if p.Addr().Is4() && p.Bits() == 32 {
			v4 = append(v4, binary.BigEndian.Uint32(p.Addr().AsSlice()))
			continue
		}
		rest = append(rest, p)
	}
	slices.Sort(v4)
	v4 = slices.Compact(v4)
	out := make([]netip.Prefix, 0, len(rest)+len(v4)/4+1)
	for i := 0; i < len(v4); {
		j := i
		for j+1 < len(v4) && v4[j+1] == v4[j]+1 {
			j++
		}
		out = appendRange(out, uint64(v4[i]), uint64(v4[j]))
		i = j + 1
	}
	out = append(out, rest...)
	slices.SortFunc(out, comparePrefix)
	return dropNested(out)
}

// appendRange covers lo..hi (IPv4, inclusive) with aligned blocks.
func appendRange(out []netip.Prefix, lo, hi uint64) []netip.Prefix {
	for lo <= hi {
		size := uint64(1)
		if lo != 0 {
			size = uint64(1) << bits.TrailingZeros64(lo)
		} else {
			size = uint64(1) << 32
		}
		for lo+size-1 > hi {
			size >>= 1
		}
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(lo))
		out = append(out, netip.PrefixFrom(netip.AddrFrom4(b), 32-bits.TrailingZeros64(size)))
		lo += size
	}
	return out
}

// comparePrefix orders IPv4 before IPv6, then by address, shorter first.
func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// dropNested removes prefixes contained in an earlier one of the sorted list.
func dropNested(sorted []netip.Prefix) []netip.Prefix {
	out := sorted[:0]
	for _, p := range sorted {
		if n := len(out); n > 0 && out[n-1].Bits() <= p.Bits() && out[n-1].Contains(p.Addr()) {
			continue
		}
		out = append(out, p)
	}
	return out
}
