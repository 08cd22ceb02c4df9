package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/clock"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/wire"
)

// privateID returns a random private id.
func privateID() id.ID { return id.Random() }

// withSuffix returns x with its last byte set to b (same 128-bit key: anycast).
func withSuffix(x id.ID, b byte) id.ID { x[31] = b; return x }

func TestUnicast(t *testing.T) {
	srv := startServer(t, nil)
	r, s, tr := receiverAndSender(t, srv.Addr())
	x := tr.ID

	s.send(srv.Addr(), dataPacket([]byte("hello"), s.addr, x))
	p := r.expectData([]byte("hello"), x)
	if p.Flags != wire.FlagData {
		t.Errorf("delivered flags %#x, want %#x (FIRST_HOP cleared, no options)", p.Flags, wire.FlagData)
	}
	s.expectNothing(srv.Addr())
	r.expectNothing(srv.Addr())
	if st := srv.Stats(); st.Forwarded != 1 || st.Delivered != 1 || st.Triggers != 1 {
		t.Errorf("stats: forwarded %d delivered %d triggers %d", st.Forwarded, st.Delivered, st.Triggers)
	}
}

func TestShortcutFlagCarried(t *testing.T) {
	srv := startServer(t, nil)
	r, s, tr := receiverAndSender(t, srv.Addr())
	x := tr.ID
	p := dataPacket([]byte("sc"), netip.AddrPort{}, x)
	p.Flags |= wire.FlagShortcut
	s.send(srv.Addr(), p)
	if got := r.expectData([]byte("sc"), x); got.Flags != wire.FlagData|wire.FlagShortcut {
		t.Errorf("flags %#x, want the shortcut bit carried", got.Flags)
	}
}

func TestMulticast(t *testing.T) {
	srv := startServer(t, nil)
	s := newHost(t)
	g := privateID()
	var rs []*host
	for range 3 {
		r := newHost(t)
		r.insert(srv.Addr(), ipTrigger(g, r.addr))
		rs = append(rs, r)
	}
	// A refresh of the same trigger does not make a second copy.
	rs[0].insert(srv.Addr(), ipTrigger(g, rs[0].addr))

	s.send(srv.Addr(), dataPacket([]byte("to all"), s.addr, g))
	for _, r := range rs {
		r.expectData([]byte("to all"), g)
		r.expectNothing(srv.Addr())
	}
	if st := srv.Stats(); st.Delivered != 3 || st.Forwarded != 1 || st.Triggers != 3 {
		t.Errorf("delivered %d forwarded %d triggers %d, want 3 1 3", st.Delivered, st.Forwarded, st.Triggers)
	}
}

func TestAnycastLongestMatch(t *testing.T) {
	srv := startServer(t, nil)
	a, b, s := newHost(t), newHost(t), newHost(t)
	base := privateID()
	base[20], base[31] = 0, 0
	near := base
	near[20] = 0x01 // shares 167 bits with base…
	far := base
	far[20] = 0x80 // …this one only 160
	a.insert(srv.Addr(), ipTrigger(far, a.addr))
	b.insert(srv.Addr(), ipTrigger(near, b.addr))

	s.send(srv.Addr(), dataPacket([]byte("any"), netip.AddrPort{}, withSuffix(base, 7)))
	b.expectData([]byte("any"), near) // the matched trigger's id, not the packet's
	a.expectNothing(srv.Addr())

	// A packet sharing more with far goes to a.
	s.send(srv.Addr(), dataPacket([]byte("far"), netip.AddrPort{}, withSuffix(far, 9)))
	a.expectData([]byte("far"), far)
	b.expectNothing(srv.Addr())
}

func TestTriggerPrefixLen(t *testing.T) {
	srv := startServer(t, nil)
	r, s := newHost(t), newHost(t)
	x := privateID()
	tr := ipTrigger(x, r.addr)
	tr.PrefixLen = 200
	r.insert(srv.Addr(), tr)

	y := x
	y[20] ^= 0x01 // shares 167 bits: fewer than the trigger asks for
	s.send(srv.Addr(), dataPacket([]byte("no"), s.addr, y))
	np := s.recvOpt(wire.OptTriggerNotPresent)
	if np.Option(wire.OptTriggerNotPresent).ID != y {
		t.Errorf("NOT_PRESENT for the wrong id")
	}
	z := x
	z[30] ^= 0x01 // shares 247 bits
	s.send(srv.Addr(), dataPacket([]byte("yes"), s.addr, z))
	r.expectData([]byte("yes"), x)
}

