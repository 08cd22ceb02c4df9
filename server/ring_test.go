package server

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"net/netip"
	"testing"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/clock"
	"github.com/i3net/i3net/ring"
	"github.com/i3net/i3net/wire"
)

// In-process tests of a server in a ring: the ring is a fixed snapshot, no
// gossip. The server under test (inProcessAddr) sits at position 0x80…;
// peer A at 0x40… owns (0xc0…, 0x40…], peer C at 0xc0… owns (0x80…, 0xc0…].

var (
	peerA = netip.MustParseAddrPort("127.0.0.41:5610")
	peerC = netip.MustParseAddrPort("127.0.0.43:5610")
)

// ringMember returns a member at data address data and position b 0 0 ….
func ringMember(data netip.AddrPort, b byte) ring.Member {
	return ring.Member{Name: data.String(), Data: data, Position: id.Key128{b}}
}

// threeRing is the snapshot of the in-process server with peers A and C.
func threeRing() *ring.Snapshot {
	return ring.NewSnapshot(ringMember(inProcessAddr, 0x80),
		[]ring.Member{ringMember(peerA, 0x40), ringMember(peerC, 0xc0)}, 1)
}

// idAt returns a random private id whose first byte is b.
func idAt(b byte) id.ID {
	x := id.Random()
	x[0] = b
	return x
}

// newRingInProcess is newInProcess with the three-server ring and recording.
func newRingInProcess(t testing.TB, edit func(*Config)) (*Server, *fakeConn) {
	t.Helper()
	s, conn := newInProcess(t, func(c *Config) {
		c.Ring = true
		if edit != nil {
			edit(c)
		}
	})
	s.setView(threeRing())
	conn.record = true
	return s, conn
}

// sentTo returns the datagrams recorded for to, decoded, and forgets all.
func (c *fakeConn) take(to netip.AddrPort) (got []*wire.Packet, raw [][]byte) {
	var rest []message
	for _, m := range c.sent {
		if m.addr != to {
			rest = append(rest, m)
			continue
		}
		var p wire.Packet
		if err := p.Decode(m.buf); err != nil {
			panic(err)
		}
		got, raw = append(got, &p), append(raw, m.buf)
	}
	c.sent = rest
	return got, raw
}

// TestHopInProcess: a data packet for an id another server owns goes there
// as it came, FIRST_HOP cleared; its sender gets one hint per prefix (the
// packet is as large as the hint: no reply is larger than its request).
func TestHopInProcess(t *testing.T) {
	s, conn := newRingInProcess(t, nil)
	host := netip.MustParseAddrPort("192.0.2.1:4000")
	x := idAt(0x90) // C's
	pkt := dataPacket([]byte("hop, as large as the hint it earns: ................"), host, x).AppendTo(nil)
	s.feed(host, pkt, pkt)

	got, raw := conn.take(peerC)
	if len(got) != 2 {
		t.Fatalf("%d datagrams to the owner, want 2", len(got))
	}
	want := bytes.Clone(pkt)
	want[1] &^= wire.FlagFirstHop
	if !bytes.Equal(raw[0], want) {
		t.Errorf("sent on\n%x\nwant\n%x", raw[0], want)
	}
	hints, _ := conn.take(host)
	if len(hints) != 1 {
		t.Fatalf("%d datagrams to the sender, want one hint", len(hints))
	}
	h := hints[0].Option(wire.OptCacheAddr)
	if h == nil || h.Trigger.ID != x || h.Trigger.PrefixLen != 128 || h.Trigger.Target != wire.IPAddr(peerC) {
		t.Errorf("hint %s", describe(hints[0]))
	}
	if len(conn.sent) != 0 {
		t.Errorf("%d more datagrams", len(conn.sent))
	}
	st := s.Stats()
	if st.Hops != 2 || st.Hints != 1 || st.Forwarded != 0 || st.RingMembers != 3 {
		t.Errorf("hops %d hints %d forwarded %d members %d", st.Hops, st.Hints, st.Forwarded, st.RingMembers)
	}

	// A packet for an id of its own is handled here.
	r := netip.MustParseAddrPort("192.0.2.2:5000")
	mine := idAt(0x70)
	s.install(ipTrigger(mine, r), r.Addr())
	s.feed(host, dataPacket([]byte("here"), host, mine).AppendTo(nil))
	if got, _ := conn.take(r); len(got) != 1 || s.Stats().Hops != 2 {
		t.Errorf("own id: %d delivered, hops %d", len(got), s.Stats().Hops)
	}
}

