package vaddr

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
)

// FuzzRestore feeds arbitrary bytes to what the proxy does with its state file
// at start (JSON into a State, then Restore): no input panics, a refused state
// leaves the table as it was, and a state Restore accepts gives mappings that
// are in their pools, unique, never this host's own addresses, and survive a
// Snapshot → JSON → Restore round trip unchanged. The state file is the proxy's
// own (0600), but a damaged or hand-edited one must not stop a host from
// starting or give a peer another's address. Seeds: a real snapshot, with a
// collision, and a few broken variants.
func FuzzRestore(f *testing.F) {
	self, _, _, reserve := collision()
	{
		tab, clk := newTestTable(f, self, reserve)
		for _, n := range []string{"bob", "carol", "dave"} {
			tab.Assign(id.FromName(n), n)
		}
		clk.Advance(time.Minute)
		good, _ := json.Marshal(tab.Snapshot())
		f.Add(good)
		f.Add(good[:len(good)/2])
		f.Add([]byte(`{"version":1,"self":"` + self.String() + `","pool4":"100.64.0.0/10","pool6":"fd69:3369:3300::/48","mappings":[{"peer":"` + self.String() + `"}]}`))
		f.Add([]byte(`{"version":1,"self":"` + self.String() + `","pool4":"100.64.0.0/10","pool6":"fd69:3369:3300::/48","mappings":null}`))
		f.Add([]byte(`{"version":2}`))
		f.Add([]byte(`null`))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, clk := newTestTable(t, self, reserve)
		tab.max = 64
		bob := id.FromName("bob")
		tab.Assign(bob, "bob")
		before := tab.Snapshot()
		var s State
		if json.Unmarshal(data, &s) != nil {
			return
		}
		if err := tab.Restore(s); err != nil {
			if after := tab.Snapshot(); !reflect.DeepEqual(before.Mappings, after.Mappings) {
				t.Fatalf("refused state (%v) changed the table: %+v", err, after.Mappings)
			}
			return
		}
		self4, self6 := tab.Self()
		snap := tab.Snapshot()
		seen := map[netip.Addr]id.ID{}
		for _, m := range snap.Mappings {
			for _, c := range []struct {
				a    netip.Addr
				pool netip.Prefix
			}{{m.V4, DefaultPool4}, {m.V6, DefaultPool6}} {
				if !c.a.IsValid() || !c.pool.Contains(c.a) {
					t.Fatalf("restored %s at %v: not in %v", m.Peer.Short(), c.a, c.pool)
				}
				if c.a == self4 || c.a == self6 {
					t.Fatalf("restored %s at this host's own address %v", m.Peer.Short(), c.a)
				}
				if o, dup := seen[c.a]; dup {
					t.Fatalf("restored %v for %s and %s", c.a, o.Short(), m.Peer.Short())
				}
				seen[c.a] = m.Peer
			}
			if l, ok := tab.Lookup(m.V4); !ok || l.Peer != m.Peer {
				t.Fatalf("Lookup(%v) = %+v, %v; want %s", m.V4, l, ok, m.Peer.Short())
			}
		}
		b, err := json.Marshal(snap)
		if err != nil {
			t.Fatal(err)
		}
		var back State
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		again, _ := newTestTable(t, self, reserve)
		again.max = 64
		again.clock = clk
		if err := again.Restore(back); err != nil {
			t.Fatalf("a snapshot of a restored table does not restore: %v\n%s", err, b)
		}
		if got := again.Snapshot(); !reflect.DeepEqual(got.Mappings, snap.Mappings) {
			t.Fatalf("round trip changed the mappings:\n%+v\n%+v", snap.Mappings, got.Mappings)
		}
	})
}