// TestStackOfIDs sends [idT, id] through an intermediate T (a transcoder, paper
// Figure 1(d)), which re-sends the payload to the remaining id.
func TestStackOfIDs(t *testing.T) {
	srv := startServer(t, nil)
	tc, r, s := newHost(t), newHost(t), newHost(t)
	idT, x := privateID(), privateID()
	tc.insert(srv.Addr(), ipTrigger(idT, tc.addr))
	r.insert(srv.Addr(), ipTrigger(x, r.addr))

	s.send(srv.Addr(), dataPacket([]byte("raw"), s.addr, idT, x))
	p := tc.expectData([]byte("raw"), idT, x)
	// T transcodes and sends on to what remains of the stack.
	rest := p.Stack.Slice()[1:]
	tc.send(srv.Addr(), dataPacket(bytes.ToUpper(p.Payload), netip.AddrPort{}, rest...))
	r.expectData([]byte("RAW"), x)
	s.expectNothing(srv.Addr())
}

// TestPopUnmatched: an unmatched ids[0] is popped when more ids follow.
func TestPopUnmatched(t *testing.T) {
	srv := startServer(t, nil)
	r, s, tr := receiverAndSender(t, srv.Addr())
	x := tr.ID
	s.send(srv.Addr(), dataPacket([]byte("pop"), s.addr, privateID(), x))
	r.expectData([]byte("pop"), x)
	s.expectNothing(srv.Addr())
	if st := srv.Stats(); st.Popped != 1 {
		t.Errorf("popped %d, want 1", st.Popped)
	}
}

// TestStackTarget: a trigger whose target is a stack replaces ids[0] with it
// (service composition by the receiver, §2.1).
func TestStackTarget(t *testing.T) {
	srv := startServer(t, nil)
	r, tc, s := newHost(t), newHost(t), newHost(t)
	a, b, c := privateID(), privateID(), privateID()
	r.insert(srv.Addr(), stackTrigger(a, b)) // challenged at the inserter
	r.insert(srv.Addr(), ipTrigger(b, r.addr))
	s.send(srv.Addr(), dataPacket([]byte("via b"), s.addr, a))
	r.expectData([]byte("via b"), b)

	// a2 → [c, b]: through c's holder first, the rest of the stack kept.
	a2 := privateID()
	r.insert(srv.Addr(), stackTrigger(a2, c, b))
	tc.insert(srv.Addr(), ipTrigger(c, tc.addr))
	s.send(srv.Addr(), dataPacket([]byte("via c"), s.addr, a2))
	tc.expectData([]byte("via c"), c, b)
	r.expectNothing(srv.Addr())

	// A loop (l → [l]) ends at the hop limit.
	l := privateID()
	r.insert(srv.Addr(), stackTrigger(l, l))
	s.send(srv.Addr(), dataPacket([]byte("loop"), s.addr, l))
	s.expectNothing(srv.Addr())
	if st := srv.Stats(); st.Drops[DropHopLimit] != 1 || st.Expanded < 2+uint64(TestConfig().MaxHops) {
		t.Errorf("hop-limit drops %d, expansions %d", st.Drops[DropHopLimit], st.Expanded)
	}
}

func TestNotPresent(t *testing.T) {
	srv := startServer(t, nil)
	s := newHost(t)
	x := privateID()
	s.send(srv.Addr(), dataPacket([]byte("?"), s.addr, x))
	p := s.recvOpt(wire.OptTriggerNotPresent)
	if p.Stack.N != 0 || p.Option(wire.OptTriggerNotPresent).ID != x {
		t.Errorf("not-present reply %s", describe(p))
	}
	// Without SENDER there is nobody to tell.
	s.send(srv.Addr(), dataPacket([]byte("?"), netip.AddrPort{}, x))
	s.expectNothing(srv.Addr())
	if st := srv.Stats(); st.NotPresent != 2 {
		t.Errorf("not-present %d, want 2", st.NotPresent)
	}
}

