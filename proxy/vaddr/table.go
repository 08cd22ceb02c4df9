package vaddr

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/clock"
)

// Errors of Assign.
var (
	// ErrFull: the table holds MaxMappings mappings.
	ErrFull = errors.New("table full")
	// ErrPoolFull: no free address is left in a pool.
	ErrPoolFull = errors.New("no free address in pool")
	// ErrSelf: the peer is this host.
	ErrSelf = errors.New("peer is this host")
)

// Mapping is what a Table knows of one peer. It is a value: Lookup returns a
// copy, and it marshals to JSON as a line of the state file.
type Mapping struct {
	// Peer is the peer's public id.
	Peer id.ID `json:"peer"`
	// Name is the name the peer was asked by, without the overlay suffix
	// ("" for a peer that contacted us first).
	Name string `json:"name,omitempty"`
	// V4 and V6 are the peer's virtual addresses on this host, what programs
	// here send to (the zero Addr for a family that is off).
	V4 netip.Addr `json:"v4,omitzero"`
	V6 netip.Addr `json:"v6,omitzero"`
	// Derived4 and Derived6 are Derive of the peer's id: the peer's own tun
	// addresses, which it writes as the source of its packets and expects as
	// their destination. Where V4 != Derived4 (a collision), the proxy rewrites
	// V4 to Derived4 in what it sends and Derived4 to V4 in what it receives;
	// likewise for IPv6.
	Derived4 netip.Addr `json:"derived4,omitzero"`
	Derived6 netip.Addr `json:"derived6,omitzero"`
	// LastUse is when a packet or a DNS answer last used the mapping (to
	// about a second).
	LastUse time.Time `json:"last_use"`
}

// Preserved4 reports whether the IPv4 header needs no rewrite for this peer.
func (m Mapping) Preserved4() bool { return m.V4 == m.Derived4 }

// Preserved6 reports whether the IPv6 header needs no rewrite for this peer.
func (m Mapping) Preserved6() bool { return m.V6 == m.Derived6 }

// Preserved reports whether headers of both families need no rewrite.
func (m Mapping) Preserved() bool { return m.Preserved4() && m.Preserved6() }

// entry is a mapping in the table. m is written under the table's write lock
// only; last (Unix nanoseconds) is written atomically under the read lock.
type entry struct {
	m    Mapping
	last atomic.Int64
}

// Table holds the mappings between virtual addresses and peers. It is safe for
// concurrent use: Lookup, Use, Touch and ByPeer take a read lock and allocate
// nothing; Assign, Remove, Expire and Restore take the write lock.
type Table struct {
	cfg          Config
	clock        clock.Clock
	self4, self6 netip.Addr
	reserved     map[netip.Addr]struct{}

	mu     sync.RWMutex
	byAddr map[netip.Addr]*entry
	byPeer map[id.ID]*entry

	timerMu sync.Mutex
	timer   clock.Timer // sweep; nil when SweepEvery is zero or closed
	closed  bool
}

// New returns an empty table for cfg and starts its sweep timer (if
// cfg.SweepEvery is set); Close stops it.
func New(cfg Config) (*Table, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	cfg.Reserved = append([]netip.Addr(nil), cfg.Reserved...)
	t := &Table{
		cfg:      cfg,
		clock:    clock.OrReal(cfg.Clock),
		reserved: make(map[netip.Addr]struct{}, len(cfg.Reserved)),
		byAddr:   make(map[netip.Addr]*entry),
		byPeer:   make(map[id.ID]*entry),
	}
	if cfg.Pool4.IsValid() {
		t.cfg.Pool4 = cfg.Pool4.Masked()
		t.self4 = Derive(t.cfg.Pool4, cfg.Self)
	}
	if cfg.Pool6.IsValid() {
		t.cfg.Pool6 = cfg.Pool6.Masked()
		t.self6 = Derive(t.cfg.Pool6, cfg.Self)
	}
	for _, a := range cfg.Reserved {
		t.reserved[a] = struct{}{}
	}
	if cfg.SweepEvery > 0 {
		t.timerMu.Lock()
		t.timer = t.clock.AfterFunc(cfg.SweepEvery, t.sweep)
		t.timerMu.Unlock()
	}
	return t, nil
}

