package proxy

import (
	"hash/maphash"
	"net/netip"
	"sync/atomic"

	"github.com/i3net/i3net/id"
)

// index is a hash table of peers for the per-packet lookups: get takes no
// lock and allocates nothing. It is open addressing with linear probing over
// a slice of atomic pointers, hashed with a per-process random seed (a peer
// cannot choose where its entry lands). put and del change single slots in
// place (a reader sees a slot before or after, and either is right); when
// the slots fill up, put builds a larger slice and swaps it in whole. Writers
// must be serialized by the caller (the registry's lock).
type index[K comparable] struct {
	hash func(maphash.Seed, K) uint64
	key  func(*peer) K // the key of a peer in this index
	seed maphash.Seed
	cur  atomic.Pointer[[]atomic.Pointer[peer]]
	live int // entries, under the registry's lock
	dead int // tombstones, under the registry's lock
}

// tombstone marks a slot whose peer was removed: lookups probe past it.
var tombstone = new(peer)

// minSlots is the size of an index's first slice.
const minSlots = 64

func newIndex[K comparable](hash func(maphash.Seed, K) uint64, key func(*peer) K) *index[K] {
	return &index[K]{hash: hash, key: key, seed: maphash.MakeSeed()}
}

// get returns the peer of k, or nil.
func (x *index[K]) get(k K) *peer {
	sp := x.cur.Load()
	if sp == nil {
		return nil
	}
	s := *sp
	mask := uint64(len(s) - 1)
	i := x.hash(x.seed, k) & mask
	for range len(s) {
		p := s[i].Load()
		if p == nil {
			return nil
		}
		if p != tombstone && x.key(p) == k {
			return p
		}
		i = (i + 1) & mask
	}
	return nil
}

// put adds p under k, which must not be in the index.
func (x *index[K]) put(k K, p *peer) {
	sp := x.cur.Load()
	if sp == nil || 2*(x.live+x.dead+1) > len(*sp) {
		x.grow()
		sp = x.cur.Load()
	}
	s := *sp
	mask := uint64(len(s) - 1)
	i := x.hash(x.seed, k) & mask
	for {
		switch q := s[i].Load(); q {
		case nil:
			s[i].Store(p)
			x.live++
			return
		case tombstone:
			s[i].Store(p)
			x.live++
			x.dead--
			return
		}
		i = (i + 1) & mask
	}
}

// del removes p from under k, if it is there.
func (x *index[K]) del(k K, p *peer) {
	sp := x.cur.Load()
	if sp == nil {
		return
	}
	s := *sp
	mask := uint64(len(s) - 1)
	i := x.hash(x.seed, k) & mask
	for range len(s) {
		q := s[i].Load()
		if q == nil {
			return
		}
		if q == p {
			s[i].Store(tombstone)
			x.live--
			x.dead++
			return
		}
		i = (i + 1) & mask
	}
}

// grow replaces the slots with a slice that holds the live entries at most a
// quarter full, without tombstones.
func (x *index[K]) grow() {
	n := minSlots
	for n < 4*(x.live+1) {
		n *= 2
	}
	s := make([]atomic.Pointer[peer], n)
	mask := uint64(n - 1)
	if old := x.cur.Load(); old != nil {
		for j := range *old {
			p := (*old)[j].Load()
			if p == nil || p == tombstone {
				continue
			}
			i := x.hash(x.seed, x.key(p)) & mask
			for s[i].Load() != nil {
				i = (i + 1) & mask
			}
			s[i].Store(p)
		}
	}
	x.dead = 0
	x.cur.Store(&s)
}

// hashAddr hashes a virtual address.
func hashAddr(seed maphash.Seed, a netip.Addr) uint64 {
	b := a.As16()
	return maphash.Bytes(seed, b[:])
}

// hashID hashes a private id.
func hashID(seed maphash.Seed, x id.ID) uint64 { return maphash.Bytes(seed, x[:]) }