// TestPeerPacketsStay: a packet another server sent on (FIRST_HOP clear,
// from a member's data address) is never sent on again, whatever this
// server's view says; peers are not rate-limited.
func TestPeerPacketsStay(t *testing.T) {
	s, conn := newRingInProcess(t, func(c *Config) { c.DataRate, c.DataBurst = 1, 1 })
	host := netip.MustParseAddrPort("192.0.2.1:4000")
	r := netip.MustParseAddrPort("192.0.2.2:5000")
	x := idAt(0x90) // C's, in this server's view
	s.install(ipTrigger(x, r), r.Addr())
	p := dataPacket([]byte("from A"), host, x)
	p.Flags &^= wire.FlagFirstHop
	b := p.AppendTo(nil)
	s.feed(peerA, b, b, b)
	if got, _ := conn.take(r); len(got) != 3 {
		t.Errorf("delivered %d of 3", len(got))
	}
	if got, _ := conn.take(peerC); len(got) != 0 {
		t.Error("a peer's packet was sent on")
	}
	st := s.Stats()
	if st.HopsIn != 3 || st.Misrouted != 3 || st.Hops != 0 || st.Drops[DropRateLimited] != 0 {
		t.Errorf("hops in %d misrouted %d hops %d rate-limited %d", st.HopsIn, st.Misrouted, st.Hops, st.Drops[DropRateLimited])
	}
	// The same packet from a host (not a member) goes on.
	s.feed(host, b)
	if got, _ := conn.take(peerC); len(got) != 1 {
		t.Error("a host's packet without FIRST_HOP was not sent on")
	}
}

// TestCacheRequestAnswered: a cache request alone for another server's id is
// answered here, naming the owner.
func TestCacheRequestAnswered(t *testing.T) {
	s, conn := newRingInProcess(t, nil)
	host := netip.MustParseAddrPort("192.0.2.1:4000")
	for _, tt := range []struct {
		x    id.ID
		want netip.AddrPort
	}{{idAt(0x30), peerA}, {idAt(0xf0), peerA}, {idAt(0xa0), peerC}, {idAt(0x50), inProcessAddr}} {
		p := &wire.Packet{Flags: wire.FlagFirstHop, Stack: wire.StackOf(tt.x)}
		p.AddOption(wire.Option{Type: wire.OptSender, Addr: wire.IPAddr(host)})
		p.AddOption(wire.Option{Type: wire.OptRequestForCache})
		p.AddOption(wire.PaddingOption(40)) // as large as the answer
		s.feed(host, p.AppendTo(nil))
		got, _ := conn.take(host)
		if len(got) != 1 || got[0].Option(wire.OptCacheAddr) == nil {
			t.Fatalf("%d answers", len(got))
		}
		if c := got[0].Option(wire.OptCacheAddr).Trigger; c.ID != tt.x || c.Target != wire.IPAddr(tt.want) {
			t.Errorf("id %s: CACHE_ADDR → %v, want %v", tt.x.Short(), c.Target, tt.want)
		}
		if len(conn.sent) != 0 {
			t.Errorf("id %s: %d datagrams sent on", tt.x.Short(), len(conn.sent))
		}
	}
	if st := s.Stats(); st.Hints != 3 || st.CacheReplies != 1 || st.Hops != 0 {
		t.Errorf("hints %d cache replies %d hops %d", st.Hints, st.CacheReplies, st.Hops)
	}
}

