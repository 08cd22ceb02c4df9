package client

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/server/servertest"
	"github.com/i3net/i3net/wire"
)

// TestShortcutNeedsBoth: packets go straight from sender to receiver only
// when the trigger and the packets both allow it (paper §5.2); every packet
// arrives either way, and probes never reach the handler.
func TestShortcutNeedsBoth(t *testing.T) {
	tests := []struct {
		name            string
		trigger, packet bool
	}{
		{"neither", false, false},
		{"trigger only", true, false},
		{"packets only", false, true},
		{"both", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLeaks(t)
			srv := servertest.Start(t, nil)
			recv, in := newClient(t, srv.Addr(), nil)
			send, _ := newClient(t, srv.Addr(), nil)
			x := id.Random()
			var tf TriggerFlags
			var sf SendFlags
			if tt.trigger {
				tf = ShortcutAllowed
			}
			if tt.packet {
				sf = SendShortcut
			}
			insert(t, recv, Trigger{ID: x, Flags: tf})
			want := tt.trigger && tt.packet
			sent, direct := 0, 0
			// deliver sends one packet and reports whether it came direct.
			deliver := func() bool {
				i := byte(sent)
				sent++
				if err := send.SendWith([]id.ID{x}, []byte{i}, sf); err != nil {
					t.Fatal(err)
				}
				d := in.next(t, "packet")
				if len(d.Payload) != 1 || d.Payload[0] != i {
					t.Fatalf("packet %d: got %q", i, d.Payload)
				}
				if d.From == send.LocalAddr() {
					direct++
					return true
				} else if d.From != srv.Addr() {
					t.Fatalf("packet %d from %v", i, d.From)
				}
				return false
			}
			if want {
				testwait.For(t, "a packet over the shortcut", deliver)
			}
			for range 30 {
				deliver()
			}
			ss, rs := send.Stats(), recv.Stats()
			t.Logf("%d of %d packets took the shortcut; sender %d probes, %d shortcut; receiver %d offers",
				direct, sent, ss.Probes, ss.ShortcutSent, rs.OffersSent)
			if (direct > 0) != want || (ss.ShortcutSent > 0) != want || (rs.OffersSent > 0) != want ||
				rs.DirectReceived != uint64(direct) {
				t.Errorf("shortcut used %v, want %v: sender %+v, receiver %+v", direct > 0, want, ss, rs)
			}
			if want && direct < 20 {
				t.Errorf("only %d of 30 packets after the first direct one took the shortcut", direct-1)
			}
			if (ss.Probes > 0) != tt.packet {
				t.Errorf("%d probes sent", ss.Probes)
			}
		})
	}
}

