package packet

import (
	"encoding/binary"
	"errors"
)

// Checksum failures reported by VerifyChecksums.
var (
	ErrHeaderChecksum    = errors.New("packet: bad IPv4 header checksum")
	ErrTransportChecksum = errors.New("packet: bad transport checksum")
)

// VerifyChecksums decodes b and checks its checksums by computing them in full:
// the IPv4 header checksum, and the TCP, UDP, ICMPv4 or ICMPv6 checksum. A UDP
// checksum of 0 means "none" over IPv4 and is accepted; over IPv6 it is an
// error (RFC 8200 §8.1). What a packet alone cannot prove is skipped: the
// transport checksum of a fragment covers the whole datagram, and that of a
// source-routed packet covers its final destination. It returns Decode's error
// for malformed input.
//
// It reads every byte of the packet: it is for tests, tools and the fuzzers
// that prove the incremental updates right, not for the data path.
func VerifyChecksums(b []byte) error {
	var p Parsed
	if err := p.Decode(b); err != nil {
		return err
	}
	if p.IPVersion == 4 && fold(sum(0, b[:ipv4HeaderLenOf(b)])) != 0xffff {
		return ErrHeaderChecksum
	}
	seg, off, acc, ok := p.transport(b)
	if !ok {
		return nil
	}
	if p.IPProto == ProtoUDP && binary.BigEndian.Uint16(b[off:]) == 0 {
		if p.IPVersion == 4 {
			return nil
		}
		return ErrTransportChecksum
	}
	if fold(sum(acc, seg)) != 0xffff {
		return ErrTransportChecksum
	}
	return nil
}

// fillChecksums computes every checksum of b, decoded into p, in full and
// writes it: the checksums Build writes, and the reference the tests compare
// incremental updates with. With keepZeroUDP an IPv4 UDP checksum of 0 stays 0.
func fillChecksums(b []byte, p *Parsed, keepZeroUDP bool) {
	if p.IPVersion == 4 {
		hl := ipv4HeaderLenOf(b)
		binary.BigEndian.PutUint16(b[ipv4CsumOff:], 0)
		binary.BigEndian.PutUint16(b[ipv4CsumOff:], ^fold(sum(0, b[:hl])))
	}
	seg, off, acc, ok := p.transport(b)
	if !ok {
		return
	}
	udp := p.IPProto == ProtoUDP
	if udp && keepZeroUDP && p.IPVersion == 4 && binary.BigEndian.Uint16(b[off:]) == 0 {
		return
	}
	binary.BigEndian.PutUint16(b[off:], 0)
	binary.BigEndian.PutUint16(b[off:], transportChecksum(acc, seg, udp))
}

// transport returns what p's transport checksum covers: the segment seg of b,
// the offset off of the checksum in b, and acc, the sum of the pseudo-header (0
// for ICMPv4, which has none). ok is false if there is no such checksum or it
// cannot be computed from this packet alone (fragments, source routes).
func (p *Parsed) transport(b []byte) (seg []byte, off int, acc uint64, ok bool) {
	if p.flags&flagFragment != 0 {
		return nil, 0, 0, false
	}
	switch {
	case p.IPProto == ProtoICMPv4 && p.IPVersion == 4:
		return b[p.subofs:p.length], p.subofs + 2, 0, true
	case p.csumofs == 0 || p.flags&flagRouted != 0:
		return nil, 0, 0, false
	}
	seg = b[p.subofs:p.end]
	return seg, p.csumofs, pseudoSum(p.Src.Addr(), p.Dst.Addr(), p.IPProto, len(seg)), true
}

// ipv4HeaderLenOf returns the IPv4 header length of a packet Decode accepted.
func ipv4HeaderLenOf(b []byte) int { return int(b[0]&0x0f) * 4 }