func TestRequestForCache(t *testing.T) {
	srv := startServer(t, nil)
	s := newHost(t)
	x := privateID()
	p := &wire.Packet{Flags: wire.FlagFirstHop, Stack: wire.StackOf(x)}
	p.AddOption(wire.Option{Type: wire.OptSender, Addr: wire.IPAddr(s.addr)})
	p.AddOption(wire.Option{Type: wire.OptRequestForCache})
	p.AddOption(wire.PaddingOption(40)) // as large as the answer
	s.send(srv.Addr(), p)
	c := s.recvOpt(wire.OptCacheAddr).Option(wire.OptCacheAddr).Trigger
	if c.ID != x || c.PrefixLen != 128 || c.Target != wire.IPAddr(srv.Addr()) {
		t.Errorf("CACHE_ADDR %v/%d → %v, want %v/128 → %v", c.ID.Short(), c.PrefixLen, c.Target, x.Short(), srv.Addr())
	}
}

// TestAdvertiseDestination: a server bound to 0.0.0.0 advertises the address
// each host reached it at.
func TestAdvertiseDestination(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.ListenAddr = "0.0.0.0:0" })
	port := srv.Addr().Port()
	for _, ip := range []string{"127.0.0.1", "127.0.0.3"} {
		s := newHost(t)
		to := netip.AddrPortFrom(netip.MustParseAddr(ip), port)
		p := &wire.Packet{Stack: wire.StackOf(privateID())}
		p.AddOption(wire.Option{Type: wire.OptRequestForCache})
		p.AddOption(wire.PaddingOption(50)) // as large as the answer
		s.send(to, p)
		c := s.recvOpt(wire.OptCacheAddr).Option(wire.OptCacheAddr).Trigger
		if c.Target.IP != to {
			t.Errorf("sent to %v, CACHE_ADDR points at %v", to, c.Target.IP)
		}
	}
}

func TestExpiry(t *testing.T) {
	fc := clock.NewFake()
	srv := startServer(t, func(c *Config) { c.Clock = fc })
	r, s, tr := receiverAndSender(t, srv.Addr())
	x := tr.ID
	s.send(srv.Addr(), dataPacket([]byte("live"), s.addr, x))
	r.expectData([]byte("live"), x)

	fc.Advance(TestConfig().TriggerTTL + time.Second)
	s.send(srv.Addr(), dataPacket([]byte("dead"), s.addr, x))
	s.recvOpt(wire.OptTriggerNotPresent)
	r.expectNothing(srv.Addr())
	testwait.For(t, "the sweep", func() bool { st := srv.Stats(); return st.Expired == 1 && st.Triggers == 0 })
}

// TestRefreshKeepsAlive: refreshes within the TTL keep a trigger; a refresh
// after the secret rotated twice is challenged again, and the trigger stays
// until it expires.
func TestRefreshKeepsAlive(t *testing.T) {
	fc := clock.NewFake()
	srv := startServer(t, func(c *Config) {
		c.Clock, c.TriggerTTL, c.SecretRotation = fc, 30*time.Second, 10*time.Second
	})
	r, s, tr := receiverAndSender(t, srv.Addr())
	x := tr.ID
	for range 2 {
		fc.Advance(8 * time.Second)
		r.send(srv.Addr(), insertPacket(wire.OptTriggerInsert, tr, r.addr))
		r.recvOpt(wire.OptTriggerAck)
	}
	fc.Advance(8 * time.Second) // 24 s: past two rotations since the nonce
	r.send(srv.Addr(), insertPacket(wire.OptTriggerInsert, tr, r.addr))
	r.recvOpt(wire.OptTriggerChallenge)
	s.send(srv.Addr(), dataPacket([]byte("still"), s.addr, x))
	r.expectData([]byte("still"), x)
	st := srv.Stats()
	if st.Refreshed != 2 || st.StaleNonces != 1 {
		t.Errorf("refreshed %d stale %d, want 2 1", st.Refreshed, st.StaleNonces)
	}
	fc.Advance(30 * time.Second)
	s.send(srv.Addr(), dataPacket([]byte("gone"), s.addr, x))
	s.recvOpt(wire.OptTriggerNotPresent)
}

