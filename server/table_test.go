package server

import (
	"net/netip"
	"testing"

	"github.com/i3net/i3net/id"
)

func TestTableLookup(t *testing.T) {
	const now, later = 1000, 2000
	base := id.Random()
	at := func(i int, b byte) id.ID { x := base; x[i] = b; return x }
	addr := func(n int) netip.AddrPort { return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(n)}), 1) }
	owner := netip.MustParseAddr("10.9.9.9")

	type trig struct {
		x       id.ID
		prefix  uint16
		to      int
		expires int64
	}
	tests := []struct {
		name   string
		trigs  []trig
		pkt    id.ID
		want   []int // target numbers, in insertion order
		winner id.ID
	}{
		{"exact", []trig{{base, 128, 1, later}}, base, []int{1}, base},
		{"128 bits suffice", []trig{{base, 128, 1, later}}, at(31, ^base[31]), []int{1}, base},
		{"fewer than 128 never", []trig{{base, 0, 1, later}}, at(15, ^base[15]), nil, id.ID{}},
		{"prefix length honoured", []trig{{base, 256, 1, later}}, at(31, ^base[31]), nil, id.ID{}},
		{"longest match wins", []trig{{at(20, 0x00), 128, 1, later}, {at(20, 0xff), 128, 2, later}}, at(20, 0xfe), []int{2}, at(20, 0xff)},
		{"multicast", []trig{{base, 128, 1, later}, {at(30, 1), 128, 9, later}, {base, 128, 2, later}, {base, 128, 3, later}}, base, []int{1, 2, 3}, base},
		// 0x40 and 0x60 both first differ from 0x00 at the second bit of
		// byte 20: both share 161 bits with the packet, a tie.
		{"tie goes to the smaller id", []trig{{at(20, 0x60), 128, 2, later}, {at(20, 0x40), 128, 1, later}}, at(20, 0x00), []int{1}, at(20, 0x40)},
		{"expired ignored", []trig{{base, 128, 1, now}, {at(31, 1), 128, 2, later}}, base, []int{2}, at(31, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := newTable(100, 100)
			for _, tr := range tt.trigs {
				if r := tb.upsert(entry{id: tr.x, prefixLen: tr.prefix, ip: addr(tr.to), expires: tr.expires, owner: owner}, 0); r != upsertInstalled {
					t.Fatalf("upsert: %v", r)
				}
			}
			win, got, excess, ok := tb.lookup(tt.pkt, now, nil, 100)
			if ok != (tt.want != nil) || excess != 0 {
				t.Fatalf("ok %v excess %d", ok, excess)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("targets %v, want %v", got, tt.want)
			}
			for i, n := range tt.want {
				if got[i].ip != addr(n) {
					t.Errorf("target %d: %v, want %v", i, got[i].ip, addr(n))
				}
			}
			if ok && win != tt.winner {
				t.Errorf("winner %v, want %v", win.Short(), tt.winner.Short())
			}
		})
	}
}

func TestTableLimitsAndExpiry(t *testing.T) {
	tb := newTable(3, 2)
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	to := netip.MustParseAddrPort("10.1.1.1:1")
	x, y, z, w := id.Random(), id.Random(), id.Random(), id.Random()
	steps := []struct {
		x     id.ID
		owner netip.Addr
		exp   int64
		want  upsertResult
	}{
		{x, a, 100, upsertInstalled},
		{x, a, 200, upsertRefreshed}, // same id and target: a refresh, not a second trigger
		{y, a, 100, upsertInstalled},
		{z, a, 100, upsertSourceLimit}, // a holds 2
		{z, b, 100, upsertInstalled},
		{w, b, 100, upsertTableFull}, // the table holds 3
	}
	for i, s := range steps {
		if got := tb.upsert(entry{id: s.x, prefixLen: 128, ip: to, expires: s.exp, owner: s.owner}, 50); got != s.want {
			t.Fatalf("step %d: %v, want %v", i, got, s.want)
		}
	}
	if tb.len() != 3 {
		t.Fatalf("len %d", tb.len())
	}
	if !tb.remove(y, target{ip: to}) || tb.remove(y, target{ip: to}) {
		t.Fatal("remove")
	}
	if n := tb.expire(150); n != 1 || tb.len() != 1 { // z; x lives to 200
		t.Fatalf("expired %d, len %d", n, tb.len())
	}
	if tb.perSource[a] != 1 || tb.perSource[b] != 0 {
		t.Fatalf("per source %v", tb.perSource)
	}
	// A stack target is a different trigger from an IP one.
	if got := tb.upsert(entry{id: x, prefixLen: 128, stack: []id.ID{y}, expires: 300, owner: b}, 150); got != upsertInstalled {
		t.Fatalf("stack trigger: %v", got)
	}
	if !tb.remove(x, target{stack: []id.ID{y}}) || !tb.remove(x, target{ip: to}) || tb.len() != 0 || len(tb.perSource) != 0 {
		t.Fatalf("len %d per source %v", tb.len(), tb.perSource)
	}
}

func TestTableFanoutLimit(t *testing.T) {
	tb := newTable(100, 100)
	x := id.Random()
	for i := range 10 {
		tb.upsert(entry{id: x, prefixLen: 128, ip: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 1), expires: 100}, 0)
	}
	_, got, excess, ok := tb.lookup(x, 0, nil, 4)
	if !ok || len(got) != 4 || excess != 6 {
		t.Fatalf("got %d excess %d", len(got), excess)
	}
}
