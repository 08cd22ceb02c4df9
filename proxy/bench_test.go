package proxy_test

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/packet"
)

// BenchmarkDNSKnownName is the cost of answering a program's query for a name
// whose mapping exists: the query packet read from the tun device, parsed,
// answered from the book and the mapping table, the answer packet written.
func BenchmarkDNSKnownName(b *testing.B) {
	_, laptop, _ := pair(b, nil, nil)
	laptop.Tun.KeepNone()
	if _, _, ok := laptop.PX.ResolveOverlay("home"); !ok {
		b.Fatal("home does not resolve")
	}
	l4, _ := laptop.Self()
	q := new(mdns.Msg)
	q.SetQuestion("home.i3.", mdns.TypeA)
	qb, _ := q.Pack()
	pkt, _ := packet.Build(packet.Header{Src: netip.AddrPortFrom(l4, 40000), Dst: netip.AddrPortFrom(laptop.PX.Status().Self.DNS, 53), Proto: packet.ProtoUDP}, qb)
	var pp packet.Parsed
	before := laptop.Tun.Written()
	b.ReportAllocs()
	for b.Loop() {
		proxy.OutboundPacket(laptop.PX, pkt, &pp, nil, 1)
	}
	if laptop.Tun.Written() == before {
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
				proxy.ForgetPeer(laptop.PX, k)
			}
			i = 0
			b.StartTimer()
		}
		if err := proxy.AddPeer(laptop.PX, keys[i]); err != nil {
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
		if err := proxy.AddPeer(laptop.PX, k); err != nil {
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

// benchSession brings up laptop's session with home (home's tun keeps
// nothing), resending an echo until one arrives: a handshake may fail on a
// loaded machine. It returns laptop's own IPv4 address and home's mapped one.
func benchSession(b testing.TB, laptop, home *host) (l4, v4 netip.Addr) {
	b.Helper()
	home.Tun.KeepNone()
	l4, _ = laptop.Self()
	v4 = homeAddr4(b, laptop)
	testwait.For(b, "session", func() bool {
		laptop.Tun.Send(echo(b, l4, v4, 1))
		time.Sleep(20 * time.Millisecond)
		return home.Tun.Written() > 0
	})
	return l4, v4
}

// BenchmarkOutboundPacket is the proxy's per-packet cost on the send side:
// parse, look up the peer, seal (a packet of the tun MTU, 1360 bytes); no
// syscall.
func BenchmarkOutboundPacket(b *testing.B) {
	_, laptop, home := pair(b, nil, nil)
	l4, v4 := benchSession(b, laptop, home)
	pkt, _ := packet.Build(packet.Header{Src: netip.AddrPortFrom(l4, 1000), Dst: netip.AddrPortFrom(v4, 2000), Proto: packet.ProtoUDP}, make([]byte, 1360-28))
	buf := make([]byte, len(pkt))
	frame := make([]byte, 0, 2048)
	var pp packet.Parsed
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		copy(buf, pkt)
		if !proxy.OutboundPacket(laptop.PX, buf, &pp, frame[:0], 1) {
			b.Fatal("not sent")
		}
	}
}

// BenchmarkInboundPacket is the per-packet cost on the receive side: open,
// check, queue for the tun write (batched, to an in-memory device).
func BenchmarkInboundPacket(b *testing.B) {
	_, laptop, home := pair(b, nil, nil)
	l4, _ := benchSession(b, laptop, home)
	h4, _ := home.Self()
	pkt, _ := packet.Build(packet.Header{Src: netip.AddrPortFrom(h4, 2000), Dst: netip.AddrPortFrom(l4, 1000), Proto: packet.ProtoUDP}, make([]byte, 1360-28))
	seal, r, ok := proxy.Sealer(home.PX, laptop.Ident.Public())
	if !ok {
		b.Fatal("home has no session with laptop")
	}
	laptop.Tun.KeepNone()
	const chunk = 4096
	frames := make([][]byte, chunk)
	for i := range frames {
		frames[i] = make([]byte, 0, 2048)
	}
	var pp packet.Parsed
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for i := 0; b.Loop(); i++ {
		if i%chunk == 0 {
			b.StopTimer()
			for j := range frames {
				frames[j] = seal(frames[j][:0], pkt)
			}
			b.StartTimer()
		}
		_ = pp
		proxy.Inbound(laptop.PX, r, frames[i%chunk])
		if i%32 == 31 {
			proxy.FlushInbound(laptop.PX)
		}
	}
}
