package packet

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
)

// Reasons the ICMP generators refuse to answer a packet; dst is then returned
// unchanged.
var (
	ErrMTU    = errors.New("packet: MTU out of range")
	ErrNoICMP = errors.New("packet: packet must not be answered with an ICMP error")
)

// AppendICMPFragNeeded appends to dst an ICMPv4 "fragmentation needed" error
// (type 3, code 4, RFC 1191) answering orig, an IPv4 packet too big for a link
// of the given MTU, and returns the extended buffer. The error comes from
// orig's destination (the proxy speaks for the virtual host) and goes to orig's
// source. It quotes as much of orig as fits in 576 bytes (RFC 1812 §4.3.2.3).
//
// mtu must lie in [IPv4MinMTU, 65535], else ErrMTU. It returns ErrNoICMP for
// what must not be answered with an ICMP error (RFC 1812 §4.3.2.7): an ICMP
// error, a later fragment, a packet to a multicast or broadcast address, or
// from an address that names no single host. Routers send this error only for
// packets with DF set (Parsed.DontFragment); the caller decides what to do
// with the others. It does not allocate if dst has room for the answer.
func AppendICMPFragNeeded(dst, orig []byte, mtu int) ([]byte, error) {
	var p Parsed
	if err := p.Decode(orig); err != nil {
		return dst, err
	}
	if p.IPVersion != 4 {
		return dst, ErrFamily
	}
	if mtu < IPv4MinMTU || mtu > 0xffff {
		return dst, ErrMTU
	}
	if !answerable4(&p) {
		return dst, ErrNoICMP
	}
	q := min(p.length, icmpv4ErrorMax-ipv4HeaderLen-icmpHeaderLen)
	n := ipv4HeaderLen + icmpHeaderLen + q
	dst, b := grow(dst, n)

	b[0] = 0x45 // version 4, 20-byte header
	b[1] = 0    // traffic class
	binary.BigEndian.PutUint16(b[2:], uint16(n))
	clear(b[4:8]) // identification, flags, fragment offset
	b[8] = defaultTTL
	b[9] = byte(ProtoICMPv4)
	clear(b[10:12])
	copy(b[ipv4SrcOff:], orig[ipv4DstOff:ipv4DstOff+4])
	copy(b[ipv4DstOff:], orig[ipv4SrcOff:ipv4SrcOff+4])
	binary.BigEndian.PutUint16(b[ipv4CsumOff:], ^fold(sum(0, b[:ipv4HeaderLen])))

	m := b[ipv4HeaderLen:]
	m[0], m[1] = ICMPv4DestUnreachable, ICMPv4FragNeeded
	clear(m[2:6]) // checksum, unused
	binary.BigEndian.PutUint16(m[6:], uint16(mtu))
	copy(m[icmpHeaderLen:], orig[:q])
	binary.BigEndian.PutUint16(m[2:], ^fold(sum(0, m)))
	return dst, nil
}

// AppendICMPv6PacketTooBig appends to dst an ICMPv6 "packet too big" error
// (type 2, RFC 4443 §3.2) answering orig, an IPv6 packet too big for a link of
// the given MTU, and returns the extended buffer. The error comes from orig's
// destination and goes to orig's source. It quotes as much of orig as fits in
// 1280 bytes (RFC 4443 §2.4(c)).
//
// mtu must lie in [IPv6MinMTU, 2^32-1], else ErrMTU. It returns ErrNoICMP for
// an ICMPv6 error, a packet to a multicast address (which has no unicast
// address to answer from) or from the unspecified or a multicast address
// (RFC 4443 §2.4(e)). It does not allocate if dst has room for the answer.
func AppendICMPv6PacketTooBig(dst, orig []byte, mtu int) ([]byte, error) {
	var p Parsed
	if err := p.Decode(orig); err != nil {
		return dst, err
	}
	if p.IPVersion != 6 {
		return dst, ErrFamily
	}
	if mtu < IPv6MinMTU || uint64(mtu) > 0xffffffff {
		return dst, ErrMTU
	}
	if !answerable6(&p) {
		return dst, ErrNoICMP
	}
	q := min(p.length, icmpv6ErrorMax-ipv6HeaderLen-icmpHeaderLen)
	n := ipv6HeaderLen + icmpHeaderLen + q
	dst, b := grow(dst, n)

	binary.BigEndian.PutUint32(b[0:], 6<<28) // version, traffic class, flow label
	binary.BigEndian.PutUint16(b[4:], uint16(n-ipv6HeaderLen))
	b[6] = byte(ProtoICMPv6)
	b[7] = defaultTTL
	copy(b[ipv6SrcOff:], orig[ipv6DstOff:ipv6DstOff+16])
	copy(b[ipv6DstOff:], orig[ipv6SrcOff:ipv6SrcOff+16])

	m := b[ipv6HeaderLen:]
	m[0], m[1] = ICMPv6PacketTooBig, 0
	clear(m[2:4])
	binary.BigEndian.PutUint32(m[4:], uint32(mtu))
	copy(m[icmpHeaderLen:], orig[:q])
	acc := pseudoSum(p.Dst.Addr(), p.Src.Addr(), ProtoICMPv6, len(m))
	binary.BigEndian.PutUint16(m[2:], ^fold(sum(acc, m)))
	return dst, nil
}

// grow extends dst by n bytes and returns it with the new bytes, whose content
// is undefined. It allocates only if dst lacks the capacity.
func grow(dst []byte, n int) (all, tail []byte) {
	l := len(dst)
	dst = slices.Grow(dst, n)[:l+n]
	return dst, dst[l:]
}

// answerable4 reports whether RFC 1812 §4.3.2.7 lets an ICMP error answer p.
func answerable4(p *Parsed) bool {
	if p.IsNonFirstFragment() {
		return false
	}
	if p.IPProto == ProtoICMPv4 {
		switch p.ICMPType {
		case 3, 4, 5, 11, 12: // unreachable, source quench, redirect, time exceeded, parameter problem
			return false
		}
	}
	src, dst := p.Src.Addr(), p.Dst.Addr()
	return singleHost(src) && !src.IsLoopback() && singleHost(dst)
}

// answerable6 reports whether RFC 4443 §2.4(e) lets an ICMPv6 error answer p
// from its destination address.
func answerable6(p *Parsed) bool {
	if p.IPProto == ProtoICMPv6 && !p.IsNonFirstFragment() && p.ICMPType < 128 {
		return false // an error message
	}
	return singleHost(p.Src.Addr()) && singleHost(p.Dst.Addr())
}

var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// singleHost reports whether a can name one host: not unspecified, multicast
// or the limited broadcast address.
func singleHost(a netip.Addr) bool {
	return !a.IsUnspecified() && !a.IsMulticast() && a != limitedBroadcast
}
