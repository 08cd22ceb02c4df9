package ring

import (
	"net/netip"
	"testing"

	"github.com/i3net/i3net/id"
)

// threeMembers: a at 0x20…, b at 0x80…, c at 0xe0…; the local one is b.
func threeMembers() (a, b, c Member, s *Snapshot) {
	a, b, c = member("a", 0x20), member("b", 0x80), member("c", 0xe0)
	return a, b, c, NewSnapshot(b, []Member{c, a}, 1)
}

func TestResponsible(t *testing.T) {
	a, b, c, s := threeMembers()
	tests := []struct {
		name string
		k    id.Key128
		want Member
	}{
		{"below every position: the first", key(0x00), a},
		{"the first position itself", key(0x20), a},
		{"just above the first", key(0x20, 1), b},
		{"the middle position", key(0x80), b},
		{"between the second and the third", key(0x90), c},
		{"the last position", key(0xe0), c},
		{"just above the last: wraps to the first", key(0xe0, 1), a},
		{"the top of the ring: wraps", id.Key128{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, a},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.Responsible(tt.k); got != tt.want {
				t.Errorf("Responsible(%x) = %s, want %s", tt.k, got.Name, tt.want.Name)
			}
			if got, want := s.Owns(tt.k), tt.want == b; got != want {
				t.Errorf("Owns(%x) = %v, want %v", tt.k, got, want)
			}
		})
	}
	if got := s.Members(); len(got) != 3 || got[0] != a || got[1] != b || got[2] != c {
		t.Errorf("members %v, want a b c in ring order", got)
	}
	if l, ok := s.Local(); !ok || l != b {
		t.Errorf("local %v %v", l, ok)
	}
}

func TestSuccessors(t *testing.T) {
	a, b, c, s := threeMembers()
	tests := []struct {
		name string
		k    id.Key128
		n    int
		want []Member
	}{
		{"owner and the next", key(0x90), 2, []Member{c, a}},
		{"wraps around", key(0xf0), 3, []Member{a, b, c}},
		{"capped at the ring size", key(0x30), 5, []Member{b, c, a}},
		{"one: the owner", key(0x10), 1, []Member{a}},
		{"none", key(0x10), 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.Successors(tt.k, tt.n)
			if len(got) != len(tt.want) {
				t.Fatalf("Successors = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("Successors[%d] = %s, want %s", i, got[i].Name, tt.want[i].Name)
				}
			}
		})
	}
}

func TestSnapshotEdges(t *testing.T) {
	t.Run("empty", func(t *testing.T) {
		s := NewSnapshot(Member{}, nil, 0)
		if s.Len() != 0 || s.Responsible(key(1)) != (Member{}) || s.Successors(key(1), 3) != nil || s.Owns(key(1)) {
			t.Error("an empty snapshot answers")
		}
		if _, ok := s.Local(); ok {
			t.Error("an empty snapshot has a local member")
		}
	})
	t.Run("one member owns everything", func(t *testing.T) {
		a := member("a", 0x40)
		s := NewSnapshot(a, nil, 0)
		for _, k := range []id.Key128{key(0), key(0x40), key(0x41), key(0xff)} {
			if !s.Owns(k) || s.Responsible(k) != a {
				t.Errorf("key %x not owned by the only member", k)
			}
		}
		if got := s.Successors(key(0x99), 2); len(got) != 1 || got[0] != a {
			t.Errorf("successors %v", got)
		}
	})
	t.Run("equal positions: the first by name owns the range", func(t *testing.T) {
		x, y, z := member("x", 0x50), member("y", 0x50), member("z", 0xa0)
		s := NewSnapshot(y, []Member{z, x}, 0)
		if got := s.Responsible(key(0x50)); got != x {
			t.Errorf("owner %s, want x", got.Name)
		}
		if s.Owns(key(0x30)) || s.Owns(key(0x50)) {
			t.Error("y owns keys it shares with x")
		}
		if got := s.Successors(key(0x50), 3); got[1] != y || got[2] != z {
			t.Errorf("successors %v, want x y z", got)
		}
	})
	t.Run("duplicates by name: the last wins", func(t *testing.T) {
		a := member("a", 0x10)
		a2 := a
		a2.Position = key(0x90)
		s := NewSnapshot(Member{}, []Member{a, a2}, 0)
		if s.Len() != 1 || s.Responsible(key(0x20)) != a2 {
			t.Errorf("members %v", s.Members())
		}
	})
	t.Run("members by data address", func(t *testing.T) {
		a, b, _, s := threeMembers()
		if m, ok := s.ByData(a.Data); !ok || m != a {
			t.Errorf("ByData(%v) = %v %v", a.Data, m, ok)
		}
		if !s.IsMember(b.Data) || s.IsMember(netip.MustParseAddrPort("198.18.0.1:5610")) {
			t.Error("IsMember")
		}
	})
}

// TestSnapshotSwap: a snapshot does not change when a newer one is built
// from the same members plus one (lookups on the old view stay consistent).
func TestSnapshotSwap(t *testing.T) {
	a, b, c, old := threeMembers()
	d := member("d", 0xc0)
	next := NewSnapshot(b, []Member{a, c, d}, 2)
	if old.Responsible(key(0xb0)) != c || next.Responsible(key(0xb0)) != d {
		t.Error("a new member changed the old snapshot or is missing from the new")
	}
	if old.Len() != 3 || next.Len() != 4 || next.Version() != 2 {
		t.Errorf("lens %d %d version %d", old.Len(), next.Len(), next.Version())
	}
	if old.sameMembers(next) || !old.sameMembers(NewSnapshot(b, []Member{c, a}, 9)) {
		t.Error("sameMembers")
	}
}

// TestLookupAllocs: the data path's lookups allocate nothing.
func TestLookupAllocs(t *testing.T) {
	_, b, _, s := threeMembers()
	k := key(0x90)
	var sink int
	allocs := testing.AllocsPerRun(1000, func() {
		m := s.Responsible(k)
		sink += len(m.Name) + len(s.Successors(k, 2))
		if s.Owns(k) || s.IsMember(b.Data) {
			sink++
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per lookup", allocs)
	}
	_ = sink
}
