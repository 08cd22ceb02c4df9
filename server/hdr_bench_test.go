package server

import (
	"net/netip"
	"testing"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/wire"
)

// BenchmarkForwardHeaders measures forwarding by the header it writes (a
// one-id header in place; a longer one in place, with the rest of the stack
// or a shortcut's SENDER; a second header in a copy): one op is one data
// packet (64-byte payload) through the in-process worker.
func BenchmarkForwardHeaders(b *testing.B) {
	src := netip.MustParseAddrPort("192.0.2.1:4000")
	a1, a2 := netip.MustParseAddrPort("192.0.2.10:1"), netip.MustParseAddrPort("192.0.2.11:1")
	g, m, next := id.Random(), id.Random(), id.Random()
	payload := make([]byte, 64)
	sc := ipTrigger(g, a1)
	sc.Flags |= wire.TriggerShortcut
	withShortcut := dataPacket(payload, src, g)
	withShortcut.Flags |= wire.FlagShortcut
	cases := []struct {
		name     string
		triggers []wire.Trigger
		in       *wire.Packet
		out      int
	}{
		{"one id", []wire.Trigger{ipTrigger(g, a1)}, dataPacket(payload, netip.AddrPort{}, g), 1},
		{"rest of the stack", []wire.Trigger{ipTrigger(g, a1)}, dataPacket(payload, src, g, id.Random()), 1},
		{"shortcut SENDER", []wire.Trigger{sc}, withShortcut, 1},
		{"two headers", []wire.Trigger{ipTrigger(m, a1), stackTrigger(m, next), ipTrigger(next, a2)},
			dataPacket(payload, src, m, id.Random()), 2},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s, conn := newInProcess(b, func(cfg *Config) { cfg.DataRate = 0 })
			for _, t := range c.triggers {
				s.install(t, src.Addr())
			}
			pkt := c.in.AppendTo(nil)
			w := s.worker
			b.ReportAllocs()
			for b.Loop() {
				m := &w.in[0]
				m.n = copy(m.buf, pkt)
				m.addr, m.dst, m.trunc = src, netip.Addr{}, false
				w.processBatch(w.in[:1])
			}
			if conn.n != c.out*b.N {
				b.Fatalf("sent %d datagrams for %d packets, want %d each", conn.n, b.N, c.out)
			}
		})
	}
}
