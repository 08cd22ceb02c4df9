package vaddr

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/i3net/i3net/id"
)

// Errors of Assign.
var (
	// ErrPoolFull: no free address is left in a pool.
	ErrPoolFull = errors.New("no free address in pool")
	// ErrSelf: the peer is this host.
	ErrSelf = errors.New("peer is this host")
)

// Mapping is the virtual addresses of one peer. It marshals to JSON as a line
// of the state file.
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
	// LastUse is when a packet or a DNS answer last used the mapping (the
	// proxy's peer registry keeps it; here it is only saved and restored).
	LastUse time.Time `json:"last_use"`
}

// Preserved4 reports whether the IPv4 header needs no rewrite for this peer.
func (m Mapping) Preserved4() bool { return m.V4 == m.Derived4 }

// Preserved6 reports whether the IPv6 header needs no rewrite for this peer.
func (m Mapping) Preserved6() bool { return m.V6 == m.Derived6 }

// Preserved reports whether headers of both families need no rewrite.
func (m Mapping) Preserved() bool { return m.Preserved4() && m.Preserved6() }

// Taken reports whether a virtual address is already some peer's. The
// caller's index of peers answers it: the Allocator keeps no index of its own.
type Taken func(netip.Addr) bool

// Allocator gives peers their virtual addresses. It holds only its
// configuration, so it is safe for concurrent use; the caller serializes
// Assign with the updates of the index behind Taken.
type Allocator struct {
	cfg          Config
	self4, self6 netip.Addr
	reserved     map[netip.Addr]struct{}
}

// New returns the Allocator of cfg.
func New(cfg Config) (*Allocator, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	a := &Allocator{cfg: cfg, reserved: make(map[netip.Addr]struct{}, len(cfg.Reserved))}
	a.cfg.Reserved = nil
	if cfg.Pool4.IsValid() {
		a.cfg.Pool4 = cfg.Pool4.Masked()
		a.self4 = Derive(a.cfg.Pool4, cfg.Self)
	}
	if cfg.Pool6.IsValid() {
		a.cfg.Pool6 = cfg.Pool6.Masked()
		a.self6 = Derive(a.cfg.Pool6, cfg.Self)
	}
	for _, r := range cfg.Reserved {
		a.reserved[r] = struct{}{}
	}
	return a, nil
}

// Self returns this host's own tun addresses: Derive of its public id in each
// pool (the zero Addr for a family that is off).
func (a *Allocator) Self() (v4, v6 netip.Addr) { return a.self4, a.self6 }

// Pools returns the pools (masked; the zero Prefix for a family that is off).
func (a *Allocator) Pools() (pool4, pool6 netip.Prefix) { return a.cfg.Pool4, a.cfg.Pool6 }

// Assign returns a new mapping for peer: the derived addresses when they are
// free, otherwise (another peer, this host or a reserved address has one) a
// free address chosen at random from the pool; the mapping is then not
// Preserved and the proxy must rewrite headers (see Mapping.Derived4).
func (a *Allocator) Assign(peer id.ID, name string, taken Taken) (Mapping, error) {
	if peer == a.cfg.Self {
		return Mapping{}, fmt.Errorf("vaddr: assign %s: %w", peer.Short(), ErrSelf)
	}
	m := Mapping{Peer: peer, Name: name}
	var err error
	if a.cfg.Pool4.IsValid() {
		m.Derived4 = Derive(a.cfg.Pool4, peer)
		if m.V4, err = a.pick(a.cfg.Pool4, m.Derived4, taken); err != nil {
			return Mapping{}, fmt.Errorf("vaddr: assign %s: %w", peer.Short(), err)
		}
	}
	if a.cfg.Pool6.IsValid() {
		m.Derived6 = Derive(a.cfg.Pool6, peer)
		if m.V6, err = a.pick(a.cfg.Pool6, m.Derived6, taken); err != nil {
			return Mapping{}, fmt.Errorf("vaddr: assign %s: %w", peer.Short(), err)
		}
	}
	return m, nil
}

// pick returns derived if it is free, else a free address of pool chosen at
// random.
func (a *Allocator) pick(pool netip.Prefix, derived netip.Addr, taken Taken) (netip.Addr, error) {
	if a.free(pool, derived, taken) {
		return derived, nil
	}
	var h [16]byte
	for range randomTries {
		binary.BigEndian.PutUint64(h[:8], rand.Uint64())
		binary.BigEndian.PutUint64(h[8:], rand.Uint64())
		if x := withHostBits(pool, h[:]); a.free(pool, x, taken) {
			return x, nil
		}
	}
	// A small pool nearly full: scan it from a random place.
	if pool.Addr().BitLen()-pool.Bits() <= maxScanBits {
		start := withHostBits(pool, h[:])
		for x := start; ; {
			if a.free(pool, x, taken) {
				return x, nil
			}
			if x = x.Next(); !x.IsValid() || !pool.Contains(x) {
				x = pool.Addr()
			}
			if x == start {
				break
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("%w %v", ErrPoolFull, pool)
}

// free reports whether x can be given to a new peer.
func (a *Allocator) free(pool netip.Prefix, x netip.Addr, taken Taken) bool {
	return !a.isReserved(pool, x) && !taken(x)
}

// isReserved reports whether x is never a peer's: special in its pool, this
// host's own, or reserved by the configuration.
func (a *Allocator) isReserved(pool netip.Prefix, x netip.Addr) bool {
	if isSpecial(pool, x) || x == a.self4 || x == a.self6 {
		return true
	}
	_, ok := a.reserved[x]
	return ok
}