// Close stops the sweep timer. The table stays usable.
func (t *Table) Close() {
	t.timerMu.Lock()
	defer t.timerMu.Unlock()
	t.closed = true
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
}

// Self returns this host's own tun addresses: Derive of its public id in each
// pool (the zero Addr for a family that is off).
func (t *Table) Self() (v4, v6 netip.Addr) { return t.self4, t.self6 }

// Pools returns the table's pools (masked; the zero Prefix for a family that
// is off).
func (t *Table) Pools() (pool4, pool6 netip.Prefix) { return t.cfg.Pool4, t.cfg.Pool6 }

// Len returns the number of mappings.
func (t *Table) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.byPeer)
}

// Assign returns the virtual addresses of peer, creating its mapping if it has
// none, and refreshes the mapping's last use (a DNS answer counts as a use).
// A new mapping gets the derived addresses when they are free; otherwise
// (another peer, this host or a reserved address has one) a free address chosen
// at random from the pool, and preserved is false: the proxy must rewrite
// headers (see Mapping.Derived4). preserved covers both families; the
// mapping's Preserved4 and Preserved6 tell them apart. A non-empty name
// replaces the mapping's name.
func (t *Table) Assign(peer id.ID, name string) (v4, v6 netip.Addr, preserved bool, err error) {
	if peer == t.cfg.Self {
		return v4, v6, false, fmt.Errorf("vaddr: assign %s: %w", peer.Short(), ErrSelf)
	}
	now := t.clock.Now().UnixNano()
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.byPeer[peer]; e != nil {
		if name != "" {
			e.m.Name = name
		}
		e.last.Store(now)
		return e.m.V4, e.m.V6, e.m.Preserved(), nil
	}
	if len(t.byPeer) >= t.cfg.MaxMappings {
		return v4, v6, false, fmt.Errorf("vaddr: assign %s: %w (%d mappings)", peer.Short(), ErrFull, len(t.byPeer))
	}
	e := &entry{m: Mapping{Peer: peer, Name: name}}
	if t.cfg.Pool4.IsValid() {
		e.m.Derived4 = Derive(t.cfg.Pool4, peer)
		if e.m.V4, err = t.pick(t.cfg.Pool4, e.m.Derived4); err != nil {
			return v4, v6, false, fmt.Errorf("vaddr: assign %s: %w", peer.Short(), err)
		}
	}
	if t.cfg.Pool6.IsValid() {
		e.m.Derived6 = Derive(t.cfg.Pool6, peer)
		if e.m.V6, err = t.pick(t.cfg.Pool6, e.m.Derived6); err != nil {
			return v4, v6, false, fmt.Errorf("vaddr: assign %s: %w", peer.Short(), err)
		}
	}
	e.last.Store(now)
	t.insertLocked(e)
	return e.m.V4, e.m.V6, e.m.Preserved(), nil
}

// insertLocked adds e to both indexes; t.mu is held for writing.
func (t *Table) insertLocked(e *entry) {
	t.byPeer[e.m.Peer] = e
	if e.m.V4.IsValid() {
		t.byAddr[e.m.V4] = e
	}
	if e.m.V6.IsValid() {
		t.byAddr[e.m.V6] = e
	}
}

// deleteLocked removes e from both indexes; t.mu is held for writing.
func (t *Table) deleteLocked(e *entry) {
	delete(t.byPeer, e.m.Peer)
	if e.m.V4.IsValid() {
		delete(t.byAddr, e.m.V4)
	}
	if e.m.V6.IsValid() {
		delete(t.byAddr, e.m.V6)
	}
}

