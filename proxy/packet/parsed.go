package packet

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// Reasons Decode rejects a packet. Decode returns one of these as it is, so that
// callers can count drops by reason with ==.
var (
	ErrTooShort       = errors.New("packet: too short for an IP header")
	ErrVersion        = errors.New("packet: IP version is neither 4 nor 6")
	ErrHeaderLen      = errors.New("packet: bad IPv4 header or total length")
	ErrTruncated      = errors.New("packet: IP length exceeds the buffer")
	ErrExtHeader      = errors.New("packet: malformed IPv6 extension header")
	ErrExtHeaderCount = errors.New("packet: too many IPv6 extension headers")
	ErrTransport      = errors.New("packet: truncated transport header")
	ErrTCPDataOffset  = errors.New("packet: bad TCP data offset")
	ErrUDPLen         = errors.New("packet: bad UDP length")
)

// Parsed is a decoded view of one IP packet. The caller owns it and reuses it:
// Decode overwrites every field. It holds no reference to the bytes it was
// decoded from; the methods that need them take them again.
type Parsed struct {
	// IPVersion is 4 or 6, or 0 if the last Decode failed.
	IPVersion uint8
	// IPProto is the transport protocol. Only TCP, UDP, ICMPv4 (in IPv4) and
	// ICMPv6 (in IPv6) are decoded further. In a later fragment of an IPv6
	// datagram it is the fragment header's Next Header.
	IPProto IPProto
	// Src and Dst are the addresses, with the TCP or UDP ports; the port is 0
	// for other protocols and for later fragments.
	Src, Dst netip.AddrPort
	// TCPFlags holds the TCP flags; zero unless IPProto is TCP.
	TCPFlags TCPFlag
	// ICMPType and ICMPCode are set for ICMPv4 and ICMPv6 packets that carry
	// the ICMP header (not later fragments).
	ICMPType, ICMPCode uint8

	length  int   // IP length: header, extension headers and payload
	subofs  int   // offset of the transport header (of the fragment data in a later fragment)
	dataofs int   // offset of the transport payload
	end     int   // end of the transport payload (the UDP length may stop it before length)
	csumofs int   // offset of a checksum whose pseudo-header holds the addresses; 0 if none
	flags   uint8 // flag* bits
}

const (
	flagFragment      = 1 << iota // part of a fragmented datagram
	flagLaterFragment             // a fragment other than the first
	flagDontFragment              // IPv4 DF set, or IPv6
	flagRouted                    // source-routed: the pseudo-header holds a later destination
	flagPartial                   // the transport checksum field holds a partial sum (SetPartialChecksum)
)

// Decode parses the IP packet at the start of b into p. Bytes after the
// length the IP header gives are ignored. On error p is reset to its zero value
// and the error is one of the Err* sentinels above. Decode does not allocate and
// does not check checksums (see VerifyChecksums).
func (p *Parsed) Decode(b []byte) error {
	*p = Parsed{}
	if len(b) == 0 {
		return ErrTooShort
	}
	var err error
	switch b[0] >> 4 {
	case 4:
		err = p.decode4(b)
	case 6:
		err = p.decode6(b)
	default:
		return ErrVersion
	}
	if err != nil {
		*p = Parsed{}
	}
	return err
}

// decodeTransport decodes the transport header at b[off:p.length], once the IP
// layer has set IPVersion, IPProto, length and flags, and sets Src and Dst.
func (p *Parsed) decodeTransport(b []byte, off int, src, dst netip.Addr) error {
	p.subofs, p.dataofs, p.end = off, off, p.length
	var sport, dport uint16
	if p.flags&flagLaterFragment == 0 {
		t := b[off:p.length]
		switch {
		case p.IPProto == ProtoTCP:
			if len(t) < tcpHeaderLen {
				return ErrTransport
			}
			hl := int(t[12]>>4) * 4
			if hl < tcpHeaderLen || hl > len(t) {
				return ErrTCPDataOffset
			}
			sport, dport = binary.BigEndian.Uint16(t[0:]), binary.BigEndian.Uint16(t[2:])
			p.TCPFlags = TCPFlag(t[13])
			p.dataofs = off + hl
			p.csumofs = off + 16
		case p.IPProto == ProtoUDP:
			if len(t) < udpHeaderLen {
				return ErrTransport
			}
			// The UDP length covers the whole datagram, so in a first
			// fragment it may exceed what is here.
			ul := int(binary.BigEndian.Uint16(t[4:]))
			if ul < udpHeaderLen {
				return ErrUDPLen
			}
			if p.flags&flagFragment == 0 {
				if ul > len(t) {
					return ErrUDPLen
				}
				p.end = off + ul
			}
			sport, dport = binary.BigEndian.Uint16(t[0:]), binary.BigEndian.Uint16(t[2:])
			p.dataofs = off + udpHeaderLen
			p.csumofs = off + 6
		case p.IPProto == ProtoICMPv4 && p.IPVersion == 4,
			p.IPProto == ProtoICMPv6 && p.IPVersion == 6:
			if len(t) < icmpHeaderLen {
				return ErrTransport
			}
			p.ICMPType, p.ICMPCode = t[0], t[1]
			p.dataofs = off + icmpHeaderLen
			if p.IPVersion == 6 {
				p.csumofs = off + 2
			}
		}
	}
	p.Src = netip.AddrPortFrom(src, sport)
	p.Dst = netip.AddrPortFrom(dst, dport)
	return nil
}