func TestRemove(t *testing.T) {
	srv := startServer(t, nil)
	r, s, tr := receiverAndSender(t, srv.Addr())
	x := tr.ID

	bad := tr
	bad.Nonce[0] ^= 1
	r.send(srv.Addr(), insertPacket(wire.OptTriggerRemove, bad, r.addr))
	s.send(srv.Addr(), dataPacket([]byte("kept"), s.addr, x))
	r.expectData([]byte("kept"), x)

	r.send(srv.Addr(), insertPacket(wire.OptTriggerRemove, tr, r.addr))
	s.send(srv.Addr(), dataPacket([]byte("gone"), s.addr, x))
	s.recvOpt(wire.OptTriggerNotPresent)
	r.expectNothing(srv.Addr())
	if st := srv.Stats(); st.Removals != 1 || st.RemovalsRefused != 1 || st.Triggers != 0 {
		t.Errorf("removals %d refused %d triggers %d, want 1 1 0", st.Removals, st.RemovalsRefused, st.Triggers)
	}
}

// TestChallengeGoesToTarget: a host cannot point a trigger at an address that
// did not ask for it: the challenge goes to the target, and without its nonce
// the trigger is never installed.
func TestChallengeGoesToTarget(t *testing.T) {
	srv := startServer(t, nil)
	attacker, victim := newHost(t), newHost(t)
	x := privateID()
	tr := ipTrigger(x, victim.addr)
	attacker.send(srv.Addr(), insertPacket(wire.OptTriggerInsert, tr, attacker.addr))
	victim.recvOpt(wire.OptTriggerChallenge) // the victim is asked, and ignores it
	attacker.expectNothing(srv.Addr())

	// Guessed nonces, and a valid nonce of the attacker's own trigger, fail.
	own := attacker.insert(srv.Addr(), ipTrigger(x, attacker.addr))
	for _, n := range [][wire.NonceLen]byte{{}, {1, 2, 3}, own.Nonce} {
		tr.Nonce = n
		attacker.send(srv.Addr(), insertPacket(wire.OptTriggerInsert, tr, attacker.addr))
		victim.recvOpt(wire.OptTriggerChallenge)
	}
	attacker.expectNothing(srv.Addr())
	// Its own trigger works: data to x goes to it, not to the victim.
	s := newHost(t)
	s.send(srv.Addr(), dataPacket([]byte("x"), s.addr, x))
	attacker.expectData([]byte("x"), x)
	victim.expectNothing(srv.Addr())
	if st := srv.Stats(); st.Triggers != 1 || st.Acks != 1 {
		t.Errorf("triggers %d acks %d, want 1 1", st.Triggers, st.Acks)
	}
}

// TestNATRewrite: a host behind a NAT states a private SENDER and target; the
// server answers the observed source and points the trigger at it (§5.1).
func TestNATRewrite(t *testing.T) {
	srv := startServer(t, nil)
	h, s := newHost(t), newHost(t)
	private := netip.MustParseAddrPort("192.168.1.10:5000")
	x := privateID()
	tr := ipTrigger(x, private)
	h.send(srv.Addr(), insertPacket(wire.OptTriggerInsert, tr, private))
	ch := h.recvOpt(wire.OptTriggerChallenge).Option(wire.OptTriggerChallenge).Trigger
	if ch.Target != wire.IPAddr(h.addr) {
		t.Fatalf("challenge trigger points at %v, want the observed %v", ch.Target, h.addr)
	}
	tr.Nonce = ch.Nonce // the host echoes the nonce on its unchanged insertion
	h.send(srv.Addr(), insertPacket(wire.OptTriggerInsert, tr, private))
	h.recvOpt(wire.OptTriggerAck)
	s.send(srv.Addr(), dataPacket([]byte("in"), s.addr, x))
	h.expectData([]byte("in"), x)

	// Without FIRST_HOP, a packet from a host (no server of a ring) is still
	// on its first hop: its SENDER is checked all the same, so that a host
	// cannot aim replies at a third party by naming it.
	p := insertPacket(wire.OptTriggerInsert, ipTrigger(privateID(), h.addr), private)
	p.Flags &^= wire.FlagFirstHop
	h.send(srv.Addr(), p)
	h.recvOpt(wire.OptTriggerChallenge) // to the target, which is h
	if st := srv.Stats(); st.NATRewrites != 3 {
		t.Errorf("NAT rewrites %d, want 3", st.NATRewrites)
	}
}