// TestShortcutOffer: the sender takes an offer only from the address it
// names, for an id it probes, echoing the token of its probe; then packets go
// to that address.
func TestShortcutOffer(t *testing.T) {
	checkLeaks(t)
	srv := servertest.Start(t, nil)
	send, _ := newClient(t, srv.Addr(), func(c *Config) { c.ShortcutTimeout = time.Hour })
	x := id.Random()
	if err := send.SendWith([]id.ID{x}, payload("probe"), SendShortcut); err != nil {
		t.Fatal(err)
	}
	sc := send.shortcuts.lookup(x)
	if sc == nil {
		t.Fatal("no shortcut state after a send that allows one")
	}
	sc.mu.Lock()
	token := sc.tokens[0]
	sc.mu.Unlock()
	if send.Stats().Probes != 1 {
		t.Fatalf("%d probes", send.Stats().Probes)
	}

	listen := func() (*net.UDPConn, netip.AddrPort) {
		c := listenLoopback(t)
		return c, addrOf(c)
	}
	peer, peerAddr := listen()
	_, elsewhere := listen()
	offer := func(x id.ID, named netip.AddrPort, tok [wire.NonceLen]byte) {
		p := wire.Packet{}
		p.AddOption(wire.Option{Type: wire.OptCacheShortcutAddr, Trigger: wire.Trigger{
			Flags: wire.TriggerShortcut, ID: x, PrefixLen: 256, Nonce: tok, Target: wire.IPAddr(named),
		}})
		if _, err := peer.WriteToUDPAddrPort(p.AppendTo(nil), send.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	expectNothing := func(what string) {
		t.Helper()
		send.SendWith([]id.ID{x}, payload("data"), SendShortcut)
		peer.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, _, err := peer.ReadFromUDPAddrPort(make([]byte, 2048)); err == nil {
			t.Fatalf("%s: the peer got a packet", what)
		}
	}
	wrong := token
	wrong[0] ^= 1
	tests := []struct {
		name  string
		x     id.ID
		named netip.AddrPort
		tok   [wire.NonceLen]byte
	}{
		{"wrong token", x, peerAddr, wrong},
		{"names another address", x, elsewhere, token},
		{"an id not probed", id.Random(), peerAddr, token},
	}
	for i, tt := range tests {
		offer(tt.x, tt.named, tt.tok)
		testwait.For(t, tt.name+": refused", func() bool { return send.Stats().OffersRefused == uint64(i+1) })
		expectNothing(tt.name)
	}
	if st := send.Stats(); st.OffersAccepted != 0 || st.ShortcutSent != 0 {
		t.Fatalf("stats after bad offers %+v", st)
	}

	offer(x, peerAddr, token)
	testwait.For(t, "the good offer accepted", func() bool { return send.Stats().OffersAccepted == 1 })
	if err := send.SendWith([]id.ID{x}, payload("straight"), SendShortcut); err != nil {
		t.Fatal(err)
	}
	p, from := recvWire(t, peer, "the peer")
	if from != send.LocalAddr() || p.Stack.N != 1 || p.Stack.IDs[0] != x || string(p.Payload) != "straight" ||
		p.Flags&(wire.FlagFirstHop|wire.FlagShortcut) != wire.FlagFirstHop|wire.FlagShortcut {
		t.Fatalf("the peer got %+v from %v", p, from)
	}
	if send.Stats().ShortcutSent != 1 {
		t.Errorf("shortcut sent %d", send.Stats().ShortcutSent)
	}
}

// TestShortcutFallbackAndRecovery: the receiver goes away from the address
// the shortcut uses and inserts its trigger from a new one (it moved). The
// sender gives the direct path up after ShortcutTimeout without offers,
// sends through the overlay again, and its next probe finds the new address.
func TestShortcutFallbackAndRecovery(t *testing.T) {
	checkLeaks(t)
	srv := servertest.Start(t, nil)
	r1, _ := newClient(t, srv.Addr(), nil)
	send, _ := newClient(t, srv.Addr(), nil)
	x := id.Random()
	h1 := insert(t, r1, Trigger{ID: x, Flags: ShortcutAllowed})
	startStream(t, send, x, SendShortcut)
	testwait.For(t, "the shortcut to the first address", func() bool { return r1.Stats().DirectReceived > 0 })

	if err := h1.Remove(context.Background()); err != nil {
		t.Fatal(err)
	}
	r1.Close()
	moved := time.Now()
	r2, in2 := newClient(t, srv.Addr(), nil)
	insert(t, r2, Trigger{ID: x, Flags: ShortcutAllowed})
	testwait.For(t, "a fallback", func() bool { return send.Stats().ShortcutFallbacks > 0 })
	fellBack := time.Since(moved)
	testwait.For(t, "the shortcut to the new address", func() bool { return r2.Stats().DirectReceived > 0 })
	recovered := time.Since(moved)
	t.Logf("receiver moved: fallback after %v, shortcut to the new address after %v (ShortcutTimeout %v)",
		fellBack.Round(time.Millisecond), recovered.Round(time.Millisecond), send.cfg.ShortcutTimeout)
	if fellBack > 3*send.cfg.ShortcutTimeout {
		t.Errorf("fallback took %v", fellBack)
	}
	if d := in2.next(t, "at the new address"); d.From != send.LocalAddr() && d.From != srv.Addr() {
		t.Errorf("delivery from %v", d.From)
	}
}

// TestDirectPacketsNeedShortcutTrigger: a data packet straight from a host
// (FIRST_HOP set) is delivered only for a trigger that allows shortcuts.
func TestDirectPacketsNeedShortcutTrigger(t *testing.T) {
	checkLeaks(t)
	srv := servertest.Start(t, nil)
	recv, in := newClient(t, srv.Addr(), nil)
	plain, open := id.Random(), id.Random()
	insert(t, recv, Trigger{ID: plain})
	insert(t, recv, Trigger{ID: open, Flags: ShortcutAllowed})
	host := listenLoopback(t)
	direct := func(x id.ID, s string) {
		p := wire.Packet{Flags: wire.FlagData | wire.FlagFirstHop | wire.FlagShortcut, Stack: wire.StackOf(x), Payload: []byte(s)}
		if _, err := host.WriteToUDPAddrPort(p.AppendTo(nil), recv.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	dropped := recv.Stats().Dropped
	direct(plain, "refused")
	testwait.For(t, "the packet for a plain trigger dropped", func() bool { return recv.Stats().Dropped > dropped })
	direct(open, "taken")
	d := in.next(t, "direct packet")
	if string(d.Payload) != "taken" || d.ID != open || d.From != addrOf(host) {
		t.Fatalf("got %+v", d)
	}
	in.empty(t, "after the direct packets")
}

// TestProbeNotSmallerThanOffer: an offer is never larger than the probe it
// answers (no amplification), over IPv4 and IPv6.
func TestProbeNotSmallerThanOffer(t *testing.T) {
	for _, self := range []string{"192.0.2.1:4000", "[2001:db8::1]:4000"} {
		c := &Client{}
		c.stated.Store(newStatedSelf(netip.MustParseAddrPort(self)))
		x := id.Random()
		var tok [wire.NonceLen]byte
		probe := len(c.appendDataHeader(nil, []id.ID{x}, wire.FlagShortcut)) + probeLen
		offer := c.appendOffer(nil, x, &tok)
		if len(offer) > probe {
			t.Errorf("%s: offer of %d bytes answers a probe of %d", self, len(offer), probe)
		}
		var p wire.Packet
		if err := p.Decode(offer); err != nil || p.Option(wire.OptCacheShortcutAddr) == nil {
			t.Errorf("%s: offer %x: %v", self, offer, err)
		}
		t.Logf("%s: probe %d bytes, offer %d", self, probe, len(offer))
	}
}
