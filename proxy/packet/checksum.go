package packet

import (
	"encoding/binary"
	"net/netip"
)

// The Internet checksum (RFC 1071) is the one's complement of the one's
// complement sum of 16-bit words. Sums are kept in a uint64 and folded at the
// end: adding 32-bit words and folding gives the same 16-bit sum.

// sum adds the big-endian 16-bit words of b to acc; an odd last byte is padded
// with zero.
func sum(acc uint64, b []byte) uint64 {
	for len(b) >= 4 {
		acc += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		acc += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	return acc
}

// fold reduces acc to 16 bits with end-around carry. It returns 0 only for
// acc == 0, so a sum of anything non-zero folds to 1..0xffff.
func fold(acc uint64) uint16 {
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return uint16(acc)
}

// update returns checksum c after the bytes old, in the data it covers, are
// replaced by new (the same even length): RFC 1624 eqn. 3,
// HC' = ~(~HC + ~m + m'), which unlike eqn. 2 never turns a valid checksum into
// the other representation of zero. The one change it can make to the form
// of a checksum is to turn 0xffff, which no sender computes for non-zero data,
// into the equivalent 0x0000.
func update(c uint16, old, new []byte) uint16 {
	acc := uint64(^c)
	for i := 0; i+1 < len(old); i += 2 {
		acc += uint64(^binary.BigEndian.Uint16(old[i:]))
		acc += uint64(binary.BigEndian.Uint16(new[i:]))
	}
	return ^fold(acc)
}

// transportChecksum returns the checksum to store for a transport segment
// whose words (checksum field zero, or for a partial checksum the
// pseudo-header sum) add up with acc: a UDP result of 0 is sent as 0xffff,
// since 0 means "no checksum" (RFC 768).
func transportChecksum(acc uint64, seg []byte, udp bool) uint16 {
	c := ^fold(sum(acc, seg))
	if c == 0 && udp {
		c = 0xffff
	}
	return c
}

// pseudoSum returns the sum of the transport pseudo-header: RFC 768 and RFC 9293
// §3.1 for IPv4, RFC 8200 §8.1 for IPv6. length is the upper-layer length.
func pseudoSum(src, dst netip.Addr, proto IPProto, length int) uint64 {
	var acc uint64
	if src.Is4() {
		s, d := src.As4(), dst.As4()
		acc = sum(sum(0, s[:]), d[:])
	} else {
		s, d := src.As16(), dst.As16()
		acc = sum(sum(0, s[:]), d[:])
	}
	return acc + uint64(proto) + uint64(length)
}