func TestPingEcho(t *testing.T) {
	srv := startServer(t, nil)
	h := newHost(t)
	// 0xfb: every bit but PingReflect (0x04), which asks for a reflecting ping
	// (TestReflectingPing).
	for _, ping := range [][]byte{{0x01}, {0x11, 0, 1, 2}, append([]byte{0xfb}, bytes.Repeat([]byte{0xff}, 1399)...)} {
		h.sendRaw(srv.Addr(), ping)
		if got := h.recvRaw(); !bytes.Equal(got, ping) {
			t.Errorf("echo %x, want %x", got, ping)
		}
	}
	if st := srv.Stats(); st.Pings != 3 {
		t.Errorf("pings %d", st.Pings)
	}
}

// TestReflectingPing: a ping with PingReflect and room for the address comes
// back, same length and kind byte, with the observed source in its body and
// zeros after it, over IPv4 and IPv6; one too short for the address family
// comes back unchanged.
func TestReflectingPing(t *testing.T) {
	for _, fam := range []struct{ net, ip string }{{"udp4", "127.0.0.1"}, {"udp6", "::1"}} {
		t.Run(fam.net, func(t *testing.T) {
			c, err := net.ListenUDP(fam.net, net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(fam.ip), 0)))
			if err != nil {
				t.Skipf("no %s loopback: %v", fam.net, err)
			}
			defer c.Close()
			srv := startServer(t, func(cfg *Config) { cfg.ListenAddr = netip.AddrPortFrom(netip.MustParseAddr(fam.ip), 0).String() })
			self := c.LocalAddr().(*net.UDPAddr).AddrPort()
			encLen := 7
			if fam.net == "udp6" {
				encLen = 19
			}
			echo := func(ping []byte) []byte {
				t.Helper()
				if _, err := c.WriteToUDPAddrPort(ping, srv.Addr()); err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 2048)
				c.SetReadDeadline(time.Now().Add(waitTimeout))
				n, _, err := c.ReadFromUDPAddrPort(buf)
				if err != nil {
					t.Fatalf("no echo of %x: %v", ping, err)
				}
				return buf[:n]
			}
			for _, n := range []int{1 + encLen, wire.ReflectLen, 64} {
				ping := bytes.Repeat([]byte{0xee}, n) // a dirty body is zeroed after the address
				ping[0] = wire.PingBit | 0x02 | wire.PingReflect
				got := echo(ping)
				if len(got) != n || got[0] != ping[0] {
					t.Fatalf("echo of %d bytes %x: %x", n, ping, got)
				}
				a, ok := wire.Reflected(got)
				if !ok || a != self {
					t.Errorf("echo of %d bytes names %v %v, want %v (%x)", n, a, ok, self, got)
				}
				if !bytes.Equal(got[1+encLen:], make([]byte, n-1-encLen)) {
					t.Errorf("echo %x: not zeros after the address", got)
				}
			}
			short := make([]byte, encLen) // body one byte short
			short[0] = wire.PingBit | wire.PingReflect
			if got := echo(short); !bytes.Equal(got, short) {
				t.Errorf("short reflecting ping %x echoed as %x", short, got)
			}
			plain := make([]byte, wire.ReflectLen) // no PingReflect
			plain[0] = wire.PingBit | 0x02
			if got := echo(plain); !bytes.Equal(got, plain) {
				t.Errorf("plain ping %x echoed as %x", plain, got)
			}
		})
	}
}

