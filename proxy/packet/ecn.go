package packet

import "encoding/binary"

// The ECN field (RFC 3168): the low two bits of the IPv4 TOS byte and of the
// IPv6 traffic class.
const (
	ecnMask = 0x03
	ecnCE   = 0x03 // congestion experienced
)

// MarkCE sets "congestion experienced" in the IP packet b when its sender
// said it understands ECN (ECT(0), ECT(1), or CE already), updating the IPv4
// header checksum, and reports whether it did: a packet that is not
// ECN-capable must be dropped instead to say the same. b must hold at least
// an IP header (Decode checked it).
func MarkCE(b []byte) bool {
	if len(b) < 2 {
		return false
	}
	switch b[0] >> 4 {
	case 4:
		if len(b) < ipv4HeaderLen || b[1]&ecnMask == 0 {
			return false
		}
		old := [2]byte{b[0], b[1]}
		b[1] |= ecnCE
		c := update(binary.BigEndian.Uint16(b[10:]), old[:], b[0:2])
		binary.BigEndian.PutUint16(b[10:], c)
		return true
	case 6:
		// The traffic class is bits 4..11: its ECN bits are 0x30 of b[1].
		if b[1]&(ecnMask<<4) == 0 {
			return false
		}
		b[1] |= ecnCE << 4
		return true
	}
	return false
}
