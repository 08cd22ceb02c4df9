package vaddr

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/i3net/i3net/id"
)

// TestBothEndsAgree is §3.3: each end gives the other the address the other
// has on its own tun device, so headers pass unchanged.
func TestBothEndsAgree(t *testing.T) {
	ida, idb := id.FromName("alice"), id.FromName("bob")
	a, _ := newTestTable(t, ida, nil)
	b, _ := newTestTable(t, idb, nil)
	a4, a6 := a.Self()
	b4, b6 := b.Self()
	if a4 != Derive(DefaultPool4, ida) || a6 != Derive(DefaultPool6, ida) {
		t.Fatalf("a's own addresses %v %v are not derived", a4, a6)
	}
	v4, v6, preserved, err := a.Assign(idb, "bob")
	if err != nil || !preserved || v4 != b4 || v6 != b6 {
		t.Fatalf("a.Assign(bob) = %v %v %v %v, want b's own %v %v preserved", v4, v6, preserved, err, b4, b6)
	}
	v4, v6, preserved, err = b.Assign(ida, "alice")
	if err != nil || !preserved || v4 != a4 || v6 != a6 {
		t.Fatalf("b.Assign(alice) = %v %v %v %v, want a's own %v %v preserved", v4, v6, preserved, err, a4, a6)
	}
	m, ok := a.Lookup(b4)
	if !ok || m.Peer != idb || m.Name != "bob" || !m.Preserved() {
		t.Fatalf("a.Lookup(%v) = %+v, %v", b4, m, ok)
	}
	if m6, ok := a.Lookup(b6); !ok || m6.Peer != idb {
		t.Fatalf("a.Lookup(%v) = %+v, %v", b6, m6, ok)
	}
}

