package vaddr

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/i3net/i3net/id"
)

// State is the mappings as the proxy saves them in its state file (JSON,
// atomically) and reads them back at start, so that the virtual addresses of
// open sessions survive a restart (§7.2).
type State struct {
	// Version is StateVersion.
	Version int `json:"version"`
	// Self is the public id the mappings were made for; a host with another
	// identity has other own addresses.
	Self id.ID `json:"self"`
	// Pool4 and Pool6 are the pools the addresses come from.
	Pool4 netip.Prefix `json:"pool4,omitzero"`
	Pool6 netip.Prefix `json:"pool6,omitzero"`
	// Saved is when the snapshot was taken.
	Saved time.Time `json:"saved"`
	// Mappings are the mappings, ordered by peer id.
	Mappings []Mapping `json:"mappings"`
}

// State returns the State of mappings (sorted here by peer id) saved at saved.
func (a *Allocator) State(mappings []Mapping, saved time.Time) State {
	slices.SortFunc(mappings, func(x, y Mapping) int { return bytes.Compare(x.Peer[:], y.Peer[:]) })
	return State{Version: StateVersion, Self: a.cfg.Self, Pool4: a.cfg.Pool4, Pool6: a.cfg.Pool6,
		Saved: saved.UTC(), Mappings: mappings}
}

// Restore returns the mappings of s that were used less than to before now.
// The derived addresses are recomputed, not trusted. It refuses a state of
// another version, identity or pools, and one whose mappings are
// inconsistent: an address outside its pool or reserved, an address or peer
// twice, more than max live mappings.
func (a *Allocator) Restore(s State, now time.Time, to time.Duration, max int) ([]Mapping, error) {
	if s.Version != StateVersion {
		return nil, fmt.Errorf("vaddr: restore: state version %d, want %d", s.Version, StateVersion)
	}
	if s.Self != a.cfg.Self {
		return nil, fmt.Errorf("vaddr: restore: state is for id %s, this host is %s", s.Self.Short(), a.cfg.Self.Short())
	}
	if s.Pool4.Masked() != a.cfg.Pool4 || s.Pool6.Masked() != a.cfg.Pool6 {
		return nil, fmt.Errorf("vaddr: restore: state has pools %v and %v, this host uses %v and %v",
			s.Pool4, s.Pool6, a.cfg.Pool4, a.cfg.Pool6)
	}
	addrs := make(map[netip.Addr]bool, 2*len(s.Mappings))
	peers := make(map[id.ID]bool, len(s.Mappings))
	var out []Mapping
	for i, m := range s.Mappings {
		if now.Sub(m.LastUse) >= to {
			continue
		}
		if peers[m.Peer] || m.Peer == a.cfg.Self || m.Peer.IsZero() {
			return nil, fmt.Errorf("vaddr: restore: mapping %d: peer %s is zero, this host or twice", i, m.Peer.Short())
		}
		peers[m.Peer] = true
		if err := a.checkAddrs(m, addrs); err != nil {
			return nil, fmt.Errorf("vaddr: restore: mapping %d (%s): %w", i, m.Peer.Short(), err)
		}
		m.Derived4, m.Derived6 = netip.Addr{}, netip.Addr{}
		if a.cfg.Pool4.IsValid() {
			m.Derived4 = Derive(a.cfg.Pool4, m.Peer)
		}
		if a.cfg.Pool6.IsValid() {
			m.Derived6 = Derive(a.cfg.Pool6, m.Peer)
		}
		out = append(out, m)
	}
	if len(out) > max {
		return nil, fmt.Errorf("vaddr: restore: %d mappings, more than the %d allowed", len(out), max)
	}
	return out, nil
}

// checkAddrs checks that m's addresses are in their pools, not reserved and
// not in seen, and adds them to seen.
func (a *Allocator) checkAddrs(m Mapping, seen map[netip.Addr]bool) error {
	for _, c := range []struct {
		x    netip.Addr
		pool netip.Prefix
	}{{m.V4, a.cfg.Pool4}, {m.V6, a.cfg.Pool6}} {
		if c.x.IsValid() != c.pool.IsValid() || c.x.IsValid() && !c.pool.Contains(c.x) {
			return fmt.Errorf("address %v not in pool %v", c.x, c.pool)
		}
		if !c.x.IsValid() {
			continue
		}
		if seen[c.x] {
			return fmt.Errorf("address %v twice", c.x)
		}
		if a.isReserved(c.pool, c.x) {
			return fmt.Errorf("address %v is reserved", c.x)
		}
		seen[c.x] = true
	}
	return nil
}