// pick returns derived if it is free, else a free address of pool chosen at
// random; t.mu is held.
func (t *Table) pick(pool netip.Prefix, derived netip.Addr) (netip.Addr, error) {
	if t.free(pool, derived) {
		return derived, nil
	}
	var h [16]byte
	for range randomTries {
		binary.BigEndian.PutUint64(h[:8], rand.Uint64())
		binary.BigEndian.PutUint64(h[8:], rand.Uint64())
		if a := withHostBits(pool, h[:]); t.free(pool, a) {
			return a, nil
		}
	}
	// A small pool nearly full: scan it from a random place.
	if pool.Addr().BitLen()-pool.Bits() <= maxScanBits {
		start := withHostBits(pool, h[:])
		for a := start; ; {
			if t.free(pool, a) {
				return a, nil
			}
			if a = a.Next(); !a.IsValid() || !pool.Contains(a) {
				a = pool.Addr()
			}
			if a == start {
				break
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("%w %v", ErrPoolFull, pool)
}

// free reports whether a can be given to a new peer; t.mu is held.
func (t *Table) free(pool netip.Prefix, a netip.Addr) bool {
	if isSpecial(pool, a) || a == t.self4 || a == t.self6 {
		return false
	}
	if _, ok := t.reserved[a]; ok {
		return false
	}
	_, used := t.byAddr[a]
	return !used
}

// Lookup returns the mapping of the peer whose virtual address is addr. It
// does not refresh it (Use does). It allocates nothing.
func (t *Table) Lookup(addr netip.Addr) (Mapping, bool) {
	t.mu.RLock()
	e := t.byAddr[addr]
	if e == nil {
		t.mu.RUnlock()
		return Mapping{}, false
	}
	m := e.mapping()
	t.mu.RUnlock()
	return m, true
}

// Use is Lookup and Touch in one lookup: the per-packet call. It allocates
// nothing.
func (t *Table) Use(addr netip.Addr) (Mapping, bool) {
	now := t.clock.Now().UnixNano()
	t.mu.RLock()
	e := t.byAddr[addr]
	if e == nil {
		t.mu.RUnlock()
		return Mapping{}, false
	}
	touch(e, now)
	m := e.mapping()
	t.mu.RUnlock()
	return m, true
}

// ByPeer returns the mapping of peer. It allocates nothing.
func (t *Table) ByPeer(peer id.ID) (Mapping, bool) {
	t.mu.RLock()
	e := t.byPeer[peer]
	if e == nil {
		t.mu.RUnlock()
		return Mapping{}, false
	}
	m := e.mapping()
	t.mu.RUnlock()
	return m, true
}

// Touch refreshes the mapping whose virtual address is addr and reports
// whether there is one.
func (t *Table) Touch(addr netip.Addr) bool {
	now := t.clock.Now().UnixNano()
	t.mu.RLock()
	e := t.byAddr[addr]
	if e != nil {
		touch(e, now)
	}
	t.mu.RUnlock()
	return e != nil
}

// TouchPeer refreshes the mapping of peer (a packet arrived from it) and
// reports whether there is one.
func (t *Table) TouchPeer(peer id.ID) bool {
	now := t.clock.Now().UnixNano()
	t.mu.RLock()
	e := t.byPeer[peer]
	if e != nil {
		touch(e, now)
	}
	t.mu.RUnlock()
	return e != nil
}

// mapping returns a copy of e's mapping with its last use; the table's lock is
// held (either way).
func (e *entry) mapping() Mapping {
	m := e.m
	m.LastUse = time.Unix(0, e.last.Load()).UTC()
	return m
}

// touch moves e's last use to now if it moved by touchGranularity, so that
// steady traffic reads the shared timestamp but rarely writes it.
func touch(e *entry, now int64) {
	if now-e.last.Load() >= int64(touchGranularity) {
		e.last.Store(now)
	}
}

// Remove deletes the mapping of peer and reports whether there was one.
func (t *Table) Remove(peer id.ID) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.byPeer[peer]
	if e != nil {
		t.deleteLocked(e)
	}
	return e != nil
}
