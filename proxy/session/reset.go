package session

import (
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
)

// resetContext starts the bytes a reset signature covers, so that no other
// signature by the identity key can pass for a reset.
const resetContext = "i3net session reset v1\x00"

// resetSigned returns the bytes a reset's signature covers: the context, the
// sender's stale private id, the receiver's private id (where the reset is
// sent; not in the frame, the receiver knows it) and the timestamp.
func resetSigned(stale, to id.ID, ts []byte) []byte {
	b := make([]byte, 0, len(resetContext)+2*id.Len+TimestampLen)
	b = append(b, resetContext...)
	b = append(b, stale[:]...)
	b = append(b, to[:]...)
	return append(b, ts...)
}

// AppendReset appends to dst a reset frame: local received a frame on its
// private id stale, for a session it no longer has (it restarted and lost
// the keys, but kept its mappings), and sends this to the peer's private id
// to, from the same mapping. The frame is signed with local's identity key,
// so only local can make its peer handshake again, and stamped with now, so
// a reset recorded before the current session cannot be replayed against it.
// Send resets at a limited rate: each costs a signature here and a
// verification there.
func AppendReset(dst []byte, local *identity.Identity, stale, to id.ID, now time.Time) []byte {
	ts := stamp(now)
	dst = append(dst, byte(TypeReset))
	dst = append(dst, stale[:]...)
	dst = append(dst, ts[:]...)
	return append(dst, ed25519.Sign(local.PrivateKey(), resetSigned(stale, to, ts[:]))...)
}

// CheckReset reports whether frame is a valid reset of this session: it
// names the peer's private id of this session, is stamped after the peer's
// handshake (by the peer's clock) and is signed by the peer for this side's
// private id. On nil the caller starts a new handshake with the peer,
// keeping this session until that one completes. Errors: ErrLength,
// ErrType, ErrResetMismatch, ErrStale, ErrAuth (wrapped).
func (s *Session) CheckReset(frame []byte) error {
	f, err := ParseFrame(frame)
	if err != nil {
		return fmt.Errorf("session: reset: %w", err)
	}
	if f.Type != TypeReset {
		return fmt.Errorf("session: reset: %v frame: %w", f.Type, ErrType)
	}
	if f.Stale != s.peerPriv {
		return fmt.Errorf("session: reset from %v for %s: %w", s.peer, f.Stale.Short(), ErrResetMismatch)
	}
	var ts timestamp
	copy(ts[:], f.Body[id.Len:])
	if !ts.after(s.peerTime) {
		return fmt.Errorf("session: reset from %v stamped %v, before the session: %w", s.peer, ts.time().UTC(), ErrStale)
	}
	if !ed25519.Verify(s.peer[:], resetSigned(f.Stale, s.localPriv, ts[:]), f.Body[id.Len+TimestampLen:]) {
		return fmt.Errorf("session: reset from %v: %w", s.peer, ErrAuth)
	}
	return nil
}