func TestMalformedDropped(t *testing.T) {
	srv := startServer(t, nil)
	h := newHost(t)
	x := privateID()
	tests := []struct {
		name string
		b    []byte
		want DropReason
	}{
		{"empty", []byte{}, DropTruncated},
		{"two bytes", []byte{0x10, 0x10}, DropTruncated},
		{"version", []byte{0x20, 0x10, 0x01}, DropVersion},
		{"short stack", append([]byte{0x10, 0x10, 0x01}, x[:10]...), DropTruncated},
		{"option list length", append(append([]byte{0x10, 0x30, 0x01}, x[:]...), 0x00, 0x40), DropOptionList},
		{"unknown option", append(append([]byte{0x10, 0x20, 0x01}, x[:]...), 0x00, 0x03, 0x3f), DropUnknownOption},
		{"address kind", append(append([]byte{0x10, 0x20, 0x00}, 0x00, 0x04), 0x01, 0x99), DropAddrKind},
		{"trailing", []byte{0x10, 0x00, 0x00, 0xaa}, DropTrailing},
		{"data without ids", []byte{0x10, 0x10, 0x00, 'x'}, DropNoIDs},
		{"nothing to do", append([]byte{0x10, 0x00, 0x01}, x[:]...), DropEmpty},
	}
	for _, tt := range tests {
		h.sendRaw(srv.Addr(), tt.b)
	}
	h.expectNothing(srv.Addr())
	st := srv.Stats()
	want := map[DropReason]uint64{}
	for _, tt := range tests {
		want[tt.want]++
	}
	for r := range NumDropReasons {
		if st.Drops[r] != want[r] {
			t.Errorf("drops[%v] = %d, want %d", r, st.Drops[r], want[r])
		}
	}
	if st.PacketsIn != uint64(len(tests))+1 || st.Pings != 1 {
		t.Errorf("packets in %d pings %d", st.PacketsIn, st.Pings)
	}
}

func TestRateLimits(t *testing.T) {
	fc := clock.NewFake()
	srv := startServer(t, func(c *Config) {
		c.Clock = fc
		c.InsertRate, c.InsertBurst = 1, 2
		c.DataRate, c.DataBurst = 1, 3
	})
	h := newHost(t)
	hello := wire.HelloOption()
	tr := ipTrigger(privateID(), h.addr)
	for i := range 3 {
		h.send(srv.Addr(), insertPacket(wire.OptTriggerInsert, tr, h.addr, hello))
		p := h.recv()
		if i < 2 {
			if p.Option(wire.OptTriggerChallenge) == nil {
				t.Fatalf("insert %d: %s", i, describe(p))
			}
			continue
		}
		if code := errorCode(t, p); code != wire.ErrCodeRateLimited {
			t.Errorf("error code %v, want rate limited", code)
		}
	}
	// A host that did not say hello is refused in silence.
	h.send(srv.Addr(), insertPacket(wire.OptTriggerInsert, tr, h.addr))
	// Data: a burst of 3; the fourth is dropped. (The sync ping is the third.)
	h.sendRaw(srv.Addr(), []byte{0x01, 'a'})
	h.recvRaw()
	h.sendRaw(srv.Addr(), []byte{0x01, 'b'})
	h.recvRaw()
	h.expectNothing(srv.Addr())
	h.sendRaw(srv.Addr(), []byte{0x01, 'c'})
	testwait.For(t, "the fourth ping dropped", func() bool { return srv.Stats().Drops[DropRateLimited] == 1 })
	fc.Advance(time.Second) // one more token each
	h.expectNothing(srv.Addr())
	st := srv.Stats()
	if st.Refused[RefusedRateLimited] != 2 || st.ErrorsSent != 1 || st.Drops[DropRateLimited] != 1 {
		t.Errorf("refused %d errors sent %d data drops %d, want 2 1 1",
			st.Refused[RefusedRateLimited], st.ErrorsSent, st.Drops[DropRateLimited])
	}
}

