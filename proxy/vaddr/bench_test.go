package vaddr

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"

	"github.com/i3net/i3net/id"
)

// fillTable assigns n peers and returns their IPv4 addresses.
func fillTable(tb testing.TB, tab *Table, n int) []netip.Addr {
	tb.Helper()
	addrs := make([]netip.Addr, n)
	for i := range n {
		v4, _, _, err := tab.Assign(id.FromName(fmt.Sprint("peer-", i)), fmt.Sprint("peer-", i))
		if err != nil {
			tb.Fatal(err)
		}
		addrs[i] = v4
	}
	return addrs
}

func BenchmarkLookup(b *testing.B) {
	tab, _ := newTestTable(b, id.FromName("alice"), nil)
	addrs := fillTable(b, tab, 10000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := tab.Lookup(addrs[i%len(addrs)]); !ok {
			b.Fatal("miss")
		}
		i++
	}
}

func BenchmarkLookupParallel(b *testing.B) {
	tab, _ := newTestTable(b, id.FromName("alice"), nil)
	addrs := fillTable(b, tab, 10000)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			tab.Lookup(addrs[i%len(addrs)])
			i++
		}
	})
}

// BenchmarkUse is the per-packet call with the real clock.
func BenchmarkUse(b *testing.B) {
	cfg := DefaultConfig(id.FromName("alice"))
	cfg.SweepEvery = 0
	tab, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	addrs := fillTable(b, tab, 10000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		tab.Use(addrs[i%len(addrs)])
		i++
	}
}

// BenchmarkAssignNew creates mappings for new peers (a table is refilled from
// empty every 10,000, so it stays at a realistic size).
func BenchmarkAssignNew(b *testing.B) {
	ids := make([]id.ID, 10000)
	for i := range ids {
		ids[i] = id.FromName(fmt.Sprint("peer-", i))
	}
	tab, _ := newTestTable(b, id.FromName("alice"), nil)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(ids) {
			b.StopTimer()
			tab, _ = newTestTable(b, id.FromName("alice"), nil)
			i = 0
			b.StartTimer()
		}
		if _, _, _, err := tab.Assign(ids[i], "peer"); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkAssignExisting is a DNS answer for a mapped peer (a refresh).
func BenchmarkAssignExisting(b *testing.B) {
	tab, _ := newTestTable(b, id.FromName("alice"), nil)
	fillTable(b, tab, 10000)
	x := id.FromName("peer-42")
	b.ReportAllocs()
	for b.Loop() {
		tab.Assign(x, "")
	}
}

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestMemory10k measures the heap 10,000 live mappings take (with 20-byte
// names); the budget is 50 MB.
func TestMemory10k(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap; not in -short")
	}
	const n = 10000
	ids := make([]id.ID, n)
	names := make([]string, n)
	for i := range ids {
		ids[i] = id.FromName(fmt.Sprint("peer-", i))
		names[i] = fmt.Sprintf("peer-%015d", i)
	}
	before := heapInUse()
	tab, _ := newTestTable(t, id.FromName("alice"), nil)
	for i := range n {
		if _, _, _, err := tab.Assign(ids[i], names[i]); err != nil {
			t.Fatal(err)
		}
	}
	after := heapInUse()
	runtime.KeepAlive(tab)
	used := int64(after) - int64(before)
	t.Logf("%d mappings: %d bytes of heap (%.2f MB, %d bytes per mapping)", n, used, float64(used)/1e6, used/n)
	if used > 50e6 {
		t.Fatalf("%d mappings take %d bytes, budget 50 MB", n, used)
	}
}
