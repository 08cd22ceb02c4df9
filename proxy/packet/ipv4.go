package packet

import (
	"encoding/binary"
	"net/netip"
)

// IPv4 header (RFC 791 §3.1):
//
//	0      version (4 bits), IHL (4 bits, in 32-bit words)
//	2      total length
//	6      flags (reserved, DF, MF), fragment offset (13 bits, in 8 bytes)
//	9      protocol
//	10     header checksum
//	12     source address
//	16     destination address
//	20     options, up to IHL*4
const (
	ipv4SrcOff  = 12
	ipv4DstOff  = 16
	ipv4CsumOff = 10
)

func (p *Parsed) decode4(b []byte) error {
	if len(b) < ipv4HeaderLen {
		return ErrTooShort
	}
	hl := int(b[0]&0x0f) * 4
	tl := int(binary.BigEndian.Uint16(b[2:]))
	if hl < ipv4HeaderLen || hl > tl {
		return ErrHeaderLen
	}
	if tl > len(b) {
		return ErrTruncated
	}
	p.IPVersion = 4
	p.IPProto = IPProto(b[9])
	p.length = tl
	frag := binary.BigEndian.Uint16(b[6:])
	if frag&ipv4DF != 0 {
		p.flags |= flagDontFragment
	}
	if frag&(ipv4MF|ipv4FragOffset) != 0 {
		p.flags |= flagFragment
	}
	if frag&ipv4FragOffset != 0 {
		p.flags |= flagLaterFragment
	}
	if hl > ipv4HeaderLen && sourceRouted4(b[ipv4HeaderLen:hl]) {
		p.flags |= flagRouted
	}
	src := netip.AddrFrom4([4]byte(b[ipv4SrcOff:]))
	dst := netip.AddrFrom4([4]byte(b[ipv4DstOff:]))
	return p.decodeTransport(b, hl, src, dst)
}

// sourceRouted4 reports whether IPv4 options opts hold a loose or strict source
// route with addresses still to visit. The transport pseudo-header of such a
// packet holds the last of them (the final destination), not the header's
// destination (RFC 1122 §4.1.3.6, §4.2.3.9). Malformed options are not the
// view's business: they count as no route.
func sourceRouted4(opts []byte) bool {
	for i := 0; i < len(opts); {
		t := opts[i]
		switch t {
		case ipv4OptEnd:
			return false
		case ipv4OptNop:
			i++
			continue
		}
		if i+1 >= len(opts) {
			return false
		}
		l := int(opts[i+1])
		if l < 2 || i+l > len(opts) {
			return false
		}
		// type, length, pointer (1-based, to the next address), addresses.
		if (t == ipv4OptLSRR || t == ipv4OptSSRR) && l >= 3 && int(opts[i+2])+3 <= l {
			return true
		}
		i += l
	}
	return false
}
