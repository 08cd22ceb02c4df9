package packet

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// Reasons SetSrcAddr and SetDstAddr refuse a rewrite; b is then unchanged.
var (
	ErrFamily = errors.New("packet: address family differs from the packet's")
	ErrBuffer = errors.New("packet: buffer does not hold the decoded packet")
)

// SetSrcAddr overwrites the source address of b, the packet p was decoded from,
// with a, and updates the checksums incrementally: the IPv4 header checksum and
// the TCP, UDP or ICMPv6 checksum (their pseudo-header holds the source). A UDP
// checksum of 0 stays 0; a later fragment has only its IP header changed. A
// partial transport checksum ([Parsed.SetPartialChecksum]) is updated as the
// pseudo-header sum it holds. p.Src takes the new address. a must be of the
// packet's family (an IPv4-mapped IPv6 address is IPv6); a zone is dropped. It
// does not allocate.
func (p *Parsed) SetSrcAddr(b []byte, a netip.Addr) error {
	off := ipv4SrcOff
	if p.IPVersion == 6 {
		off = ipv6SrcOff
	}
	if err := p.setAddr(b, a, off, true); err != nil {
		return err
	}
	p.Src = netip.AddrPortFrom(a.WithZone(""), p.Src.Port())
	return nil
}

// SetDstAddr is SetSrcAddr for the destination address. In a source-routed
// packet (an IPv4 source-route option or an IPv6 routing header with segments
// left) the pseudo-header holds the final destination, not the one rewritten
// here, so only the IP header changes.
func (p *Parsed) SetDstAddr(b []byte, a netip.Addr) error {
	off := ipv4DstOff
	if p.IPVersion == 6 {
		off = ipv6DstOff
	}
	if err := p.setAddr(b, a, off, p.flags&flagRouted == 0); err != nil {
		return err
	}
	p.Dst = netip.AddrPortFrom(a.WithZone(""), p.Dst.Port())
	return nil
}

// setAddr writes a at b[off:] and updates the IPv4 header checksum and, if
// pseudo, the transport checksum whose pseudo-header holds the address.
func (p *Parsed) setAddr(b []byte, a netip.Addr, off int, pseudo bool) error {
	if p.IPVersion == 0 || len(b) < p.length || b[0]>>4 != p.IPVersion {
		return ErrBuffer
	}
	a16 := a.As16()
	var n []byte
	switch {
	case p.IPVersion == 4 && a.Is4():
		n = a16[12:]
	case p.IPVersion == 6 && a.Is6():
		n = a16[:]
	default:
		return ErrFamily
	}
	old := b[off : off+len(n)]
	if p.IPVersion == 4 {
		c := binary.BigEndian.Uint16(b[ipv4CsumOff:])
		binary.BigEndian.PutUint16(b[ipv4CsumOff:], update(c, old, n))
	}
	if pseudo && p.csumofs != 0 {
		c := binary.BigEndian.Uint16(b[p.csumofs:])
		switch {
		case p.flags&flagPartial != 0:
			// A partial sum S, not a checksum: S' = S + ~m + m', which
			// update computes on complemented values. No "0 stays 0" rule:
			// the field holds no checksum yet.
			c = ^update(^c, old, n)
		case p.IPProto != ProtoUDP:
			c = update(c, old, n)
		case c != 0: // UDP: 0 is "no checksum" and stays so
			if c = update(c, old, n); c == 0 {
				c = 0xffff
			}
		}
		binary.BigEndian.PutUint16(b[p.csumofs:], c)
	}
	copy(old, n)
	return nil
}