// TestHopRewrites: what the first server knows goes with the packet: behind a
// NAT, SENDER and the trigger's target become the observed address; without
// SENDER, one is added; a signature the rewrite breaks is checked here and
// removed.
func TestHopRewrites(t *testing.T) {
	fc := clock.NewFake()
	s, conn := newRingInProcess(t, func(c *Config) { c.Clock = fc })
	observed := netip.MustParseAddrPort("203.0.113.7:40000")
	stated := netip.MustParseAddrPort("192.168.1.10:5000")

	t.Run("NAT", func(t *testing.T) {
		tr := ipTrigger(idAt(0x90), stated)
		s.feed(observed, insertPacket(wire.OptTriggerInsert, tr, stated).AppendTo(nil))
		got, _ := conn.take(peerC)
		if len(got) != 1 {
			t.Fatalf("%d sent on", len(got))
		}
		p := got[0]
		if p.Flags&wire.FlagFirstHop != 0 || p.Option(wire.OptSender).Addr != wire.IPAddr(observed) ||
			p.Option(wire.OptTriggerInsert).Trigger.Target != wire.IPAddr(observed) {
			t.Errorf("sent on: %s, SENDER %v, target %v", describe(p), p.Option(wire.OptSender).Addr,
				p.Option(wire.OptTriggerInsert).Trigger.Target)
		}
		conn.take(observed) // the hint
	})
	t.Run("no SENDER", func(t *testing.T) {
		host := netip.MustParseAddrPort("192.0.2.9:4000")
		p := &wire.Packet{Flags: wire.FlagFirstHop, Stack: wire.StackOf(idAt(0x91))}
		p.AddOption(wire.Option{Type: wire.OptTriggerInsert, Trigger: ipTrigger(idAt(0x91), host)})
		s.feed(host, p.AppendTo(nil))
		got, _ := conn.take(peerC)
		if len(got) != 1 || got[0].Option(wire.OptSender) == nil || got[0].Option(wire.OptSender).Addr != wire.IPAddr(host) {
			t.Fatalf("sent on: %v", got)
		}
		if hints, _ := conn.take(host); len(hints) != 0 {
			t.Error("a host that gave no SENDER got a hint")
		}
	})
	t.Run("signed public id behind a NAT", func(t *testing.T) {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		_, other, _ := ed25519.GenerateKey(rand.Reader)
		pid := id.FromPublicKey(pub)
		atPid := ring.Member{Name: peerC.String(), Data: peerC, Position: pid.Key()} // owns exactly pid's prefix
		v := ring.NewSnapshot(ringMember(inProcessAddr, 0x80), []ring.Member{atPid}, 2)
		if v.Owns(pid.Key()) {
			t.Fatal("the public id landed on this server")
		}
		s.setView(v)
		defer s.setView(threeRing())
		for _, key := range []ed25519.PrivateKey{priv, other} {
			tr := ipTrigger(pid, stated)
			sig := wire.Sign(key, wire.SigInsert, &tr, fc.Now())
			s.feed(observed, insertPacket(wire.OptTriggerInsert, tr, stated, wire.HelloOption(), sig).AppendTo(nil))
		}
		got, _ := conn.take(peerC)
		if len(got) != 1 || got[0].Option(wire.ExtSignature) == nil || got[0].Option(wire.ExtSigChecked) == nil ||
			got[0].Option(wire.ExtHello) == nil {
			t.Fatalf("sent on %d (want the good one, its signature marked checked)", len(got))
		}
		back, _ := conn.take(observed)
		if len(back) != 2 || errorCode(t, back[1]) != wire.ErrCodeBadSignature {
			t.Errorf("replies: %v", back)
		}
	})
}

// TestReplicateFromMembersOnly: EXT_REPLICATE installs and removes triggers
// when it comes from a member's data address, and is dropped otherwise.
func TestReplicateFromMembersOnly(t *testing.T) {
	s, conn := newRingInProcess(t, nil)
	r := netip.MustParseAddrPort("192.0.2.2:5000")
	x := idAt(0x30) // A's: this server holds its copy
	rep := wire.Replica{Op: wire.ReplicateInstall, Lifetime: 5000, Inserter: r, Trigger: ipTrigger(x, r)}
	pkt := &wire.Packet{Flags: wire.FlagOptions}
	pkt.AddOption(wire.ReplicateOption(&rep))
	b := pkt.AppendTo(nil)

	s.replicaFromStrangerThenMember(t, b, "")
	// The copy is inert: a host's packet for x goes to its owner, A.
	host := netip.MustParseAddrPort("192.0.2.1:4000")
	s.feed(host, dataPacket([]byte("x"), host, x).AppendTo(nil))
	if got, _ := conn.take(peerA); len(got) != 1 {
		t.Error("a copy was served while its owner lives")
	}
	if got, _ := conn.take(r); len(got) != 0 {
		t.Error("delivered from a copy")
	}
	// Removal, and garbage.
	rep.Op, rep.Lifetime = wire.ReplicateRemove, 0
	pkt.Options[0] = wire.ReplicateOption(&rep)
	bad := &wire.Packet{Flags: wire.FlagOptions, Options: []wire.Option{{Type: wire.ExtReplicate, Body: []byte{1, 2, 3}}}}
	s.feed(peerA, pkt.AppendTo(nil), bad.AppendTo(nil))
	if st := s.Stats(); st.Triggers != 0 || st.Drops[DropBadReplica] != 1 {
		t.Errorf("after removal: triggers %d, bad replicas %d", st.Triggers, st.Drops[DropBadReplica])
	}
}

