package server

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/wire"
)

// deliveryCase is a data packet, the triggers it meets, and the datagrams
// that must come out, by destination.
type deliveryCase struct {
	name     string
	triggers []wire.Trigger
	in       *wire.Packet
	want     map[netip.AddrPort][]byte
}

// deliveryCases cover each header the server writes on delivery: one id in
// place, a longer one in place (the rest of the stack, a shortcut's SENDER),
// and a second header in a copy.
func deliveryCases(src netip.AddrPort) []deliveryCase {
	a1, a2 := netip.MustParseAddrPort("192.0.2.10:1"), netip.MustParseAddrPort("192.0.2.11:1")
	g, b, rest := id.Random(), id.Random(), id.Random()
	payload := []byte("payload")
	// out is the datagram delivered, as the Packet encoder writes it.
	out := func(flags uint8, sender netip.AddrPort, ids ...id.ID) []byte {
		p := wire.Packet{Flags: wire.FlagData | flags, Stack: wire.StackOf(ids...), Payload: payload}
		if sender.IsValid() {
			p.AddOption(wire.Option{Type: wire.OptSender, Addr: wire.IPAddr(sender)})
		}
		return p.AppendTo(nil)
	}
	none := netip.AddrPort{}
	sc := ipTrigger(g, a1)
	sc.Flags |= wire.TriggerShortcut
	shortcut := dataPacket(payload, src, g)
	shortcut.Flags |= wire.FlagShortcut
	return []deliveryCase{
		{"one id", []wire.Trigger{ipTrigger(g, a1)}, dataPacket(payload, none, g),
			map[netip.AddrPort][]byte{a1: out(0, none, g)}},
		{"rest of the stack", []wire.Trigger{ipTrigger(g, a1)}, dataPacket(payload, src, g, rest),
			map[netip.AddrPort][]byte{a1: out(0, none, g, rest)}},
		{"shortcut SENDER", []wire.Trigger{sc}, shortcut,
			map[netip.AddrPort][]byte{a1: out(wire.FlagShortcut, src, g)}},
		{"two headers", []wire.Trigger{ipTrigger(g, a1), stackTrigger(g, b), ipTrigger(b, a2)}, dataPacket(payload, src, g, rest),
			map[netip.AddrPort][]byte{a1: out(0, none, g, rest), a2: out(0, none, b, rest)}},
	}
}

// TestDeliveredBytes: the headers the server writes on delivery are the
// bytes the wire.Packet encoder gives for the packet delivered.
func TestDeliveredBytes(t *testing.T) {
	src := netip.MustParseAddrPort("192.0.2.1:4000")
	for _, c := range deliveryCases(src) {
		t.Run(c.name, func(t *testing.T) {
			s, conn := newInProcess(t, nil)
			conn.record = true
			for _, tg := range c.triggers {
				s.install(tg, src.Addr())
			}
			s.feed(src, c.in.AppendTo(nil))
			if len(conn.sent) != len(c.want) {
				t.Fatalf("sent %d datagrams, want %d", len(conn.sent), len(c.want))
			}
			for _, m := range conn.sent {
				if want := c.want[m.addr]; !bytes.Equal(m.buf, want) {
					t.Errorf("to %v:\n got %x\nwant %x", m.addr, m.buf, want)
				}
			}
		})
	}
}

// BenchmarkForwardHeaders measures forwarding by the header it writes
// (deliveryCases): one op is one data packet through the in-process worker.
func BenchmarkForwardHeaders(b *testing.B) {
	src := netip.MustParseAddrPort("192.0.2.1:4000")
	for _, c := range deliveryCases(src) {
		b.Run(c.name, func(b *testing.B) {
			s, conn := newInProcess(b, func(cfg *Config) { cfg.DataRate = 0 })
			for _, tg := range c.triggers {
				s.install(tg, src.Addr())
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
			if conn.n != len(c.want)*b.N {
				b.Fatalf("sent %d datagrams for %d packets, want %d each", conn.n, b.N, len(c.want))
			}
		})
	}
}
