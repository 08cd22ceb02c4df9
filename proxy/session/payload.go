package session

import (
	"bytes"
	"encoding/binary"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
)

// timestamp is a TAI64N label: 8 bytes of 2^62 + 10 + Unix seconds, then 4
// bytes of nanoseconds, both big-endian, so that byte order is time order
// (as in WireGuard's handshake initiation).
type timestamp [TimestampLen]byte

const tai64Base = uint64(0x400000000000000a)

// stamp returns the TAI64N label of t.
func stamp(t time.Time) timestamp {
	var ts timestamp
	binary.BigEndian.PutUint64(ts[:8], tai64Base+uint64(t.Unix()))
	binary.BigEndian.PutUint32(ts[8:], uint32(t.Nanosecond()))
	return ts
}

// after reports whether ts is strictly later than u.
func (ts timestamp) after(u timestamp) bool { return bytes.Compare(ts[:], u[:]) > 0 }

// time returns ts as a time.Time.
func (ts timestamp) time() time.Time {
	sec := binary.BigEndian.Uint64(ts[:8]) - tai64Base
	return time.Unix(int64(sec), int64(binary.BigEndian.Uint32(ts[8:])))
}

// valid reports whether ts is a plausible label: seconds at or after the
// TAI64 base and nanoseconds below one second.
func (ts timestamp) valid() bool {
	return binary.BigEndian.Uint64(ts[:8]) >= tai64Base && binary.BigEndian.Uint32(ts[8:]) < 1e9
}

// payload1 is the plaintext of message 1, inside the Noise encryption.
//
//	byte 0       version (1)
//	bytes 1–32   initiator's Ed25519 public key
//	bytes 33–64  initiator's private id: where the responder sends
//	byte 65      flags
//	bytes 66–77  TAI64N timestamp (replay protection)
//	bytes 78–109 via: the id of the middlebox (§6.4) the peer must send
//	             through, first on its stack; zero: none
type payload1 struct {
	version uint8
	key     identity.PublicKey
	privID  id.ID
	flags   Flags
	ts      timestamp
	via     id.ID
}

func (p *payload1) appendTo(b []byte) []byte {
	b = append(b, p.version)
	b = append(b, p.key[:]...)
	b = append(b, p.privID[:]...)
	b = append(b, byte(p.flags))
	b = append(b, p.ts[:]...)
	return append(b, p.via[:]...)
}

func (p *payload1) parse(b []byte) error {
	if len(b) != Payload1Len {
		return ErrPayload
	}
	p.version = b[0]
	if p.version != Version {
		return ErrVersion
	}
	copy(p.key[:], b[1:33])
	copy(p.privID[:], b[33:65])
	p.flags = Flags(b[65])
	copy(p.ts[:], b[66:78])
	copy(p.via[:], b[78:110])
	if !validPrivateID(p.privID) || !p.ts.valid() {
		return ErrPayload
	}
	return nil
}

// payload2 is the plaintext of message 2.
//
//	bytes 0–31   responder's private id: where the initiator sends
//	byte 32      flags
//	bytes 33–44  TAI64N timestamp (resets older than it are refused)
//	bytes 45–76  via, as in payload1
type payload2 struct {
	privID id.ID
	flags  Flags
	ts     timestamp
	via    id.ID
}

func (p *payload2) appendTo(b []byte) []byte {
	b = append(b, p.privID[:]...)
	b = append(b, byte(p.flags))
	b = append(b, p.ts[:]...)
	return append(b, p.via[:]...)
}

func (p *payload2) parse(b []byte) error {
	if len(b) != Payload2Len {
		return ErrPayload
	}
	copy(p.privID[:], b[:32])
	p.flags = Flags(b[32])
	copy(p.ts[:], b[33:45])
	copy(p.via[:], b[45:77])
	if p.flags&FlagRefused != 0 {
		if !p.privID.IsZero() || !p.ts.valid() {
			return ErrPayload
		}
		return nil
	}
	if !validPrivateID(p.privID) || !p.ts.valid() {
		return ErrPayload
	}
	return nil
}

// validPrivateID reports whether x can be a private id: not zero, public bit
// clear (id.Random and id.RandomWithPrefix make such ids).
func validPrivateID(x id.ID) bool { return !x.IsZero() && !x.IsPublic() }
