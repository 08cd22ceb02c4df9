package vaddr

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/clock"
)

// testTO is the mapping timeout of the tests' tables (the proxy's default).
const testTO = 7200 * time.Second

// testTable is the smallest index an Allocator needs, as the proxy's peer
// registry is: mappings by address and by peer, with a last use.
type testTable struct {
	*Allocator
	clock  clock.Clock
	max    int
	byAddr map[netip.Addr]*Mapping
	byPeer map[id.ID]*Mapping
}

// collision is the setting of the state tests: the host "alice", and a config
// change (reserve) that reserves forced, the IPv4 address "carol" derives, so
// that carol's mapping collides and has to take another address.
func collision() (self, carol id.ID, forced netip.Addr, reserve func(*Config)) {
	self, carol = id.FromName("alice"), id.FromName("carol")
	forced = Derive(DefaultPool4, carol)
	return self, carol, forced, func(c *Config) { c.Reserved = []netip.Addr{forced} }
}

// newTestTable returns a table for self with a fake clock; change adjusts the
// default config first.
func newTestTable(t testing.TB, self id.ID, change func(*Config)) (*testTable, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake()
	cfg := DefaultConfig(self)
	if change != nil {
		change(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &testTable{Allocator: a, clock: clk, max: 1 << 16, byAddr: map[netip.Addr]*Mapping{}, byPeer: map[id.ID]*Mapping{}}, clk
}

func (t *testTable) taken(a netip.Addr) bool { return t.byAddr[a] != nil }

// Assign returns peer's addresses, making its mapping when it has none.
func (t *testTable) Assign(peer id.ID, name string) (v4, v6 netip.Addr, preserved bool, err error) {
	if m := t.byPeer[peer]; m != nil {
		if name != "" {
			m.Name = name
		}
		m.LastUse = t.clock.Now().UTC()
		return m.V4, m.V6, m.Preserved(), nil
	}
	if len(t.byPeer) >= t.max {
		return v4, v6, false, fmt.Errorf("table full")
	}
	m, err := t.Allocator.Assign(peer, name, t.taken)
	if err != nil {
		return v4, v6, false, err
	}
	m.LastUse = t.clock.Now().UTC()
	t.add(m)
	return m.V4, m.V6, m.Preserved(), nil
}

func (t *testTable) add(m Mapping) {
	p := &m
	t.byPeer[m.Peer] = p
	for _, a := range []netip.Addr{m.V4, m.V6} {
		if a.IsValid() {
			t.byAddr[a] = p
		}
	}
}

func (t *testTable) Lookup(a netip.Addr) (Mapping, bool) {
	if m := t.byAddr[a]; m != nil {
		return *m, true
	}
	return Mapping{}, false
}

func (t *testTable) ByPeer(x id.ID) (Mapping, bool) {
	if m := t.byPeer[x]; m != nil {
		return *m, true
	}
	return Mapping{}, false
}

func (t *testTable) Remove(x id.ID) bool {
	m := t.byPeer[x]
	if m == nil {
		return false
	}
	delete(t.byPeer, x)
	delete(t.byAddr, m.V4)
	delete(t.byAddr, m.V6)
	return true
}

func (t *testTable) Len() int { return len(t.byPeer) }

func (t *testTable) Snapshot() State {
	var ms []Mapping
	for _, m := range t.byPeer {
		ms = append(ms, *m)
	}
	if ms == nil {
		ms = []Mapping{}
	}
	return t.State(ms, t.clock.Now())
}

// Restore replaces the mappings with the live ones of s, or changes nothing.
func (t *testTable) Restore(s State) error {
	ms, err := t.Allocator.Restore(s, t.clock.Now(), testTO, t.max)
	if err != nil {
		return err
	}
	t.byAddr, t.byPeer = map[netip.Addr]*Mapping{}, map[id.ID]*Mapping{}
	for _, m := range ms {
		t.add(m)
	}
	return nil
}
