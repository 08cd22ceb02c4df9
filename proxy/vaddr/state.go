package vaddr

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/i3net/i3net/id"
)

// State is what Snapshot saves and Restore loads: the proxy writes it to its
// state file (JSON, atomically) and reads it back at start, so that the
// virtual addresses of open sessions survive a restart (§7.2).
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

// Snapshot returns the table's mappings, ordered by peer id.
func (t *Table) Snapshot() State {
	s := State{
		Version: StateVersion,
		Self:    t.cfg.Self,
		Pool4:   t.cfg.Pool4,
		Pool6:   t.cfg.Pool6,
		Saved:   t.clock.Now().UTC(),
	}
	t.mu.RLock()
	s.Mappings = make([]Mapping, 0, len(t.byPeer))
	for _, e := range t.byPeer {
		s.Mappings = append(s.Mappings, e.mapping())
	}
	t.mu.RUnlock()
	slices.SortFunc(s.Mappings, func(a, b Mapping) int { return bytes.Compare(a.Peer[:], b.Peer[:]) })
	return s
}

// Restore replaces the table's mappings with those of s, except the ones that
// expired meanwhile (their last use is TO or more ago). The derived addresses
// are recomputed, not trusted. It refuses, changing nothing, a state of
// another version, identity or pools, and one whose mappings are inconsistent:
// an address outside its pool or reserved, an address or peer twice, more
// than MaxMappings.
func (t *Table) Restore(s State) error {
	if s.Version != StateVersion {
		return fmt.Errorf("vaddr: restore: state version %d, want %d", s.Version, StateVersion)
	}
	if s.Self != t.cfg.Self {
		return fmt.Errorf("vaddr: restore: state is for id %s, this host is %s", s.Self.Short(), t.cfg.Self.Short())
	}
	if s.Pool4.Masked() != t.cfg.Pool4 || s.Pool6.Masked() != t.cfg.Pool6 {
		return fmt.Errorf("vaddr: restore: state has pools %v and %v, this host uses %v and %v",
			s.Pool4, s.Pool6, t.cfg.Pool4, t.cfg.Pool6)
	}
	now := t.clock.Now()
	byAddr := make(map[netip.Addr]*entry, 2*len(s.Mappings))
	byPeer := make(map[id.ID]*entry, len(s.Mappings))
	for i, m := range s.Mappings {
		if now.Sub(m.LastUse) >= t.cfg.TO {
			continue
		}
		if _, dup := byPeer[m.Peer]; dup || m.Peer == t.cfg.Self || m.Peer.IsZero() {
			return fmt.Errorf("vaddr: restore: mapping %d: peer %s is zero, this host or twice", i, m.Peer.Short())
		}
		e := &entry{m: m}
		e.m.LastUse = time.Time{}
		e.m.Derived4, e.m.Derived6 = netip.Addr{}, netip.Addr{}
		if t.cfg.Pool4.IsValid() {
			e.m.Derived4 = Derive(t.cfg.Pool4, m.Peer)
		}
		if t.cfg.Pool6.IsValid() {
			e.m.Derived6 = Derive(t.cfg.Pool6, m.Peer)
		}
		for _, c := range []struct {
			a    netip.Addr
			pool netip.Prefix
		}{{m.V4, t.cfg.Pool4}, {m.V6, t.cfg.Pool6}} {
			if c.a.IsValid() != c.pool.IsValid() || c.a.IsValid() && !c.pool.Contains(c.a) {
				return fmt.Errorf("vaddr: restore: mapping %d (%s): address %v not in pool %v", i, m.Peer.Short(), c.a, c.pool)
			}
			if !c.a.IsValid() {
				continue
			}
			if _, dup := byAddr[c.a]; dup {
				return fmt.Errorf("vaddr: restore: mapping %d (%s): address %v twice", i, m.Peer.Short(), c.a)
			}
			_, res := t.reserved[c.a]
			if res || isSpecial(c.pool, c.a) || c.a == t.self4 || c.a == t.self6 {
				return fmt.Errorf("vaddr: restore: mapping %d (%s): address %v is reserved", i, m.Peer.Short(), c.a)
			}
			byAddr[c.a] = e
		}
		e.last.Store(m.LastUse.UnixNano())
		byPeer[m.Peer] = e
	}
	if len(byPeer) > t.cfg.MaxMappings {
		return fmt.Errorf("vaddr: restore: %d mappings, more than MaxMappings %d", len(byPeer), t.cfg.MaxMappings)
	}
	t.mu.Lock()
	t.byAddr, t.byPeer = byAddr, byPeer
	t.mu.Unlock()
	return nil
}