func TestTableCaps(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.MaxTriggers, c.MaxTriggersPerSource = 2, 1 })
	a, b, c := newHostOn(t, "127.0.0.2"), newHostOn(t, "127.0.0.3"), newHostOn(t, "127.0.0.4")
	hello := wire.HelloOption()
	a.insert(srv.Addr(), ipTrigger(privateID(), a.addr), hello)

	// A second trigger from a's address: over its cap.
	tr := ipTrigger(privateID(), a.addr)
	tr2 := a.challenged(srv.Addr(), tr, hello)
	a.send(srv.Addr(), insertPacket(wire.OptTriggerInsert, tr2, a.addr, hello))
	if code := errorCode(t, a.recv()); code != wire.ErrCodeSourceLimit {
		t.Errorf("code %v, want source limit", code)
	}
	b.insert(srv.Addr(), ipTrigger(privateID(), b.addr), hello)
	// The table holds 2: c is refused.
	tr3 := c.challenged(srv.Addr(), ipTrigger(privateID(), c.addr), hello)
	c.send(srv.Addr(), insertPacket(wire.OptTriggerInsert, tr3, c.addr, hello))
	if code := errorCode(t, c.recv()); code != wire.ErrCodeTableFull {
		t.Errorf("code %v, want table full", code)
	}
	// Without hello, the same refusal is silent.
	c.send(srv.Addr(), insertPacket(wire.OptTriggerInsert, tr3, c.addr))
	c.expectNothing(srv.Addr())
	st := srv.Stats()
	if st.Triggers != 2 || st.Refused[RefusedSourceLimit] != 1 || st.Refused[RefusedTableFull] != 2 {
		t.Errorf("triggers %d source-limit %d table-full %d", st.Triggers, st.Refused[RefusedSourceLimit], st.Refused[RefusedTableFull])
	}
}

// challenged sends t and returns it with the nonce the server challenged with.
func (h *host) challenged(srv netip.AddrPort, t wire.Trigger, extra ...wire.Option) wire.Trigger {
	h.t.Helper()
	h.send(srv, insertPacket(wire.OptTriggerInsert, t, h.addr, extra...))
	t.Nonce = h.recvOpt(wire.OptTriggerChallenge).Option(wire.OptTriggerChallenge).Trigger.Nonce
	return t
}

func TestSignedPublic(t *testing.T) {
	fc := clock.NewFake()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	pid := id.FromPublicKey(pub)
	hello := wire.HelloOption()
	tests := []struct {
		name      string
		allow     bool // RequireSignedPublic off
		sign      func(t *wire.Trigger) []wire.Option
		wantError wire.ErrorCode // 0: accepted
	}{
		{"signed", false, func(t *wire.Trigger) []wire.Option {
			return []wire.Option{wire.Sign(priv, wire.SigInsert, t, fc.Now())}
		}, 0},
		{"wrong key", false, func(t *wire.Trigger) []wire.Option {
			return []wire.Option{wire.Sign(other, wire.SigInsert, t, fc.Now())}
		}, wire.ErrCodeBadSignature},
		{"removal signature", false, func(t *wire.Trigger) []wire.Option {
			return []wire.Option{wire.Sign(priv, wire.SigRemove, t, fc.Now())}
		}, wire.ErrCodeBadSignature},
		{"too old", false, func(t *wire.Trigger) []wire.Option {
			return []wire.Option{wire.Sign(priv, wire.SigInsert, t, fc.Now().Add(-6*time.Minute))}
		}, wire.ErrCodeBadSignature},
		{"unsigned", false, func(*wire.Trigger) []wire.Option { return nil }, wire.ErrCodeSignatureNeeded},
		{"unsigned allowed", true, func(*wire.Trigger) []wire.Option { return nil }, 0},
		{"bad signature even when allowed", true, func(t *wire.Trigger) []wire.Option {
			return []wire.Option{wire.Sign(other, wire.SigInsert, t, fc.Now())}
		}, wire.ErrCodeBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, func(c *Config) { c.Clock, c.RequireSignedPublic = fc, !tt.allow })
			h := newHost(t)
			tr := ipTrigger(pid, h.addr)
			extra := append([]wire.Option{hello}, tt.sign(&tr)...)
			if tt.wantError == 0 {
				h.insert(srv.Addr(), tr, extra...)
				return
			}
			h.send(srv.Addr(), insertPacket(wire.OptTriggerInsert, tr, h.addr, extra...))
			if code := errorCode(t, h.recv()); code != tt.wantError {
				t.Errorf("code %v, want %v", code, tt.wantError)
			}
			if st := srv.Stats(); st.Triggers != 0 || st.Challenges != 0 {
				t.Errorf("triggers %d challenges %d, want 0 0", st.Triggers, st.Challenges)
			}
		})
	}
}

