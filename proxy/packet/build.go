package packet

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// Header describes a packet for Build. The zero value of a field means its
// usual default.
type Header struct {
	// Src and Dst are the addresses, of one family, and the TCP or UDP ports
	// (ignored for other protocols).
	Src, Dst netip.AddrPort
	// Proto is the transport: TCP, UDP, ICMPv4 (IPv4 only) or ICMPv6 (IPv6
	// only) get a header; for any other protocol the payload follows the IP
	// header as it is.
	Proto IPProto
	// TTL is the IPv4 TTL or IPv6 hop limit; 0 means 64.
	TTL uint8
	// IPID is the IPv4 identification.
	IPID uint16
	// DontFragment sets the IPv4 DF bit.
	DontFragment bool
	// IPv4Options are copied after the IPv4 header: a multiple of 4 bytes, at
	// most 40. A source route in them is not taken into account by the
	// transport checksum, which covers Dst.
	IPv4Options []byte
	// TCPFlags, TCPSeq and TCPAck fill the TCP header; its window is 65535.
	TCPFlags       TCPFlag
	TCPSeq, TCPAck uint32
	// TCPOptions are copied after the TCP header: a multiple of 4 bytes, at
	// most 40.
	TCPOptions []byte
	// ICMPType and ICMPCode fill the ICMP header, and ICMPID and ICMPSeq its
	// bytes 4–7 (an echo's identifier and sequence number).
	ICMPType, ICMPCode uint8
	ICMPID, ICMPSeq    uint16
}

// Build returns a new packet made of h and payload, with correct checksums. It
// is the allocating convenience for tests and tools; the data path never
// builds packets. It fails if the fields do not make a valid packet.
func Build(h Header, payload []byte) ([]byte, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	ipl, tl := h.headerLens()
	n := ipl + tl + len(payload)
	if n > 0xffff+ipv6HeaderLen || h.Src.Addr().Is4() && n > 0xffff || h.Proto == ProtoUDP && tl+len(payload) > 0xffff {
		return nil, errors.New("packet: build: packet too long")
	}
	b := make([]byte, n)
	if h.Src.Addr().Is4() {
		h.putIPv4(b, ipl)
	} else {
		h.putIPv6(b)
	}
	t := b[ipl:]
	h.putTransport(t, tl, len(payload))
	copy(t[tl:], payload)

	var p Parsed
	if err := p.Decode(b); err != nil {
		return nil, err
	}
	fillChecksums(b, &p, false)
	return b, nil
}

// check reports fields that do not make a valid packet.
func (h *Header) check() error {
	src, dst := h.Src.Addr(), h.Dst.Addr()
	v4 := src.Is4()
	switch {
	case !src.IsValid() || !dst.IsValid() || src.Is4() != dst.Is4():
		return errors.New("packet: build: need a source and destination of one family")
	case len(h.IPv4Options) > 0 && !v4:
		return errors.New("packet: build: IPv4 options in an IPv6 packet")
	case len(h.IPv4Options)%4 != 0 || len(h.IPv4Options) > 40:
		return errors.New("packet: build: IPv4 options not a multiple of 4 bytes up to 40")
	case len(h.TCPOptions)%4 != 0 || len(h.TCPOptions) > 40:
		return errors.New("packet: build: TCP options not a multiple of 4 bytes up to 40")
	case h.Proto == ProtoICMPv4 && !v4, h.Proto == ProtoICMPv6 && v4:
		return errors.New("packet: build: ICMP of the other IP family")
	}
	return nil
}

// headerLens returns the lengths of the IP header (options included) and of
// the transport header (0 for a protocol Build writes no header for).
func (h *Header) headerLens() (ipl, tl int) {
	switch h.Proto {
	case ProtoTCP:
		tl = tcpHeaderLen + len(h.TCPOptions)
	case ProtoUDP:
		tl = udpHeaderLen
	case ProtoICMPv4, ProtoICMPv6:
		tl = icmpHeaderLen
	}
	ipl = ipv6HeaderLen
	if h.Src.Addr().Is4() {
		ipl = ipv4HeaderLen + len(h.IPv4Options)
	}
	return ipl, tl
}

// ttl is the TTL or hop limit to write.
func (h *Header) ttl() uint8 {
	if h.TTL == 0 {
		return defaultTTL
	}
	return h.TTL
}

// putIPv4 writes the IPv4 header, ipl bytes with options, at the start of b,
// which holds the whole packet; the checksum is left 0.
func (h *Header) putIPv4(b []byte, ipl int) {
	b[0] = 0x40 | byte(ipl/4)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	binary.BigEndian.PutUint16(b[4:], h.IPID)
	if h.DontFragment {
		binary.BigEndian.PutUint16(b[6:], ipv4DF)
	}
	b[8] = h.ttl()
	b[9] = byte(h.Proto)
	s, d := h.Src.Addr().As4(), h.Dst.Addr().As4()
	copy(b[ipv4SrcOff:], s[:])
	copy(b[ipv4DstOff:], d[:])
	copy(b[ipv4HeaderLen:], h.IPv4Options)
}

// putIPv6 writes the IPv6 header at the start of b, which holds the whole
// packet.
func (h *Header) putIPv6(b []byte) {
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(b)-ipv6HeaderLen))
	b[6] = byte(h.Proto)
	b[7] = h.ttl()
	s, d := h.Src.Addr().As16(), h.Dst.Addr().As16()
	copy(b[ipv6SrcOff:], s[:])
	copy(b[ipv6DstOff:], d[:])
}

// putTransport writes the transport header, tl bytes with options, at the
// start of t, for a payload of payloadLen bytes; checksums are left 0.
func (h *Header) putTransport(t []byte, tl, payloadLen int) {
	switch h.Proto {
	case ProtoTCP:
		binary.BigEndian.PutUint16(t[0:], h.Src.Port())
		binary.BigEndian.PutUint16(t[2:], h.Dst.Port())
		binary.BigEndian.PutUint32(t[4:], h.TCPSeq)
		binary.BigEndian.PutUint32(t[8:], h.TCPAck)
		t[12] = byte(tl/4) << 4
		t[13] = byte(h.TCPFlags)
		binary.BigEndian.PutUint16(t[14:], 0xffff) // window
		copy(t[tcpHeaderLen:], h.TCPOptions)
	case ProtoUDP:
		binary.BigEndian.PutUint16(t[0:], h.Src.Port())
		binary.BigEndian.PutUint16(t[2:], h.Dst.Port())
		binary.BigEndian.PutUint16(t[4:], uint16(tl+payloadLen))
	case ProtoICMPv4, ProtoICMPv6:
		t[0], t[1] = h.ICMPType, h.ICMPCode
		binary.BigEndian.PutUint16(t[4:], h.ICMPID)
		binary.BigEndian.PutUint16(t[6:], h.ICMPSeq)
	}
}
