package proxy

import (
	"net/netip"
	"runtime"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/proxy/packet"
)

// BenchmarkDNSKnownName is the cost of answering a program's query for a name
// whose mapping exists: the query packet read from the tun device, parsed,
// answered from the book and the mapping table, the answer packet written.
func BenchmarkDNSKnownName(b *testing.B) {
	_, laptop, _ := pair(b, nil, nil)
	laptop.tun.keep = false
	if _, _, ok := laptop.px.ResolveOverlay("home"); !ok {
		b.Fatal("home does not resolve")
	}
	l4, _ := laptop.self()
	q := new(mdns.Msg)
	q.SetQuestion("home.i3.", mdns.TypeA)
	qb, _ := q.Pack()
	pkt, _ := packet.Build(packet.Header{Src: netip.AddrPortFrom(l4, 40000), Dst: netip.AddrPortFrom(laptop.px.dns4, 53), Proto: packet.ProtoUDP}, qb)
	var pp packet.Parsed
	before := laptop.tun.written.Load()
	b.ReportAllocs()
	for b.Loop() {
		laptop.px.outboundPacket(pkt, &pp, nil, 1)
	}
	if laptop.tun.written.Load() == before {
		b.Fatal("no answer written")
	}
}

// BenchmarkNewMapping is the cost of a first answer for a host: a mapping
// (virtual addresses) and the peer's state. The handshake it starts runs in
// the background and is not counted.
func BenchmarkNewMapping(b *testing.B) {
	_, laptop, _ := pair(b, nil, nil)
	keys := make([]identity.PublicKey, 0, 4096)
	for range cap(keys) {
		x, _ := identity.Generate()
		keys = append(keys, x.Public())
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(keys) {
			b.StopTimer()
			for _, k := range keys {
				laptop.px.dropPeer(laptop.px.peerByKey(k))
				laptop.px.vt.Remove(k.ID())
			}
			i = 0
			b.StartTimer()
		}
		if _, err := laptop.px.peerFor(keys[i], nil); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// TestMemoryTenThousandMappings measures the heap that 10,000 live mappings
// (peers with addresses, private ids and counters) cost; the target is 50 MB
// for the whole proxy.
func TestMemoryTenThousandMappings(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	_, laptop, _ := pair(t, nil, nil)
	keys := make([]identity.PublicKey, 10000)
	for i := range keys {
		x, _ := identity.Generate()
		keys[i] = x.Public()
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, k := range keys {
		if _, err := laptop.px.peerFor(k, nil); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / float64(len(keys))
	total := float64(after.HeapAlloc) / (1 << 20)
	t.Logf("10,000 mappings: %.0f bytes each, proxy heap %.1f MiB in all (target ≤ 50 MB)", per, total)
	if total > 50 {
		t.Errorf("proxy heap %.1f MiB with 10,000 mappings, over 50 MB", total)
	}
}