// A key owns the 128-bit prefix of its public id: an anycast member (the
// prefix, its own suffix) inserts signed by the key; an id with another
// prefix is refused.
func TestSignedPublicAnycastMember(t *testing.T) {
	fc := clock.NewFake()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	member := id.FromPublicKey(pub)
	member[id.Len-1] ^= 0xff // another suffix
	other := id.FromPublicKey(pub)
	other[3] ^= 0x01 // another prefix
	srv := startServer(t, func(c *Config) { c.Clock, c.RequireSignedPublic = fc, true })
	h := newHost(t)
	tr := ipTrigger(member, h.addr)
	h.insert(srv.Addr(), tr, wire.HelloOption(), wire.Sign(priv, wire.SigInsert, &tr, fc.Now()))

	bad := ipTrigger(other, h.addr)
	h.send(srv.Addr(), insertPacket(wire.OptTriggerInsert, bad, h.addr, wire.HelloOption(), wire.Sign(priv, wire.SigInsert, &bad, fc.Now())))
	if code := errorCode(t, h.recv()); code != wire.ErrCodeBadSignature {
		t.Errorf("an id outside the key's prefix: code %v, want %v", code, wire.ErrCodeBadSignature)
	}
}

// TestRestart: a server restarted on the same address is empty; a host's next
// refresh (its old nonce is now wrong) is challenged and the trigger is back.
func TestRestart(t *testing.T) {
	srv := startServer(t, nil)
	r, s, tr := receiverAndSender(t, srv.Addr())
	x := tr.ID
	addr := srv.Addr()
	if err := srv.stop(); err != nil {
		t.Fatalf("Run after Close: %v", err)
	}

	srv2 := startServer(t, func(c *Config) { c.ListenAddr = addr.String() })
	if srv2.Addr() != addr {
		t.Fatalf("restarted on %v, want %v", srv2.Addr(), addr)
	}
	s.send(addr, dataPacket([]byte("empty?"), s.addr, x))
	s.recvOpt(wire.OptTriggerNotPresent)

	r.send(addr, insertPacket(wire.OptTriggerInsert, tr, r.addr)) // the refresh
	tr.Nonce = r.recvOpt(wire.OptTriggerChallenge).Option(wire.OptTriggerChallenge).Trigger.Nonce
	r.send(addr, insertPacket(wire.OptTriggerInsert, tr, r.addr))
	r.recvOpt(wire.OptTriggerAck)
	s.send(addr, dataPacket([]byte("back"), s.addr, x))
	r.expectData([]byte("back"), x)
}

func TestRunStops(t *testing.T) {
	s, err := New(TestConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	h := newHost(t)
	h.sync(s.Addr()) // it serves
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return after cancel")
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after cancel: %v", err)
	}
	if err := s.Run(context.Background()); err == nil {
		t.Error("second Run: no error")
	}

	// Close before Run: Run returns nil at once.
	s2, err := New(TestConfig())
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	if err := s2.Run(context.Background()); err != nil {
		t.Errorf("Run after Close: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	busy := startServer(t, nil)
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"bad listen", func(c *Config) { c.ListenAddr = "localhost" }, "listen_addr"},
		{"ttl", func(c *Config) { c.TriggerTTL = 0 }, "trigger_ttl"},
		{"hops", func(c *Config) { c.MaxHops = 17 }, "max_hops"},
		{"in use", func(c *Config) { c.ListenAddr = busy.Addr().String() }, "address already in use"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := TestConfig()
			tt.edit(&cfg)
			s, err := New(cfg)
			if err == nil {
				s.Close()
				t.Fatal("no error")
			}
			if !bytes.Contains([]byte(err.Error()), []byte(tt.want)) || !bytes.HasPrefix([]byte(err.Error()), []byte("server: ")) {
				t.Errorf("error %q, want it to start with \"server: \" and name %q", err, tt.want)
			}
			var ce *ConfigError
			if tt.name != "in use" && !errors.As(err, &ce) {
				t.Errorf("error %T is not a *ConfigError", err)
			}
		})
	}
}