// Length returns the packet's length as its IP header gives it: header,
// extension headers and payload, in bytes.
func (p *Parsed) Length() int { return p.length }

// Payload returns the transport payload of b, the packet p was decoded from:
// what follows the TCP, UDP or ICMP header, or the IP payload for other
// protocols and later fragments. It returns nil if b is shorter than the packet.
func (p *Parsed) Payload(b []byte) []byte {
	if p.IPVersion == 0 || len(b) < p.length {
		return nil
	}
	return b[p.dataofs:p.end]
}

// IsFragment reports whether the packet is a fragment of a larger datagram
// (first or not). IPv6 atomic fragments (offset 0, no more fragments) are not.
func (p *Parsed) IsFragment() bool { return p.flags&flagFragment != 0 }

// IsNonFirstFragment reports whether the packet is a fragment other than the
// first: it has no transport header, and its ports are 0.
func (p *Parsed) IsNonFirstFragment() bool { return p.flags&flagLaterFragment != 0 }

// SetPartialChecksum says whether the packet's TCP or UDP checksum field holds
// a partial checksum, as Linux leaves it for the device to finish
// (CHECKSUM_PARTIAL, a virtio_net_hdr with [GSO].NeedsCsum): the folded sum of
// the pseudo-header, not complemented, instead of the checksum. SetSrcAddr and
// SetDstAddr then update it as the sum it is; [CompleteChecksum] finishes it.
// Decode clears it: call this after each Decode of such a packet.
func (p *Parsed) SetPartialChecksum(on bool) {
	if on {
		p.flags |= flagPartial
	} else {
		p.flags &^= flagPartial
	}
}

// PartialChecksum reports what SetPartialChecksum last set.
func (p *Parsed) PartialChecksum() bool { return p.flags&flagPartial != 0 }

// DontFragment reports whether the packet may not be fragmented on its way: the
// IPv4 DF bit, or always for IPv6, which routers never fragment. A packet too
// big for the link is answered with an ICMP error only if this holds.
func (p *Parsed) DontFragment() bool { return p.flags&flagDontFragment != 0 }

// SYN reports whether the packet is TCP with SYN set.
func (p *Parsed) SYN() bool { return p.tcpFlag(TCPSyn) }

// ACK reports whether the packet is TCP with ACK set.
func (p *Parsed) ACK() bool { return p.tcpFlag(TCPAck) }

// FIN reports whether the packet is TCP with FIN set.
func (p *Parsed) FIN() bool { return p.tcpFlag(TCPFin) }

// RST reports whether the packet is TCP with RST set.
func (p *Parsed) RST() bool { return p.tcpFlag(TCPRst) }

func (p *Parsed) tcpFlag(f TCPFlag) bool {
	return p.IPProto == ProtoTCP && p.TCPFlags&f != 0
}

// String describes the packet on one line, e.g.
// "TCP 10.0.0.1:1234 > 10.0.0.2:80 len=60 [S]". It allocates; it is for logs
// and tests, not for the data path.
func (p *Parsed) String() string {
	if p.IPVersion == 0 {
		return "invalid"
	}
	var s strings.Builder
	s.WriteString(p.IPProto.String())
	s.WriteByte(' ')
	s.WriteString(p.Src.String())
	s.WriteString(" > ")
	s.WriteString(p.Dst.String())
	s.WriteString(" len=")
	s.WriteString(strconv.Itoa(p.length))
	switch {
	case p.IsNonFirstFragment():
		s.WriteString(" frag")
	case p.IPProto == ProtoTCP:
		s.WriteString(" [")
		for i, c := range "FSRPAUEC" {
			if p.TCPFlags&(1<<i) != 0 {
				s.WriteRune(c)
			}
		}
		s.WriteByte(']')
	case p.IPProto == ProtoICMPv4 && p.IPVersion == 4, p.IPProto == ProtoICMPv6 && p.IPVersion == 6:
		s.WriteString(" type=")
		s.WriteString(strconv.Itoa(int(p.ICMPType)))
		s.WriteString(" code=")
		s.WriteString(strconv.Itoa(int(p.ICMPCode)))
	}
	return s.String()
}
