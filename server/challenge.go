package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"hash"
	"net/netip"

	"github.com/i3net/i3net/wire"
)

// A challenge proves that whoever inserts a trigger can receive at its target:
// the server answers an insertion whose nonce is wrong with TRIGGER_CHALLENGE
// carrying the right one, sent to the trigger's target when it is an IP address
// (so nobody can point a trigger at an address that did not ask for it) and to
// the inserter for a stack target. The host re-sends the insertion with that
// nonce.
//
// The nonce is HMAC-SHA256, truncated to 16 bytes, of the trigger's flags, id,
// prefix length, target and key (and, for a stack target, the address the
// challenge went to), under a secret derived from a master key per epoch of
// Config.SecretRotation. The current and the previous epoch's nonces are
// accepted, so a nonce lives one to two rotations, and the server keeps no state
// per challenge. The master key is random per server: a restarted server
// challenges every trigger again.

// challengeContext starts every MAC input (domain separation).
const challengeContext = "i3net challenge v1\x00"

// challenger computes and checks nonces. The master key is shared by the
// server; a challenger (its hash state and scratch) belongs to one goroutine.
type challenger struct {
	master   *[32]byte
	rotation int64 // epoch length, nanoseconds

	epoch     int64     // epoch of cur
	cur, prev hash.Hash // HMACs keyed with the epochs' secrets; nil until used
	in        []byte    // MAC input scratch
	sum       [sha256.Size]byte
}

func newChallenger(master *[32]byte, rotation int64) *challenger {
	return &challenger{master: master, rotation: rotation, epoch: -1, in: make([]byte, 0, 1024)}
}

// epochKey derives epoch e's secret from the master key.
func (c *challenger) epochKey(e int64) []byte {
	m := hmac.New(sha256.New, c.master[:])
	m.Write([]byte("i3net nonce epoch\x00"))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(e))
	m.Write(b[:])
	return m.Sum(nil)
}

// advance makes cur the MAC of now's epoch and prev that of the one before.
func (c *challenger) advance(now int64) {
	e := now / c.rotation
	if e == c.epoch {
		return
	}
	if e == c.epoch+1 && c.cur != nil {
		c.prev = c.cur
	} else {
		c.prev = hmac.New(sha256.New, c.epochKey(e-1))
	}
	c.cur = hmac.New(sha256.New, c.epochKey(e))
	c.epoch = e
}

// input writes the MAC input for t (and, for a stack target, the address the
// challenge goes to) into c.in.
func (c *challenger) input(t *wire.Trigger, replyTo netip.AddrPort) []byte {
	b := append(c.in[:0], challengeContext...)
	b = append(b, t.Flags)
	b = append(b, t.ID[:]...)
	b = binary.BigEndian.AppendUint16(b, t.PrefixLen)
	b = t.Target.AppendTo(b)
	if t.Target.Kind != wire.AddrStack {
		b = append(b, t.Key[:]...)
	} else {
		a := wire.IPAddr(replyTo)
		b = a.AppendTo(b)
	}
	c.in = b
	return b
}

func (c *challenger) mac(h hash.Hash, in []byte) (n [wire.NonceLen]byte) {
	h.Reset()
	h.Write(in)
	copy(n[:], h.Sum(c.sum[:0]))
	return n
}

// nonce returns the nonce that t must carry at time now (Unix nanoseconds).
func (c *challenger) nonce(t *wire.Trigger, replyTo netip.AddrPort, now int64) [wire.NonceLen]byte {
	c.advance(now)
	return c.mac(c.cur, c.input(t, replyTo))
}

// check reports whether t's nonce is valid at time now: the current epoch's or
// the previous one's.
func (c *challenger) check(t *wire.Trigger, replyTo netip.AddrPort, now int64) bool {
	c.advance(now)
	in := c.input(t, replyTo)
	n := c.mac(c.cur, in)
	if subtle.ConstantTimeCompare(n[:], t.Nonce[:]) == 1 {
		return true
	}
	n = c.mac(c.prev, in)
	return subtle.ConstantTimeCompare(n[:], t.Nonce[:]) == 1
}
