package server

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/wire"
)

// TestDeliveredBytes: the headers the server writes on delivery (in place in
// front of the payload, or in a copy for a second header) are the bytes the
// wire.Packet encoder gives for the packet delivered.
func TestDeliveredBytes(t *testing.T) {
	src := netip.MustParseAddrPort("192.0.2.1:4000")
	a1, a2 := netip.MustParseAddrPort("192.0.2.10:1"), netip.MustParseAddrPort("192.0.2.11:1")
	g, b, rest := id.Random(), id.Random(), id.Random()
	payload := []byte("payload")
	delivered := func(flags uint8, sender netip.AddrPort, ids ...id.ID) []byte {
		p := wire.Packet{Flags: wire.FlagData | flags, Stack: wire.StackOf(ids...), Payload: payload}
		if sender.IsValid() {
			p.AddOption(wire.Option{Type: wire.OptSender, Addr: wire.IPAddr(sender)})
		}
		return p.AppendTo(nil)
	}
	shortcut := func(p *wire.Packet) *wire.Packet { p.Flags |= wire.FlagShortcut; return p }
	tests := []struct {
		name     string
		triggers []wire.Trigger
		in       *wire.Packet
		want     map[netip.AddrPort][]byte
	}{
		{"one id", []wire.Trigger{ipTrigger(g, a1)}, dataPacket(payload, netip.AddrPort{}, g),
			map[netip.AddrPort][]byte{a1: delivered(0, netip.AddrPort{}, g)}},
		{"rest of the stack", []wire.Trigger{ipTrigger(g, a1)}, dataPacket(payload, src, g, rest),
			map[netip.AddrPort][]byte{a1: delivered(0, netip.AddrPort{}, g, rest)}},
		{"shortcut with SENDER", []wire.Trigger{shortcutTrigger(ipTrigger(g, a1))}, shortcut(dataPacket(payload, src, g)),
			map[netip.AddrPort][]byte{a1: delivered(wire.FlagShortcut, src, g)}},
		{"two headers", []wire.Trigger{ipTrigger(g, a1), stackTrigger(g, b), ipTrigger(b, a2)}, dataPacket(payload, src, g, rest),
			map[netip.AddrPort][]byte{a1: delivered(0, netip.AddrPort{}, g, rest), a2: delivered(0, netip.AddrPort{}, b, rest)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, conn := newInProcess(t, nil)
			conn.record = true
			for _, tg := range tt.triggers {
				s.install(tg, src.Addr())
			}
			s.feed(src, tt.in.AppendTo(nil))
			if len(conn.sent) != len(tt.want) {
				t.Fatalf("sent %d datagrams, want %d", len(conn.sent), len(tt.want))
			}
			for _, m := range conn.sent {
				if want := tt.want[m.addr]; !bytes.Equal(m.buf, want) {
					t.Errorf("to %v:\n got %x\nwant %x", m.addr, m.buf, want)
				}
			}
		})
	}
}

func shortcutTrigger(t wire.Trigger) wire.Trigger { t.Flags |= wire.TriggerShortcut; return t }