// TestReplication: the owner sends installations, refreshes and removals to
// its successor, those of one batch in one datagram.
func TestReplication(t *testing.T) {
	fc := clock.NewFake()
	s, conn := newRingInProcess(t, func(c *Config) { c.Clock = fc })
	w := s.worker
	w.now = fc.Now().UnixNano()
	host := netip.MustParseAddrPort("192.0.2.1:4000")
	var batch [][]byte
	var trigs []wire.Trigger
	for range 3 {
		tr := ipTrigger(idAt(0x60), host) // this server's; its successor is C
		tr.Nonce = w.ch.nonce(&tr, host, w.now)
		trigs = append(trigs, tr)
		batch = append(batch, insertPacket(wire.OptTriggerInsert, tr, host).AppendTo(nil))
	}
	s.feed(host, batch...)
	got, _ := conn.take(peerC)
	if len(got) != 1 || len(got[0].Options) != 3 {
		t.Fatalf("%d datagrams to the successor (want one with 3 triggers)", len(got))
	}
	for i, o := range got[0].Options {
		var r wire.Replica
		if err := wire.ParseReplicate(o.Body, &r); err != nil {
			t.Fatal(err)
		}
		if r.Op != wire.ReplicateInstall || r.Trigger.ID != trigs[i].ID || r.Trigger.Target != trigs[i].Target ||
			r.Trigger.Nonce != ([wire.NonceLen]byte{}) || r.Inserter != host || r.Lifetime != uint32(TestConfig().TriggerTTL.Milliseconds()) {
			t.Errorf("replica %d: %+v", i, r)
		}
	}
	if got, _ := conn.take(peerA); len(got) != 0 {
		t.Error("replicated to a server that is not the successor")
	}
	s.feed(host, insertPacket(wire.OptTriggerRemove, trigs[0], host).AppendTo(nil))
	got, _ = conn.take(peerC)
	var r wire.Replica
	if len(got) != 1 || wire.ParseReplicate(got[0].Options[0].Body, &r) != nil || r.Op != wire.ReplicateRemove {
		t.Errorf("removal not replicated: %v", got)
	}
	if st := s.Stats(); st.ReplicasSent != 4 {
		t.Errorf("replicas sent %d, want 4", st.ReplicasSent)
	}
}

// TestShortcutDelivery: a copy carries the sender's SENDER only when the
// trigger and the data packet both allow a shortcut; then no cache reply.
func TestShortcutDelivery(t *testing.T) {
	for _, inRing := range []bool{false, true} {
		for _, tt := range []struct {
			name            string
			trigger, packet bool
			wantSender      bool
		}{
			{"neither", false, false, false},
			{"trigger only", true, false, false},
			{"packet only", false, true, false},
			{"both", true, true, true},
		} {
			s, conn := newInProcess(t, nil)
			if inRing {
				s.setView(threeRing())
			}
			conn.record = true
			host := netip.MustParseAddrPort("192.0.2.1:4000")
			r := netip.MustParseAddrPort("192.0.2.2:5000")
			x := idAt(0x70)
			tr := ipTrigger(x, r)
			if tt.trigger {
				tr.Flags = wire.TriggerShortcut
			}
			s.install(tr, r.Addr())
			p := dataPacket([]byte("sc"), host, x)
			p.AddOption(wire.Option{Type: wire.OptRequestForCache})
			p.AddOption(wire.PaddingOption(40)) // room for the answer
			if tt.packet {
				p.Flags |= wire.FlagShortcut
			}
			s.feed(host, p.AppendTo(nil))
			got, _ := conn.take(r)
			if len(got) != 1 || string(got[0].Payload) != "sc" || got[0].Stack.IDs[0] != x {
				t.Fatalf("ring %v, %s: delivered %v", inRing, tt.name, got)
			}
			o := got[0].Option(wire.OptSender)
			if (o != nil) != tt.wantSender || (o != nil && (o.Addr != wire.IPAddr(host) || len(got[0].Options) != 1)) {
				t.Errorf("ring %v, %s: delivered %s", inRing, tt.name, describe(got[0]))
			}
			if tt.packet != (got[0].Flags&wire.FlagShortcut != 0) {
				t.Errorf("ring %v, %s: shortcut bit %#x", inRing, tt.name, got[0].Flags)
			}
			replies, _ := conn.take(host)
			if wantReply := !tt.wantSender; (len(replies) == 1) != wantReply {
				t.Errorf("ring %v, %s: %d cache replies to the sender", inRing, tt.name, len(replies))
			}
			if st := s.Stats(); (st.Shortcuts == 1) != tt.wantSender {
				t.Errorf("ring %v, %s: shortcuts %d", inRing, tt.name, st.Shortcuts)
			}
		}
	}
}

