package ring

import (
	"cmp"
	"encoding/binary"
	"net/netip"
	"slices"

	"github.com/i3net/i3net/id"
)

// Snapshot is the membership at one moment, sorted by ring position. It is
// immutable: the Ring builds a new one on every membership event and swaps it
// in atomically, so a lookup reads one consistent view without a lock, and a
// caller that needs several answers to agree (a batch of packets) keeps one
// Snapshot for all of them. Lookups allocate nothing.
//
// Ownership: a member at position p owns the keys k with pred < k ≤ p, where
// pred is the previous member's position; the first member also owns the
// keys above the last position (the ring wraps). Members with equal
// positions are ordered by name, and all of the range goes to the first.
type Snapshot struct {
	// ring holds the members in ring order twice over (2n entries), so that
	// the n successors of any member are one subslice, wrap-around included.
	ring   []Member
	keys   []position // keys[i] is ring[i].Position, for i < n
	local  int        // index of the local member, -1 when it is not in
	byData map[netip.AddrPort]int
	ver    uint64
}

// position is a ring position as two integers, for fast comparison.
type position struct{ hi, lo uint64 }

func positionOf(k id.Key128) position {
	return position{binary.BigEndian.Uint64(k[:8]), binary.BigEndian.Uint64(k[8:])}
}

func (p position) less(q position) bool { return p.hi < q.hi || (p.hi == q.hi && p.lo < q.lo) }

// NewSnapshot returns the snapshot of members (local is added if no member
// has its name; a local member with an empty name means "none", for a view
// from outside the ring). Members are deduplicated by name, the last one
// winning. version numbers the snapshot (the Ring counts its changes).
func NewSnapshot(local Member, members []Member, version uint64) *Snapshot {
	all := make([]Member, 0, len(members)+1)
	seen := make(map[string]int, len(members)+1)
	add := func(m Member) {
		if i, ok := seen[m.Name]; ok {
			all[i] = m
			return
		}
		seen[m.Name] = len(all)
		all = append(all, m)
	}
	for _, m := range members {
		add(m)
	}
	if _, ok := seen[local.Name]; !ok && local.Name != "" {
		add(local)
	}
	slices.SortFunc(all, func(a, b Member) int {
		if c := slices.Compare(a.Position[:], b.Position[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	n := len(all)
	s := &Snapshot{
		ring:   append(all, all...),
		keys:   make([]position, n),
		local:  -1,
		byData: make(map[netip.AddrPort]int, n),
		ver:    version,
	}
	for i := range n {
		m := &s.ring[i]
		s.keys[i] = positionOf(m.Position)
		s.byData[m.Data] = i
		if m.Name == local.Name && local.Name != "" {
			s.local = i
		}
	}
	return s
}

// Len returns the number of members.
func (s *Snapshot) Len() int { return len(s.keys) }

// Version returns the snapshot's number: each membership change makes a new
// snapshot with a higher one.
func (s *Snapshot) Version() uint64 { return s.ver }

// Members returns the members in ring order (ascending positions). The slice
// is the snapshot's own: do not modify it.
func (s *Snapshot) Members() []Member {
	n := len(s.keys)
	return s.ring[:n:n]
}

// Local returns the local member; ok is false in a snapshot without one.
func (s *Snapshot) Local() (m Member, ok bool) {
	if s.local < 0 {
		return Member{}, false
	}
	return s.ring[s.local], true
}

// index returns the index of the member responsible for k: the first whose
// position is at least k, or the first of all when k is above every position.
func (s *Snapshot) index(k id.Key128) int {
	p := positionOf(k)
	lo, hi := 0, len(s.keys)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if s.keys[mid].less(p) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == len(s.keys) {
		return 0
	}
	return lo
}

// Responsible returns the member that owns key k (an id's first 128 bits,
// id.ID.Key): the first member at or after k on the ring. It returns the zero
// Member when the snapshot is empty.
func (s *Snapshot) Responsible(k id.Key128) Member {
	if len(s.keys) == 0 {
		return Member{}
	}
	return s.ring[s.index(k)]
}

// Owns reports whether the local member is responsible for k.
func (s *Snapshot) Owns(k id.Key128) bool {
	return s.local >= 0 && s.index(k) == s.local
}

// Successors returns up to n members starting with the one responsible for k
// and following it around the ring: the owner of k, then where its replicas
// go. The slice is the snapshot's own: do not modify it.
func (s *Snapshot) Successors(k id.Key128, n int) []Member {
	size := len(s.keys)
	if size == 0 || n <= 0 {
		return nil
	}
	n = min(n, size)
	i := s.index(k)
	return s.ring[i : i+n : i+n]
}

// ByData returns the member whose data address is a; ok is false when no
// member has it. A server uses it to tell its peers' datagrams from hosts'.
func (s *Snapshot) ByData(a netip.AddrPort) (m Member, ok bool) {
	i, ok := s.byData[a]
	if !ok {
		return Member{}, false
	}
	return s.ring[i], true
}

// IsMember reports whether a is the data address of a member.
func (s *Snapshot) IsMember(a netip.AddrPort) bool {
	_, ok := s.byData[a]
	return ok
}

// sameMembers reports whether s and t hold the same members with the same
// addresses and positions.
func (s *Snapshot) sameMembers(t *Snapshot) bool {
	return t != nil && slices.Equal(s.Members(), t.Members()) && s.local == t.local
}

// sameOwners reports whether s and t hold the same members at the same
// positions with the same data addresses and epochs: whether ownership and
// forwarding are the same in both (gossip addresses may differ), and no
// member restarted (an empty table where the triggers were).
func (s *Snapshot) sameOwners(t *Snapshot) bool {
	return t != nil && s.local == t.local && slices.EqualFunc(s.Members(), t.Members(), func(a, b Member) bool {
		return a.Name == b.Name && a.Data == b.Data && a.Position == b.Position && a.Epoch == b.Epoch
	})
}
