package server

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/clock"
	"github.com/i3net/i3net/wire"
	"github.com/prometheus/client_golang/prometheus"
)

// TestZeroAllocs: the steady-state paths allocate nothing per datagram:
// forwarding (one id, several ids, multicast, a stack target, a popped id),
// not-present replies, pings, cache requests and trigger refreshes.
func TestZeroAllocs(t *testing.T) {
	fc := clock.NewFake()
	s, conn := newInProcess(t, func(c *Config) { c.Clock = fc })
	w := s.worker
	src := netip.MustParseAddrPort("192.0.2.1:4000")
	to := func(n byte) netip.AddrPort { return netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, n}), 5000) }
	uni, multi, composed, last, ref := id.Random(), id.Random(), id.Random(), id.Random(), id.Random()
	s.install(ipTrigger(uni, to(10)), src.Addr())
	for n := range byte(3) {
		s.install(ipTrigger(multi, to(20+n)), src.Addr())
	}
	s.install(stackTrigger(composed, last), src.Addr())
	s.install(ipTrigger(last, to(30)), src.Addr())

	// A refresh: the nonce the server would have sent in its challenge.
	rt := ipTrigger(ref, src)
	w.now = fc.Now().UnixNano()
	rt.Nonce = w.ch.nonce(&rt, src, w.now)
	s.install(rt, src.Addr())

	cache := &wire.Packet{Flags: wire.FlagFirstHop, Stack: wire.StackOf(uni)}
	cache.AddOption(wire.Option{Type: wire.OptSender, Addr: wire.IPAddr(src)})
	cache.AddOption(wire.Option{Type: wire.OptRequestForCache})
	cache.AddOption(wire.PaddingOption(40)) // as large as the answer

	payload := make([]byte, 100)
	cases := []struct {
		name string
		b    []byte
		out  int // datagrams sent
	}{
		{"one id", dataPacket(payload, netip.AddrPort{}, uni).AppendTo(nil), 1},
		{"one id with SENDER", dataPacket(payload, src, uni).AppendTo(nil), 1},
		{"two ids", dataPacket(payload, src, uni, last).AppendTo(nil), 1},
		{"popped id", dataPacket(payload, src, id.Random(), uni).AppendTo(nil), 1},
		{"multicast", dataPacket(payload, src, multi).AppendTo(nil), 3},
		{"stack target", dataPacket(payload, src, composed).AppendTo(nil), 1},
		{"not present", dataPacket(payload, src, id.Random()).AppendTo(nil), 1},
		{"ping", []byte{0x11, 1, 2, 3}, 1},
		{"reflecting ping", append([]byte{wire.PingBit | wire.PingReflect}, make([]byte, 19)...), 1},
		{"cache request", cache.AppendTo(nil), 1},
		{"refresh", insertPacket(wire.OptTriggerInsert, rt, src).AppendTo(nil), 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := conn.n
			s.feed(src, c.b)
			if got := conn.n - before; got != c.out {
				t.Fatalf("sent %d datagrams, want %d (stats %+v)", got, c.out, s.Stats())
			}
			if a := testing.AllocsPerRun(100, func() { s.feed(src, c.b) }); a != 0 {
				t.Errorf("%.1f allocations per datagram", a)
			}
		})
	}
	if st := s.Stats(); st.Refreshed == 0 || st.Drops != ([NumDropReasons]uint64{}) {
		t.Errorf("stats %+v", st)
	}
}

// TestMulticastHeaders: copies with different headers (a multicast group whose
// members are an IP target and a stack target) each get their own header.
func TestMulticastHeaders(t *testing.T) {
	s, conn := newInProcess(t, nil)
	conn.record = true
	src := netip.MustParseAddrPort("192.0.2.1:4000")
	g, b := id.Random(), id.Random()
	a1, a2 := netip.MustParseAddrPort("192.0.2.10:1"), netip.MustParseAddrPort("192.0.2.11:1")
	s.install(ipTrigger(g, a1), src.Addr())
	s.install(stackTrigger(g, b), src.Addr())
	s.install(ipTrigger(b, a2), src.Addr())
	s.feed(src, dataPacket([]byte("payload"), src, g, id.Random()).AppendTo(nil))
	if len(conn.sent) != 2 {
		t.Fatalf("sent %d", len(conn.sent))
	}
	for _, m := range conn.sent {
		var p wire.Packet
		if err := p.Decode(m.buf); err != nil || string(p.Payload) != "payload" || p.Stack.N != 2 {
			t.Fatalf("to %v: %s (%v)", m.addr, describe(&p), err)
		}
		want := map[netip.AddrPort]id.ID{a1: g, a2: b}[m.addr]
		if p.Stack.IDs[0] != want {
			t.Errorf("to %v: stack starts %v, want %v", m.addr, p.Stack.IDs[0].Short(), want.Short())
		}
	}
}