// TestServerList: an empty (all-zero) EXT_SERVER_LIST asks for the servers'
// data addresses; hosts that did not say hello get nothing; the answer is no
// larger than the request (zeros in the body buy room), and a request too
// small for one address gets none (counted).
func TestServerList(t *testing.T) {
	host := netip.MustParseAddrPort("192.0.2.1:4000")
	ask := func(s *Server, conn *fakeConn, hello bool, pad int) []wire.Addr {
		t.Helper()
		p := &wire.Packet{}
		p.AddOption(wire.Option{Type: wire.ExtServerList, Body: make([]byte, pad)})
		if hello {
			p.AddOption(wire.HelloOption())
		}
		s.feed(host, p.AppendTo(nil))
		got, raw := conn.take(host)
		if len(got) == 0 {
			return nil
		}
		if len(raw[0]) > p.HeaderLen() {
			t.Errorf("answer of %d bytes to a request of %d", len(raw[0]), p.HeaderLen())
		}
		addrs, err := wire.ParseServerList(nil, got[0].Option(wire.ExtServerList).Body)
		if err != nil {
			t.Fatal(err)
		}
		return addrs
	}
	const addrLen = 7 // an IPv4 address
	alone, conn := newInProcess(t, nil)
	conn.record = true
	if got := ask(alone, conn, true, 0); got != nil {
		t.Errorf("alone, unpadded: %v", got)
	}
	if st := alone.Stats(); st.Drops[DropReplyTooBig] != 1 {
		t.Errorf("reply_too_big drops %d, want 1", st.Drops[DropReplyTooBig])
	}
	if got := ask(alone, conn, true, addrLen-3); len(got) != 1 || got[0] != wire.IPAddr(inProcessAddr) {
		t.Errorf("alone: %v", got)
	}
	s, conn := newRingInProcess(t, nil)
	if got := ask(s, conn, false, 3*addrLen); got != nil {
		t.Errorf("without hello: %v", got)
	}
	if got := ask(s, conn, true, 3*addrLen-3); len(got) != 3 || got[0] != wire.IPAddr(peerA) || got[1] != wire.IPAddr(inProcessAddr) || got[2] != wire.IPAddr(peerC) {
		t.Errorf("ring: %v", got)
	}
	var many []ring.Member
	for i := range 50 {
		many = append(many, ringMember(netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 1, byte(i)}), 5610), byte(i)))
	}
	s.setView(ring.NewSnapshot(ringMember(inProcessAddr, 0x80), many, 3))
	if got := ask(s, conn, true, 10*addrLen); len(got) < 10 || len(got) >= 51 {
		t.Errorf("request padded for 10: %d addresses", len(got))
	}
	if got := ask(s, conn, true, 51*addrLen); len(got) != 51 {
		t.Errorf("padded request: %d addresses, want 51", len(got))
	}
	if st := s.Stats(); st.ServerLists != 3 {
		t.Errorf("server lists %d", st.ServerLists)
	}
}