func TestCollisionWithReserved(t *testing.T) {
	ida, idb := id.FromName("alice"), id.FromName("bob")
	forced := Derive(DefaultPool4, idb)
	a, _ := newTestTable(t, ida, func(c *Config) { c.Reserved = []netip.Addr{forced} })
	v4, v6, preserved, err := a.Assign(idb, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if preserved || v4 == forced || !DefaultPool4.Contains(v4) || isSpecial(DefaultPool4, v4) {
		t.Fatalf("Assign = %v preserved=%v, want a free address other than %v and preserved=false", v4, preserved, forced)
	}
	m, _ := a.ByPeer(idb)
	if m.Preserved4() || !m.Preserved6() || m.Derived4 != forced || m.V6 != v6 {
		t.Fatalf("mapping %+v: want IPv4 rewritten to %v, IPv6 preserved", m, forced)
	}
	if _, ok := a.Lookup(forced); ok {
		t.Fatalf("the reserved address %v maps to a peer", forced)
	}
}

// collidingIDs returns n ids (not self) whose derived addresses in pool equal
// target.
func collidingIDs(t *testing.T, pool netip.Prefix, target netip.Addr, self id.ID, n int) []id.ID {
	t.Helper()
	var out []id.ID
	for i := 0; len(out) < n && i < 100000; i++ {
		x := id.FromName(fmt.Sprintf("peer-%d", i))
		if x != self && Derive(pool, x) == target {
			out = append(out, x)
		}
	}
	if len(out) < n {
		t.Fatalf("found only %d ids deriving %v", len(out), target)
	}
	return out
}

func TestCollisionBetweenPeersAndWithSelf(t *testing.T) {
	pool := netip.MustParsePrefix("100.64.0.0/28")
	self := id.FromName("alice")
	tab, _ := newTestTable(t, self, func(c *Config) { c.Pool4 = pool; c.Pool6 = netip.Prefix{} })
	own, _ := tab.Self()

	// A peer whose derived address is this host's own.
	p := collidingIDs(t, pool, own, self, 1)[0]
	v4, v6, preserved, err := tab.Assign(p, "")
	if err != nil || preserved || v4 == own || !pool.Contains(v4) || v6.IsValid() {
		t.Fatalf("Assign(peer colliding with self) = %v %v %v %v", v4, v6, preserved, err)
	}

	// Two peers deriving the same address: the first keeps it.
	target := Derive(pool, id.FromName("carol"))
	if target == own || target == v4 {
		t.Skip("carol's address is taken already; pick another name")
	}
	two := collidingIDs(t, pool, target, self, 2)
	first, _, ok1, err1 := tab.Assign(two[0], "x")
	second, _, ok2, err2 := tab.Assign(two[1], "y")
	if err1 != nil || err2 != nil || !ok1 || first != target || ok2 || second == target || second == own || second == v4 {
		t.Fatalf("colliding peers got %v (%v) and %v (%v), errors %v %v", first, ok1, second, ok2, err1, err2)
	}
	if m, _ := tab.Lookup(second); m.Peer != two[1] || m.Derived4 != target {
		t.Fatalf("Lookup(%v) = %+v", second, m)
	}
}

func TestPoolFull(t *testing.T) {
	// /29: 8 addresses; network, broadcast, service and self leave 4.
	pool := netip.MustParsePrefix("100.64.0.0/29")
	tab, _ := newTestTable(t, id.FromName("alice"), func(c *Config) { c.Pool4 = pool })
	for i := range 4 {
		if _, _, _, err := tab.Assign(id.FromName(fmt.Sprint("p", i)), ""); err != nil {
			t.Fatalf("Assign %d: %v", i, err)
		}
	}
	_, _, _, err := tab.Assign(id.FromName("p4"), "")
	if !errors.Is(err, ErrPoolFull) {
		t.Fatalf("fifth Assign: %v, want ErrPoolFull", err)
	}
	if tab.Len() != 4 {
		t.Fatalf("Len = %d after a failed Assign, want 4", tab.Len())
	}
}

func TestAssignExistingAndRemove(t *testing.T) {
	self, peer := id.FromName("alice"), id.FromName("bob")
	tab, clk := newTestTable(t, self, nil)
	if _, _, _, err := tab.Assign(self, "me"); !errors.Is(err, ErrSelf) {
		t.Fatalf("Assign(self): %v, want ErrSelf", err)
	}
	v4, v6, _, _ := tab.Assign(peer, "bob")
	clk.Advance(10)
	w4, w6, _, _ := tab.Assign(peer, "robert")
	if v4 != w4 || v6 != w6 {
		t.Fatalf("second Assign changed the addresses: %v %v -> %v %v", v4, v6, w4, w6)
	}
	if m, _ := tab.ByPeer(peer); m.Name != "robert" {
		t.Fatalf("name %q, want the new one", m.Name)
	}
	tab.Assign(peer, "")
	if m, _ := tab.ByPeer(peer); m.Name != "robert" {
		t.Fatalf("empty name replaced the name: %q", m.Name)
	}
	if !tab.Remove(peer) || tab.Remove(peer) {
		t.Fatal("Remove: want true then false")
	}
	if _, ok := tab.Lookup(v4); ok {
		t.Fatal("Lookup finds a removed mapping")
	}
	if _, ok := tab.Lookup(v6); ok {
		t.Fatal("Lookup finds a removed mapping (IPv6)")
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
	}{
		{"no pools", func(c *Config) { c.Pool4, c.Pool6 = netip.Prefix{}, netip.Prefix{} }},
		{"v6 as pool4", func(c *Config) { c.Pool4 = DefaultPool6 }},
		{"v4 as pool6", func(c *Config) { c.Pool6 = DefaultPool4 }},
		{"tiny pool", func(c *Config) { c.Pool4 = netip.MustParsePrefix("10.0.0.0/31") }},
		{"zero self", func(c *Config) { c.Self = id.ID{} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig(id.FromName("alice"))
			tc.change(&cfg)
			if _, err := New(cfg); err == nil {
				t.Fatal("New accepted the config")
			}
		})
	}
}
