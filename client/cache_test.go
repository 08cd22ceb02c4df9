package client

import (
	"net"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/clock"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/server/servertest"
	"github.com/i3net/i3net/wire"
)

// TestCacheHint: a hint (CACHE_ADDR) from a known server sends later packets
// for the prefix straight to the server it names, until it expires; hints
// from strangers are ignored; a client without a hint asks Servers[0] for
// one.
func TestCacheHint(t *testing.T) {
	checkLeaks(t)
	srv := servertest.Start(t, nil)
	// other stands in for a second overlay server, listed in Servers.
	other := listenLoopback(t)
	otherAddr := addrOf(other)
	stranger := listenLoopback(t)

	clk := clock.NewFake()
	c, _ := newClient(t, srv.Addr(), func(cfg *Config) {
		cfg.Servers = append(cfg.Servers, otherAddr)
		cfg.Clock = clk
	})
	recv, in := newClient(t, srv.Addr(), nil)

	// Without a hint, the client asks Servers[0], which answers for itself.
	y := id.Random()
	c.SendTo(y, payload("ask"))
	testwait.For(t, "hint from the server", func() bool {
		s, ok := c.cache.lookup(y, clk.Now())
		return ok && s == srv.Addr()
	})

	x := id.Random()
	insert(t, recv, Trigger{ID: x})
	hint := func(from *net.UDPConn) {
		p := wire.Packet{}
		p.AddOption(wire.Option{Type: wire.OptCacheAddr, Trigger: wire.Trigger{ID: x, PrefixLen: 128, Target: wire.IPAddr(otherAddr)}})
		if _, err := from.WriteToUDPAddrPort(p.AppendTo(nil), c.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	hints := c.Stats().CacheHints
	hint(stranger)
	hint(other)
	testwait.For(t, "hint from the other server", func() bool {
		s, ok := c.cache.lookup(x, clk.Now())
		return ok && s == otherAddr
	})
	if got := c.Stats().CacheHints - hints; got != 1 {
		t.Errorf("%d hints recorded, want 1 (the stranger's is ignored)", got)
	}

	// A packet for an id of the prefix goes to the hinted server, as sent.
	x2 := id.RandomWithPrefix(x, 128)
	if err := c.SendTo(x2, payload("direct")); err != nil {
		t.Fatal(err)
	}
	p, from := recvWire(t, other, "the hinted server")
	sender := p.Option(wire.OptSender)
	if from != c.LocalAddr() || p.Stack.N != 1 || p.Stack.IDs[0] != x2 || string(p.Payload) != "direct" ||
		p.Flags&wire.FlagFirstHop == 0 || sender == nil || sender.Addr.IP != c.LocalAddr() {
		t.Fatalf("hinted server got %+v from %s", p, from)
	}

	// The hint is soft state: once it expires, packets go through Servers[0].
	clk.Advance(c.cfg.CacheTTL + time.Millisecond)
	c.SendTo(x, payload("through servers[0]"))
	if d := in.next(t, "after the hint expired"); string(d.Payload) != "through servers[0]" {
		t.Fatalf("got %+v", d)
	}
}