// TestStackTargetHops: a stack target, or a popped id, leading to an id
// another server owns sends the packet on there, SENDER kept.
func TestStackTargetHops(t *testing.T) {
	s, conn := newRingInProcess(t, nil)
	host := netip.MustParseAddrPort("192.0.2.1:4000")
	a, far := idAt(0x70), idAt(0xa0) // far is C's
	s.install(stackTrigger(a, far), host.Addr())
	s.feed(host, dataPacket([]byte("composed"), host, a).AppendTo(nil))
	got, _ := conn.take(peerC)
	if len(got) != 1 || got[0].Stack.N != 1 || got[0].Stack.IDs[0] != far || string(got[0].Payload) != "composed" ||
		got[0].Flags&wire.FlagFirstHop != 0 || got[0].Option(wire.OptSender).Addr != wire.IPAddr(host) {
		t.Fatalf("sent on: %v", got)
	}
	// A popped id: [unknown of this server, far].
	s.feed(host, dataPacket([]byte("popped"), host, idAt(0x71), far).AppendTo(nil))
	if got, _ := conn.take(peerC); len(got) != 1 || got[0].Stack.IDs[0] != far {
		t.Fatalf("popped: %v", got)
	}
	// From a peer, the same stops here (one hop at most): not present.
	p := dataPacket([]byte("composed"), host, a)
	p.Flags &^= wire.FlagFirstHop
	s.feed(peerA, p.AppendTo(nil))
	if got, _ := conn.take(peerC); len(got) != 0 {
		t.Error("a peer's packet hopped again")
	}
	if replies, _ := conn.take(host); len(replies) != 1 || replies[0].Option(wire.OptTriggerNotPresent) == nil {
		t.Errorf("replies %v", replies)
	}
}

// TestRingZeroAllocs: in a ring, sending on, hinting and replicating
// allocate nothing per packet.
func TestRingZeroAllocs(t *testing.T) {
	fc := clock.NewFake()
	s, conn := newRingInProcess(t, func(c *Config) { c.Clock = fc })
	conn.record = false
	w := s.worker
	host := netip.MustParseAddrPort("192.0.2.1:4000")
	r := netip.MustParseAddrPort("192.0.2.2:5000")
	mine := idAt(0x70)
	s.install(ipTrigger(mine, r), r.Addr())
	rt := ipTrigger(idAt(0x71), host)
	w.now = fc.Now().UnixNano()
	rt.Nonce = w.ch.nonce(&rt, host, w.now)
	s.install(rt, host.Addr())
	cases := []struct {
		name string
		from netip.AddrPort
		b    []byte
	}{
		{"sent on", host, dataPacket(make([]byte, 100), host, idAt(0x90)).AppendTo(nil)},
		{"own id", host, dataPacket(make([]byte, 100), host, mine).AppendTo(nil)},
		{"from a peer", peerA, dataPacket(make([]byte, 100), netip.AddrPort{}, mine).AppendTo(nil)},
		{"refresh replicated", host, insertPacket(wire.OptTriggerInsert, rt, host).AppendTo(nil)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s.feed(c.from, c.b)
			if a := testing.AllocsPerRun(100, func() { s.feed(c.from, c.b) }); a != 0 {
				t.Errorf("%.1f allocations per datagram", a)
			}
		})
	}
}

