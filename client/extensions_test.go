package client

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/wire"
)

// sendFrom writes p from conn to the client.
func sendFrom(t *testing.T, conn *net.UDPConn, c *Client, p *wire.Packet) {
	t.Helper()
	if _, err := conn.WriteToUDPAddrPort(p.AppendTo(nil), c.LocalAddr()); err != nil {
		t.Fatal(err)
	}
}

// TestExtensionsOnceShown: a client sends EXT_HELLO to a server only after it
// answered a server list request; then insertions there carry it, and the
// server a hint from it names is asked in turn.
func TestExtensionsOnceShown(t *testing.T) {
	checkLeaks(t)
	a, b := listenLoopback(t), listenLoopback(t)
	aAddr, bAddr := addrOf(a), addrOf(b)
	c, _ := newClient(t, aAddr, func(cfg *Config) {
		cfg.Servers = append(cfg.Servers, bAddr)
		cfg.ListInterval, cfg.ProbeInterval, cfg.FailoverAfter = 0, 0, 0
	})
	x := id.Random()
	inserted := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := c.Insert(ctx, Trigger{ID: x})
		inserted <- err
	}()
	// The question first; the insertion waits for its answer.
	if p, _ := recvWire(t, a, "server a"); p.Option(wire.ExtServerList) == nil {
		t.Fatalf("first packet to a: %s; want a server list request", describeOpts(p))
	}
	list := wire.Packet{}
	list.AddOption(wire.ServerListOption([]wire.Addr{wire.IPAddr(aAddr)}))
	sendFrom(t, a, c, &list)
	p, _ := recvWire(t, a, "server a")
	for i := 0; i < 4 && p.Option(wire.OptRequestForCache) != nil; i++ {
		p, _ = recvWire(t, a, "server a") // a hint request goes first with several servers
	}
	if p.Option(wire.OptTriggerInsert) == nil || p.Option(wire.ExtHello) == nil {
		t.Errorf("insertion after the answer: %s; want TRIGGER_INSERT with EXT_HELLO", describeOpts(p))
	}
	// A hint from a, which speaks the extensions, naming b: b is asked.
	hint := wire.Packet{}
	hint.AddOption(wire.Option{Type: wire.OptCacheAddr, Trigger: wire.Trigger{ID: x, PrefixLen: 128, Target: wire.IPAddr(bAddr)}})
	sendFrom(t, a, c, &hint)
	if p, _ := recvWire(t, b, "server b"); p.Option(wire.ExtServerList) == nil {
		t.Errorf("first packet to b after a's hint: %s; want a server list request", describeOpts(p))
	}
	<-inserted // unanswered: it ends with its context
	if !c.extFor(aAddr) || c.extFor(bAddr) || c.extFor(netip.MustParseAddrPort("127.0.0.1:9")) {
		t.Errorf("speak the extensions: a %v, b %v (not answered), a stranger %v", c.extFor(aAddr), c.extFor(bAddr), c.extFor(netip.MustParseAddrPort("127.0.0.1:9")))
	}
}
