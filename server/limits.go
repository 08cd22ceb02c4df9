package server

import (
	"hash/maphash"
	"math"
	"net/netip"
)

// limiter is a set of token buckets, one per address, kept in a fixed array of
// slots so that memory is bounded and a lookup allocates nothing whatever the
// sources (spoofed floods included). Each bucket is one int64 (GCRA: the
// "theoretical arrival time" of the next token).
//
// Addresses are IPv4 addresses or IPv6 /64 prefixes (a host owns a whole /64).
// Slots are chosen by a hash seeded per server. An address whose slot holds an
// idle bucket (full again) takes it over; one whose slot is busy with another
// address shares that bucket until it empties, which errs on the side of
// limiting. A limiter belongs to one worker goroutine and is not locked.
type limiter struct {
	interval  int64 // nanoseconds per token; 0 = no limit
	tolerance int64 // (burst-1) × interval
	seed      maphash.Seed
	slots     []limiterSlot
}

type limiterSlot struct {
	key [16]byte
	tat int64 // when the bucket is full again, in Unix nanoseconds
}

// newLimiter returns a limiter allowing rate per second with bursts of burst;
// rate 0 means no limit.
func newLimiter(rate float64, burst int) *limiter {
	l := &limiter{seed: maphash.MakeSeed()}
	if rate <= 0 {
		return l
	}
	l.interval = max(1, int64(math.Round(1e9/rate)))
	l.tolerance = int64(max(burst, 1)-1) * l.interval
	l.slots = make([]limiterSlot, limiterSlots)
	return l
}

// allow takes a token from a's bucket at time now (Unix nanoseconds) and
// reports whether there was one.
func (l *limiter) allow(a netip.Addr, now int64) bool {
	if l.interval == 0 {
		return true
	}
	k := limiterKey(a)
	s := &l.slots[l.slot(k)]
	if s.key != k && s.tat <= now {
		s.key, s.tat = k, now
	}
	tat := max(s.tat, now)
	if tat-now > l.tolerance {
		return false
	}
	s.tat = tat + l.interval
	return true
}

// slot is the index of key's slot.
func (l *limiter) slot(key [16]byte) uint64 {
	return maphash.Bytes(l.seed, key[:]) & (limiterSlots - 1)
}

// limiterKey is a's bucket key: the IPv4 address (mapped) or the IPv6 /64.
func limiterKey(a netip.Addr) [16]byte {
	k := a.As16()
	if !a.Unmap().Is4() {
		clear(k[8:])
	}
	return k
}

// sourceKey is the address a trigger is charged to for MaxTriggersPerSource:
// the IPv4 address or the IPv6 /64 prefix.
func sourceKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is4() || !a.IsValid() {
		return a
	}
	return netip.AddrFrom16(limiterKey(a))
}
