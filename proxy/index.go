package proxy

import (
	"net/netip"
	"sync/atomic"

	"github.com/i3net/i3net/id"
)

// indexShards is how many maps an index is split into: a write copies one,
// so adding a peer costs about peers/indexShards map entries, not all peers.
const indexShards = 256

// index maps keys to peers for the per-packet lookups: get takes no lock and
// allocates nothing. Each shard is an immutable map behind an atomic pointer;
// put and del replace the shard with an altered copy. Writers must be
// serialized by the caller (the registry's lock).
type index[K comparable] struct {
	shardOf func(K) uint8
	shards  [indexShards]atomic.Pointer[map[K]*peer]
}

func (x *index[K]) get(k K) *peer {
	m := x.shards[x.shardOf(k)].Load()
	if m == nil {
		return nil
	}
	return (*m)[k]
}

// put maps k to p; the caller holds the registry's write lock.
func (x *index[K]) put(k K, p *peer) {
	s := &x.shards[x.shardOf(k)]
	var n map[K]*peer
	if old := s.Load(); old != nil {
		n = make(map[K]*peer, len(*old)+1)
		for k2, p2 := range *old {
			n[k2] = p2
		}
	} else {
		n = make(map[K]*peer, 1)
	}
	n[k] = p
	s.Store(&n)
}

// del removes k if it maps to p; the caller holds the registry's write lock.
func (x *index[K]) del(k K, p *peer) {
	s := &x.shards[x.shardOf(k)]
	old := s.Load()
	if old == nil || (*old)[k] != p {
		return
	}
	n := make(map[K]*peer, len(*old))
	for k2, p2 := range *old {
		if k2 != k {
			n[k2] = p2
		}
	}
	s.Store(&n)
}

// addrShard spreads virtual addresses over the shards: their last byte is
// part of a hash (Derive) or random (a collision's pick).
func addrShard(a netip.Addr) uint8 {
	b := a.As16()
	return b[15] ^ b[13]
}

// idShard spreads private ids, which are random, over the shards.
func idShard(x id.ID) uint8 { return x[len(x)-1] }