// TestFanoutLimit: a packet makes at most MaxFanout copies.
func TestFanoutLimit(t *testing.T) {
	s, conn := newInProcess(t, func(c *Config) { c.MaxFanout = 5 })
	src := netip.MustParseAddrPort("192.0.2.1:4000")
	g := id.Random()
	for n := range byte(8) {
		s.install(ipTrigger(g, netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, 10 + n}), 1)), src.Addr())
	}
	s.feed(src, dataPacket([]byte("x"), src, g).AppendTo(nil))
	if st := s.Stats(); conn.n != 5 || st.Delivered != 5 || st.Drops[DropFanout] != 3 {
		t.Errorf("sent %d delivered %d fanout drops %d", conn.n, st.Delivered, st.Drops[DropFanout])
	}
}

// TestFamily: an IPv4 server refuses IPv6 targets and drops replies to IPv6
// senders.
func TestFamily(t *testing.T) {
	s, conn := newInProcess(t, nil)
	src := netip.MustParseAddrPort("192.0.2.1:4000")
	tr := ipTrigger(id.Random(), netip.MustParseAddrPort("[2001:db8::1]:5000"))
	s.feed(src, insertPacket(wire.OptTriggerInsert, tr, src, wire.HelloOption()).AppendTo(nil))
	if st := s.Stats(); st.Refused[RefusedBadTrigger] != 1 || conn.n != 1 {
		t.Errorf("refused %d sent %d", st.Refused[RefusedBadTrigger], conn.n)
	}
	// Sent on by another server of a ring for an IPv6 host: SENDER is trusted
	// as stated, and the TRIGGER_NOT_PRESENT for it cannot go out.
	r, _ := newRingInProcess(t, nil)
	p := dataPacket([]byte("x"), netip.MustParseAddrPort("[2001:db8::2]:1"), idAt(0x60))
	p.Flags &^= wire.FlagFirstHop
	r.feed(peerA, p.AppendTo(nil))
	if st := r.Stats(); st.Drops[DropFamily] != 1 {
		t.Errorf("family drops %d", st.Drops[DropFamily])
	}
}

func TestCollector(t *testing.T) {
	s, _ := newInProcess(t, nil)
	src := netip.MustParseAddrPort("192.0.2.1:4000")
	s.feed(src, []byte{0x20, 0, 0}, []byte{0x11}, dataPacket([]byte("x"), src, id.Random()).AppendTo(nil))
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(s.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			if c := m.GetCounter(); c != nil {
				got[name] = c.GetValue()
			} else {
				got[name] = m.GetGauge().GetValue()
			}
		}
	}
	want := map[string]float64{
		"i3net_server_packets_in_total":                 3,
		"i3net_server_pings_total":                      1,
		"i3net_server_not_present_total":                1,
		"i3net_server_drops_total{reason=version}":      1,
		"i3net_server_drops_total{reason=send_failed}":  0,
		"i3net_server_refused_total{reason=table_full}": 0,
		"i3net_server_triggers":                         0,
		"i3net_server_packets_out_total":                2,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if n := len(got); n != len(metrics)+int(NumDropReasons)+int(NumRefusals) {
		t.Errorf("%d series", n)
	}
	for k := range got {
		if !strings.HasPrefix(k, "i3net_server_") {
			t.Errorf("metric %s", k)
		}
	}
}

// TestSenderWithoutFirstHop: a host that clears FIRST_HOP and names a third
// party as SENDER does not get the server's replies sent there: only a server
// of the ring sends a packet on for another host.
func TestSenderWithoutFirstHop(t *testing.T) {
	s, conn := newInProcess(t, nil)
	conn.record = true
	src := netip.MustParseAddrPort("192.0.2.1:4000")
	victim := netip.MustParseAddrPort("198.51.100.7:53")
	p := dataPacket([]byte("x"), victim, id.Random()) // no trigger: TRIGGER_NOT_PRESENT
	p.Flags &^= wire.FlagFirstHop
	s.feed(src, p.AppendTo(nil))
	if got, _ := conn.take(victim); len(got) != 0 {
		t.Errorf("%d replies sent to the SENDER a host named", len(got))
	}
	if got, _ := conn.take(src); len(got) != 1 || got[0].Option(wire.OptTriggerNotPresent) == nil {
		t.Errorf("the host got %v, want TRIGGER_NOT_PRESENT", got)
	}
}