// TestHandoverInProcess: membership changes move triggers: a joining server
// gets its range (the copies stay here), the successor of a dead server
// serves its copies at once and copies them on, a new successor gets what
// this server owns, and a restarted server gets back what it lost. The host the triggers point at is hinted, in one
// datagram, where each trigger handed over or taken over now lives.
func TestHandoverInProcess(t *testing.T) {
	fc := clock.NewFake()
	s, conn := newRingInProcess(t, func(c *Config) { c.Clock = fc })
	peerN := netip.MustParseAddrPort("127.0.0.44:5610")
	r := netip.MustParseAddrPort("192.0.2.2:5000")
	self, a, c, n := ringMember(inProcessAddr, 0x80), ringMember(peerA, 0x40), ringMember(peerC, 0xc0), ringMember(peerN, 0x68)
	// In v5 (A, N, this; no C), N at 0x68… owns (0x40…, 0x68…], this server
	// (0x68…, 0x80…], and A, the next after this one, the rest.
	ofA, own1, own2, ofC := idAt(0x30), idAt(0x60), idAt(0x70), idAt(0x90)
	for _, x := range []id.ID{ofA, own1, own2, ofC} {
		s.install(ipTrigger(x, r), r.Addr())
	}
	h := s.handover
	ids := func(to netip.AddrPort) map[id.ID]bool {
		got, _ := conn.take(to)
		m := map[id.ID]bool{}
		for _, p := range got {
			for _, o := range p.Options {
				var rep wire.Replica
				if err := wire.ParseReplicate(o.Body, &rep); err != nil || rep.Op != wire.ReplicateInstall || rep.Lifetime == 0 {
					t.Fatalf("to %v: %+v %v", to, rep, err)
				}
				m[rep.Trigger.ID] = true
			}
		}
		return m
	}
	step := func(name string, old, cur *ring.Snapshot, took, pushed, copied int, want map[netip.AddrPort][]id.ID) {
		t.Helper()
		gt, gp, gc := h.rebalance(old, cur)
		if gt != took || gp != pushed || gc != copied {
			t.Errorf("%s: took %d pushed %d copied %d, want %d %d %d", name, gt, gp, gc, took, pushed, copied)
		}
		for to, xs := range want {
			got := ids(to)
			if len(got) != len(xs) {
				t.Errorf("%s: %d triggers to %v, want %d", name, len(got), to, len(xs))
			}
			for _, x := range xs {
				if !got[x] {
					t.Errorf("%s: %s not sent to %v", name, x.Short(), to)
				}
			}
		}
		// The host: one CACHE_ADDR per trigger that moved, naming its owner.
		hints, _ := conn.take(r)
		if took+pushed > 0 && len(hints) != 1 {
			t.Errorf("%s: %d datagrams of hints to the host, want 1", name, len(hints))
		}
		n := 0
		for _, p := range hints {
			for _, o := range p.Options {
				n++
				if want := cur.Responsible(o.Trigger.ID.Key()).Data; o.Type != wire.OptCacheAddr ||
					o.Trigger.PrefixLen != cachePrefixLen || o.Trigger.Target != wire.IPAddr(want) {
					t.Errorf("%s: hint %v %+v, want CACHE_ADDR naming %v", name, o.Type, o.Trigger, want)
				}
			}
		}
		if n != took+pushed {
			t.Errorf("%s: %d hints to the host, want %d", name, n, took+pushed)
		}
		if len(conn.sent) != 0 {
			t.Errorf("%s: %d more datagrams", name, len(conn.sent))
		}
	}

	v1 := threeRing()
	step("first view", nil, v1, 0, 2, 2, map[netip.AddrPort][]id.ID{
		peerA: {ofA}, peerC: {ofC, own1, own2}, // what was this server's alone goes to its owners; C is the successor
	})
	// A restarted (another epoch), back before anyone declared it dead, with
	// an empty table: the copy of its trigger held here goes back to it.
	aR, cR := a, c
	aR.Epoch, cR.Epoch = 2, 2
	v1a := ring.NewSnapshot(self, []ring.Member{aR, c}, 11)
	step("A restarted", v1, v1a, 0, 1, 0, map[netip.AddrPort][]id.ID{peerA: {ofA}})
	// C, this server's successor, restarted: it gets the copies of what this
	// server owns, and what this server holds of its own range.
	v1c := ring.NewSnapshot(self, []ring.Member{aR, cR}, 12)
	step("C restarted", v1a, v1c, 0, 1, 2, map[netip.AddrPort][]id.ID{peerC: {ofC, own1, own2}})
	v2 := ring.NewSnapshot(self, []ring.Member{cR}, 2) // A died: its range is this server's
	step("A died", v1c, v2, 1, 0, 0, map[netip.AddrPort][]id.ID{peerC: {ofA}})
	v3 := ring.NewSnapshot(self, []ring.Member{cR, n}, 3) // N joined at 0x68: it owns (0xc0…, 0x68…]
	step("N joined", v2, v3, 0, 2, 0, map[netip.AddrPort][]id.ID{peerN: {ofA, own1}})
	v4 := ring.NewSnapshot(self, []ring.Member{cR}, 4) // N died: its range is this server's again
	step("N died", v3, v4, 2, 0, 0, map[netip.AddrPort][]id.ID{peerC: {ofA, own1}})
	v5 := ring.NewSnapshot(self, []ring.Member{a, n}, 5) // C died, A and N are back: A is the successor
	step("C died", v4, v5, 0, 2, 1, map[netip.AddrPort][]id.ID{peerA: {ofA, own2}, peerN: {own1}})
	v6 := ring.NewSnapshot(self, nil, 6) // alone: every id is this server's
	step("alone", v5, v6, 3, 0, 0, nil)
	if st := s.Stats(); st.ReplicaTakeovers != 6 || st.Triggers != 4 {
		t.Errorf("takeovers %d triggers %d", st.ReplicaTakeovers, st.Triggers)
	}
}

