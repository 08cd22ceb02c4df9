package proxy

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/proxy/vaddr"
)

// The peer registry is the one owner of the proxy's peers: it finds them by
// key, by the private id this host gave them, by their virtual addresses here
// and by the private id they gave this host, and it forgets those unused for
// the mapping timeout (TO). The per-packet lookups (by address outbound, by
// local private id inbound) and the liveness touch take no lock and allocate
// nothing: the indexes they use are hash tables of atomic pointers (index.go),
// and the last use is an atomic on the peer. Everything else (new peers, a changed
// remote id, expiry, status, saving) is rare and takes the lock.
// vaddr.Allocator picks the addresses of a new peer; the registry is the
// index it asks which addresses are taken.

// maxPeers bounds the peers a registry holds, and so the memory a flood of
// new peers can take.
const maxPeers = 1 << 16

// errFull: the registry holds maxPeers peers.
var errFull = errors.New("too many peers")

type registry struct {
	alloc *vaddr.Allocator
	to    time.Duration // forget a peer unused this long
	newID func() id.ID  // the private id given to a new peer

	byAddr4 *index[netip.Addr] // local IPv4 virtual address → peer, per packet out
	byAddr6 *index[netip.Addr] // local IPv6 virtual address → peer, per packet out
	byLocal *index[id.ID]      // private id this host gave → peer, per packet in

	mu       sync.RWMutex
	byKey    map[identity.PublicKey]*peer
	byRemote map[id.ID]*peer     // private id the peer gave this host → peer
	byTarget map[targetKey]*peer // hosts reached through a gateway (target.go)
}

func newRegistry(alloc *vaddr.Allocator, to time.Duration) *registry {
	return &registry{alloc: alloc, to: to, newID: id.Random,
		byKey: make(map[identity.PublicKey]*peer), byRemote: make(map[id.ID]*peer),
		byTarget: make(map[targetKey]*peer),
		byAddr4:  newIndex(hashAddr, func(p *peer) netip.Addr { return p.local4 }),
		byAddr6:  newIndex(hashAddr, func(p *peer) netip.Addr { return p.local6 }),
		byLocal:  newIndex(hashID, func(p *peer) id.ID { return p.local() }),
	}
}

// byAddress returns the peer whose virtual address here is a, or nil. It
// takes no lock and allocates nothing.
func (r *registry) byAddress(a netip.Addr) *peer {
	if a.Is4() {
		return r.byAddr4.get(a)
	}
	return r.byAddr6.get(a)
}

// byLocalPriv returns the peer this host gave the private id x, or nil. It
// takes no lock and allocates nothing.
func (r *registry) byLocalPriv(x id.ID) *peer { return r.byLocal.get(x) }

// byPeerKey returns the peer of key, or nil.
func (r *registry) byPeerKey(key identity.PublicKey) *peer {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.byKey[key]
}

// byRemotePriv returns the peer that gave this host the private id x, or nil.
func (r *registry) byRemotePriv(x id.ID) *peer {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.byRemote[x]
}

// get returns the peer of key, making it (with its virtual addresses and a
// new private id) if there is none; mk fills in a new peer before it is
// published. now is its first use.
func (r *registry) get(key identity.PublicKey, name string, now int64, mk func(*peer)) (*peer, error) {
	if p := r.byPeerKey(key); p != nil {
		return p, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.byKey[key]; p != nil {
		return p, nil
	}
	if len(r.byKey) >= maxPeers {
		return nil, fmt.Errorf("%w (%d)", errFull, len(r.byKey))
	}
	m, err := r.alloc.Assign(key.ID(), name, r.taken)
	if err != nil {
		return nil, err
	}
	p := newPeer(key, m, r.newID())
	p.touch(now)
	if mk != nil {
		mk(p)
	}
	r.addLocked(p)
	return p, nil
}

// taken reports whether a is a peer's virtual address; r.mu is held.
func (r *registry) taken(a netip.Addr) bool { return r.byAddress(a) != nil }

// addLocked publishes p in every index; r.mu is held for writing.
func (r *registry) addLocked(p *peer) {
	r.byKey[p.key] = p
	r.byLocal.put(p.local(), p)
	r.putAddrLocked(p)
	if x, ok := p.remote(); ok {
		r.byRemote[x] = p
	}
}

// remove forgets p and reports whether it was registered.
func (r *registry) remove(p *peer) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byKey[p.key] != p {
		return false
	}
	delete(r.byKey, p.key)
	r.byLocal.del(p.local(), p)
	r.delAddrLocked(p)
	if x, ok := p.remote(); ok && r.byRemote[x] == p {
		delete(r.byRemote, x)
	}
	for _, t := range p.targets.all() {
		r.removeTargetLocked(t)
	}
	return true
}

// putAddrLocked indexes p's virtual addresses; r.mu is held for writing.
func (r *registry) putAddrLocked(p *peer) {
	if p.local4.IsValid() {
		r.byAddr4.put(p.local4, p)
	}
	if p.local6.IsValid() {
		r.byAddr6.put(p.local6, p)
	}
}

// delAddrLocked removes p's virtual addresses from the index; r.mu is held
// for writing.
func (r *registry) delAddrLocked(p *peer) {
	if p.local4.IsValid() {
		r.byAddr4.del(p.local4, p)
	}
	if p.local6.IsValid() {
		r.byAddr6.del(p.local6, p)
	}
}

// setRemote records that p gave this host the private id x (a handshake).
func (r *registry) setRemote(p *peer, x id.ID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := p.remote(); ok && r.byRemote[old] == p {
		delete(r.byRemote, old)
	}
	p.remotePriv.Store(&x)
	if r.byKey[p.key] == p {
		r.byRemote[x] = p
	}
}

// all returns the registered peers.
func (r *registry) all() []*peer {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ps := make([]*peer, 0, len(r.byKey))
	for _, p := range r.byKey {
		ps = append(ps, p)
	}
	return ps
}

// len returns how many peers are registered.
func (r *registry) len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.byKey)
}

// expire removes and returns the peers unused for TO at now: no packet either
// way and no DNS answer. Targets unused for TO go too (they hold only an
// address), and so do the targets of a gateway that goes.
func (r *registry) expire(now time.Time) []*peer {
	var gone []*peer
	for _, p := range r.all() {
		if now.UnixNano()-p.lastUse.Load() >= int64(p.expiresAfter(r.to)) && r.remove(p) {
			gone = append(gone, p)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range r.byTarget {
		if now.UnixNano()-t.lastUse.Load() >= int64(r.to) {
			r.removeTargetLocked(t)
		}
	}
	return gone
}
