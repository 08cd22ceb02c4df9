package proxy

// Targets are the ordinary hosts this host reaches through an i3-to-IP gateway
// (paper §4.4.1): a name the rules send to a gateway resolves, at the gateway,
// to real addresses R; each (gateway, R) gets a virtual address V here, from
// this host's pool, so the real ranges of several intranets never meet on
// this host even when they overlap. A target is a peer entry of its own in
// the address index (V → target) whose canonical address is R and whose via
// is the gateway's peer: packets to V are rewritten to R and sealed in the
// gateway's session; packets from the gateway with source R are rewritten
// back to V (the gateway's peer keeps R → target).

import (
	"crypto/sha256"
	"net/netip"
	"sync/atomic"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/proxy/vaddr"
)

// targetKey names a target: its gateway's public id and its real address.
type targetKey struct {
	gw   id.ID
	real netip.Addr
}

// targetSet is a gateway peer's targets by real address: read per packet
// without a lock (a copy-on-write map), changed under the registry's lock.
type targetSet struct {
	m atomic.Pointer[map[netip.Addr]*peer]
}

// get returns the target whose real address is r, or nil.
func (s *targetSet) get(r netip.Addr) *peer {
	if m := s.m.Load(); m != nil {
		return (*m)[r]
	}
	return nil
}

// with returns s's map with r → t added (t nil: r removed), as a new map.
func (s *targetSet) with(r netip.Addr, t *peer) {
	old := s.m.Load()
	n := make(map[netip.Addr]*peer, 1)
	if old != nil {
		for k, v := range *old {
			n[k] = v
		}
	}
	if t == nil {
		delete(n, r)
	} else {
		n[r] = t
	}
	s.m.Store(&n)
}

// all returns the targets.
func (s *targetSet) all() []*peer {
	m := s.m.Load()
	if m == nil {
		return nil
	}
	out := make([]*peer, 0, len(*m))
	for _, t := range *m {
		out = append(out, t)
	}
	return out
}

// targetID is the id a target's virtual address is derived from: a hash of
// its gateway's id and its real address, so the same target gets the same
// address again (after an expiry, or on another host with the same pool).
func targetID(k targetKey) id.ID {
	h := sha256.New()
	h.Write([]byte("i3net gateway target v1\x00"))
	h.Write(k.gw[:])
	b := k.real.As16()
	h.Write(b[:])
	var x id.ID
	copy(x[:], h.Sum(nil))
	return x.WithPublic(false)
}

// target returns the target (gw, r), making it with a virtual address of r's
// family if there is none; name is the name it was asked by. now is its use.
func (r *registry) target(gw *peer, real netip.Addr, name string, now int64) (*peer, error) {
	k := targetKey{gw: gw.pubID, real: real.Unmap()}
	if t := gw.targets.get(k.real); t != nil {
		t.touch(now)
		return t, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if t := r.byTarget[k]; t != nil {
		t.touch(now)
		return t, nil
	}
	if len(r.byTarget) >= maxPeers {
		return nil, errFull
	}
	m, err := r.alloc.Assign(targetID(k), name, r.taken)
	if err != nil {
		return nil, err
	}
	t := newTarget(gw, k.real, m)
	t.touch(now)
	r.byTarget[k] = t
	r.putAddrLocked(t)
	gw.targets.with(k.real, t)
	return t, nil
}

// newTarget returns the target of gw with real address real, reached here at
// m's virtual address of real's family.
func newTarget(gw *peer, real netip.Addr, m vaddr.Mapping) *peer {
	t := &peer{key: gw.key, pubID: gw.pubID, name: m.Name, via: gw, real: real}
	if real.Is4() {
		t.local4, t.canonical4 = m.V4, real
	} else {
		t.local6, t.canonical6 = m.V6, real
	}
	return t
}

// removeTargetLocked forgets target t; r.mu is held for writing.
func (r *registry) removeTargetLocked(t *peer) {
	k := targetKey{gw: t.via.pubID, real: t.real}
	if r.byTarget[k] != t {
		return
	}
	delete(r.byTarget, k)
	r.delAddrLocked(t)
	t.via.targets.with(t.real, nil)
}

// allTargets returns every target.
func (r *registry) allTargets() []*peer {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*peer, 0, len(r.byTarget))
	for _, t := range r.byTarget {
		out = append(out, t)
	}
	return out
}