// TestSigCheckedOnlyFromServers: a host cannot claim EXT_SIG_CHECKED for its
// own forged signature, sent directly or through another server; a checked
// signature a server sends on is still refused for replay from another host.
func TestSigCheckedOnlyFromServers(t *testing.T) {
	fc := clock.NewFake()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, forger, _ := ed25519.GenerateKey(rand.Reader)
	pid := id.FromPublicKey(pub)
	host := netip.MustParseAddrPort("192.0.2.1:4000")
	checked := wire.Option{Type: wire.ExtSigChecked}

	// This server owns pid: a host's forged signature marked checked.
	owner, _ := newRingInProcess(t, func(c *Config) { c.Clock = fc })
	owner.setView(ring.NewSnapshot(ring.Member{Name: inProcessAddr.String(), Data: inProcessAddr, Position: pid.Key()},
		[]ring.Member{ringMember(peerA, 0x01)}, 2))
	tr := ipTrigger(pid, host)
	forged := wire.Sign(forger, wire.SigInsert, &tr, fc.Now())
	owner.feed(host, insertPacket(wire.OptTriggerInsert, tr, host, forged, checked).AppendTo(nil))
	if st := owner.Stats(); st.Refused[RefusedBadSignature] != 1 {
		t.Errorf("a host's forged, 'checked' signature: refused %v", st.Refused)
	}

	// The same through another server: it does not pass the mark on.
	first, conn := newRingInProcess(t, func(c *Config) { c.Clock = fc })
	first.setView(ring.NewSnapshot(ringMember(inProcessAddr, 0x80),
		[]ring.Member{{Name: peerC.String(), Data: peerC, Position: pid.Key()}}, 2))
	first.feed(host, insertPacket(wire.OptTriggerInsert, tr, host, forged, checked).AppendTo(nil))
	got, _ := conn.take(peerC)
	if len(got) != 1 || got[0].Option(wire.ExtSigChecked) != nil {
		t.Fatalf("sent on %d; a host's EXT_SIG_CHECKED kept", len(got))
	}

	// A server's mark: the owner checks the signature for replay only. The
	// owner's own insertion first, from its address; then a copy the path
	// replayed at another server, behind its "NAT", marked checked.
	good := wire.Sign(priv, wire.SigInsert, &tr, fc.Now())
	tr.Nonce = owner.worker.ch.nonce(&tr, host, fc.Now().UnixNano())
	owner.feed(host, insertPacket(wire.OptTriggerInsert, tr, host, good).AppendTo(nil))
	replayer := netip.MustParseAddrPort("203.0.113.9:6000")
	sent := insertPacket(wire.OptTriggerInsert, ipTrigger(pid, replayer), replayer, good, checked)
	sent.Flags &^= wire.FlagFirstHop
	owner.feed(peerA, sent.AppendTo(nil))
	if st := owner.Stats(); st.Refused[RefusedSignatureReplayed] != 1 {
		t.Errorf("a checked signature replayed from another host: refused %v", st.Refused)
	}
}

// replicaFromStrangerThenMember feeds s the replica datagram b from a stranger,
// which s drops (not_member), and then from member A, which s applies; what
// starts the failure messages.
func (s *Server) replicaFromStrangerThenMember(t *testing.T, b []byte, what string) {
	t.Helper()
	s.feed(netip.MustParseAddrPort("192.0.2.66:5610"), b)
	if st := s.Stats(); st.Triggers != 0 || st.Drops[DropNotMember] != 1 {
		t.Fatalf("%sfrom a stranger: triggers %d, not-member drops %d", what, st.Triggers, st.Drops[DropNotMember])
	}
	s.feed(peerA, b)
	if st := s.Stats(); st.Triggers != 1 || st.ReplicasReceived != 1 {
		t.Fatalf("%sfrom a member: triggers %d, received %d", what, st.Triggers, st.ReplicasReceived)
	}
}
