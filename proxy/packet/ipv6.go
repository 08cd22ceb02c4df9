package packet

import (
	"encoding/binary"
	"net/netip"
)

// IPv6 header (RFC 8200 §3):
//
//	0      version (4 bits), traffic class, flow label
//	4      payload length (what follows these 40 bytes)
//	6      next header
//	7      hop limit
//	8      source address
//	24     destination address
//
// Extension headers (§4) start with next header and, except the fragment
// header (always 8 bytes), a length in 8-byte units not counting the first 8.
const (
	ipv6SrcOff = 8
	ipv6DstOff = 24

	ipv6FragOffset = 0xfff8 // fragment offset (in 8 bytes) in the fragment header's word
	ipv6FragM      = 0x0001 // more fragments
)

func (p *Parsed) decode6(b []byte) error {
	if len(b) < ipv6HeaderLen {
		return ErrTooShort
	}
	tl := ipv6HeaderLen + int(binary.BigEndian.Uint16(b[4:]))
	if tl > len(b) {
		return ErrTruncated
	}
	p.IPVersion = 6
	p.length = tl
	p.flags |= flagDontFragment
	src := netip.AddrFrom16([16]byte(b[ipv6SrcOff:]))
	dst := netip.AddrFrom16([16]byte(b[ipv6DstOff:]))

	next := IPProto(b[6])
	off := ipv6HeaderLen
	for n := 0; ; n++ {
		switch next {
		case protoHopByHop, protoRouting, protoDestOpts, protoFragment:
		default:
			p.IPProto = next
			return p.decodeTransport(b, off, src, dst)
		}
		if n == MaxExtHeaders {
			return ErrExtHeaderCount
		}
		// Hop-by-hop options may only come first (§4.3).
		if off+8 > tl || next == protoHopByHop && off != ipv6HeaderLen {
			return ErrExtHeader
		}
		h := b[off:tl]
		l := 8
		if next != protoFragment {
			l = (int(h[1]) + 1) * 8
			if off+l > tl {
				return ErrExtHeader
			}
		}
		switch next {
		case protoRouting:
			// Segments left: the pseudo-header then holds the final
			// destination, not the header's (§8.1).
			if h[3] != 0 {
				p.flags |= flagRouted
			}
		case protoFragment:
			fo := binary.BigEndian.Uint16(h[2:])
			// Neither offset nor M: an atomic fragment, a whole packet (RFC 6946).
			if fo&(ipv6FragOffset|ipv6FragM) != 0 {
				p.flags |= flagFragment
			}
			if fo&ipv6FragOffset != 0 {
				// The rest is the middle of a datagram: no transport header.
				p.flags |= flagLaterFragment
				p.IPProto = IPProto(h[0])
				return p.decodeTransport(b, off+l, src, dst)
			}
		}
		next = IPProto(h[0])
		off += l
	}
}
