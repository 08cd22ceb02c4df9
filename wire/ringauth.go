package wire

import (
	"encoding/binary"
	"errors"
)

// Ring authentication (ExtRingAuth). Servers of a ring that share a ring key
// end every EXT_REPLICATE datagram with an ExtRingAuth option: without it,
// anyone who can send from a member's address could install or remove
// triggers on every server. It is the datagram's last option and its last
// bytes (such datagrams carry no payload).
//
// Body (24 bytes):
//
//	time(8)   Unix milliseconds when it was sent (a receiver refuses one
//	          too far from its clock, which bounds replays)
//	tag(16)   HMAC-SHA256, under a key derived from the ring key, of every
//	          byte of the datagram before the tag, truncated

// ExtRingAuth authenticates a datagram between servers of a ring.
const ExtRingAuth OptType = 0x46

// Sizes of ExtRingAuth.
const (
	RingAuthTagLen  = 16
	RingAuthBodyLen = 8 + RingAuthTagLen
	// RingAuthLen is what the option adds to a datagram.
	RingAuthLen = 3 + RingAuthBodyLen
)

// ErrNoRingAuth reports a datagram that does not end with an ExtRingAuth
// option.
var ErrNoRingAuth = errors.New("wire: no EXT_RING_AUTH at the end of the datagram")

// AppendRingAuth appends an ExtRingAuth option stamped ms (Unix
// milliseconds) with a zero tag to datagram b, whose option list's length
// the caller then sets, and returns b and the offset of the tag, which the
// caller fills with the MAC of b[:offset].
func AppendRingAuth(b []byte, ms int64) ([]byte, int) {
	b = append(b, byte(ExtRingAuth), 0, RingAuthBodyLen)
	b = binary.BigEndian.AppendUint64(b, uint64(ms))
	at := len(b)
	b = append(b, make([]byte, RingAuthTagLen)...)
	return b, at
}

// RingAuthOf returns the time and tag of the ExtRingAuth option that ends p,
// the decoded datagram b, and the offset of the tag in b.
func RingAuthOf(p *Packet, b []byte) (ms int64, tag []byte, at int, err error) {
	n := len(p.Options)
	if n == 0 || p.Options[n-1].Type != ExtRingAuth || len(p.Options[n-1].Body) != RingAuthBodyLen ||
		len(b) < RingAuthLen || len(p.Payload) != 0 {
		return 0, nil, 0, ErrNoRingAuth
	}
	at = len(b) - RingAuthTagLen
	body := b[len(b)-RingAuthBodyLen:]
	if b[len(b)-RingAuthLen] != byte(ExtRingAuth) {
		return 0, nil, 0, ErrNoRingAuth
	}
	return int64(binary.BigEndian.Uint64(body)), b[at:], at, nil
}
