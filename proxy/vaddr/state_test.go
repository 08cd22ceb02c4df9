package vaddr

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
)

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	self, collide, forced, reserve := collision()
	tab, clk := newTestTable(t, self, reserve)
	tab.Assign(id.FromName("bob"), "bob")
	clk.Advance(2 * time.Minute)
	for _, name := range []string{"carol", "dave"} {
		if _, _, _, err := tab.Assign(id.FromName(name), name); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(testTO - time.Minute) // bob idle for TO+1min: gone on restore; the others kept
	snap := tab.Snapshot()
	for i := 1; i < len(snap.Mappings); i++ {
		if string(snap.Mappings[i-1].Peer[:]) >= string(snap.Mappings[i].Peer[:]) {
			t.Fatal("snapshot not ordered by peer")
		}
	}

	b, err := json.MarshalIndent(snap, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	var back State
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}

	// A new process: a fresh table at the same (fake) time.
	restored, _ := newTestTable(t, self, reserve)
	restored.clock = clk
	if err := restored.Restore(back); err != nil {
		t.Fatal(err)
	}
	for _, m := range snap.Mappings {
		got, ok := restored.ByPeer(m.Peer)
		if m.Peer == id.FromName("bob") {
			if ok {
				t.Fatal("restored a mapping idle for TO")
			}
			continue
		}
		if !ok || got != m {
			t.Fatalf("restored %+v, want %+v", got, m)
		}
		if l, ok := restored.Lookup(m.V4); !ok || l.Peer != m.Peer {
			t.Fatalf("Lookup(%v) after restore = %+v", m.V4, l)
		}
	}
	if m, _ := restored.ByPeer(collide); m.Preserved4() || m.Derived4 != forced {
		t.Fatalf("the collision was not restored: %+v", m)
	}
	// The restored table goes on working: a new peer avoids restored addresses.
	v4, _, _, err := restored.Assign(id.FromName("erin"), "erin")
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := restored.Lookup(v4); m.Peer != id.FromName("erin") {
		t.Fatal("new mapping broke")
	}
}

func TestRestoreRefuses(t *testing.T) {
	self, peer := id.FromName("alice"), id.FromName("bob")
	tab, _ := newTestTable(t, self, nil)
	tab.Assign(peer, "bob")
	good := tab.Snapshot()
	svc := ServiceAddr(DefaultPool4)
	own4, _ := tab.Self()

	tests := []struct {
		name   string
		change func(s *State)
		want   string
	}{
		{"version", func(s *State) { s.Version = 9 }, "version"},
		{"identity", func(s *State) { s.Self = id.FromName("mallory") }, "is for id"},
		{"pools", func(s *State) { s.Pool4 = netip.MustParsePrefix("10.0.0.0/8") }, "pools"},
		{"outside", func(s *State) { s.Mappings[0].V4 = netip.MustParseAddr("10.0.0.1") }, "not in pool"},
		{"service", func(s *State) { s.Mappings[0].V4 = svc }, "reserved"},
		{"own", func(s *State) { s.Mappings[0].V4 = own4 }, "reserved"},
		{"twice", func(s *State) {
			m := s.Mappings[0]
			m.Peer = id.FromName("carol")
			s.Mappings = append(s.Mappings, m)
		}, "twice"},
		{"self as peer", func(s *State) { s.Mappings[0].Peer = self }, "this host"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			s.Mappings = append([]Mapping(nil), good.Mappings...)
			tc.change(&s)
			fresh, _ := newTestTable(t, self, nil)
			fresh.Assign(id.FromName("zed"), "zed")
			err := fresh.Restore(s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Restore: %v, want an error about %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "vaddr: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			if _, ok := fresh.ByPeer(id.FromName("zed")); !ok || fresh.Len() != 1 {
				t.Fatal("a refused Restore changed the table")
			}
		})
	}
}
