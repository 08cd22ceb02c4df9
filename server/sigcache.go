package server

import (
	"hash/maphash"
	"net/netip"
)

// sigCacheSize bounds the replay cache of signatures (sigCache).
const sigCacheSize = 1 << 16

// sigCache remembers the signatures of signed requests the server accepted,
// and the address that first used each, so that a signature seen on the path
// cannot be replayed from another address while its time is still within
// SignatureSkew ("a fresh signed insertion replayed from elsewhere",
// docs/security.md): the NAT rewrite (§5.1) would point the trigger at the
// replayer. The same signature from the same address passes (retransmissions,
// the insertion with the nonce, refreshes signed in the same second).
//
// An entry lives 2×SignatureSkew from its first use, longer than any
// signature time the server accepts. Every entry has the same lifetime, so
// the order of first use is the order of expiry: entries are kept in a FIFO,
// expired ones leave from its head, and when it holds sigCacheSize entries the
// oldest leaves early (a replay of it would then be accepted again: filling
// the cache takes 65,536 valid signatures within 2×SignatureSkew). Keys are a
// seeded hash of the signature option's body; a collision (probability about
// 2^-48 with a full cache) refuses a request once, and its host signs again.
//
// The cache belongs to the server's one worker and is not locked. It is
// allocated at the first signed request.
type sigCache struct {
	seed  maphash.Seed
	ttl   int64 // nanoseconds
	size  int   // most entries (sigCacheSize)
	seen  map[uint64]sigSeen
	fifo  []uint64 // keys, oldest at head; a ring once full
	head  int
	count int
}

type sigSeen struct {
	from    netip.AddrPort
	expires int64
}

func newSigCache(skew int64, size int) *sigCache {
	return &sigCache{seed: maphash.MakeSeed(), ttl: 2 * skew, size: size}
}

// use records that signature body sig was used from src at now. It reports
// false when another address used it first and the entry has not expired.
func (c *sigCache) use(sig []byte, src netip.AddrPort, now int64) bool {
	if c.seen == nil {
		c.seen = make(map[uint64]sigSeen)
		c.fifo = make([]uint64, c.size)
	}
	for c.count > 0 && c.seen[c.fifo[c.head]].expires <= now {
		c.pop()
	}
	k := maphash.Bytes(c.seed, sig)
	if e, ok := c.seen[k]; ok {
		return e.from == src
	}
	if c.count == len(c.fifo) {
		c.pop() // full: the oldest leaves early
	}
	c.seen[k] = sigSeen{from: src, expires: now + c.ttl}
	c.fifo[(c.head+c.count)%len(c.fifo)] = k
	c.count++
	return true
}

// pop removes the oldest entry.
func (c *sigCache) pop() {
	delete(c.seen, c.fifo[c.head])
	c.head = (c.head + 1) % len(c.fifo)
	c.count--
}

// len returns the number of entries.
func (c *sigCache) len() int { return c.count }
