package client

import (
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/server/servertest"
	"github.com/i3net/i3net/wire"
)

// TestLocalAddressChange: the host's address changes under a client bound to
// the wildcard address (a stand-in route lookup says so). Within an address
// check the client states the new address, in SENDER and in its triggers'
// targets, and inserts its triggers again at once, not at their next
// refresh; packets still reach it. A lookup that fails keeps the address.
func TestLocalAddressChange(t *testing.T) {
	checkLeaks(t)
	srv := servertest.Start(t, nil)
	var src atomic.Pointer[netip.Addr]
	var fail atomic.Bool
	var failed atomic.Int32 // lookups that failed
	lo := netip.MustParseAddr("127.0.0.1")
	src.Store(&lo)
	const refresh = 8 * time.Second // the refresh would come far too late
	recv, in := newClient(t, srv.Addr(), func(c *Config) {
		c.RefreshMin, c.RefreshMax = refresh, refresh
		c.routeSource = func(netip.AddrPort) (netip.Addr, error) {
			if fail.Load() {
				failed.Add(1)
				return netip.Addr{}, errors.New("no route")
			}
			return *src.Load(), nil
		}
	})
	port := boundAddr(recv.conn).Port()
	if got := recv.LocalAddr(); got != netip.AddrPortFrom(lo, port) {
		t.Fatalf("LocalAddr %v, want %v", got, netip.AddrPortFrom(lo, port))
	}
	x := id.Random()
	h := insert(t, recv, Trigger{ID: x, Flags: ShortcutAllowed})
	before := h.State().Acked

	fail.Store(true)
	testwait.For(t, "two failed lookups", func() bool { return failed.Load() >= 2 })
	if got := recv.LocalAddr(); got.Addr() != lo {
		t.Fatalf("a failed lookup changed LocalAddr to %v", got)
	}
	fail.Store(false)

	moved := netip.MustParseAddr("127.0.0.2")
	src.Store(&moved)
	changed := time.Now()
	want := netip.AddrPortFrom(moved, port)
	testwait.For(t, "the new address stated", func() bool { return recv.LocalAddr() == want })
	var p wire.Packet
	hdr := recv.appendDataHeader(nil, []id.ID{x}, 0)
	if err := p.Decode(hdr); err != nil {
		t.Fatal(err)
	}
	if o := p.Option(wire.OptSender); o == nil || o.Addr.IP != want {
		t.Errorf("SENDER %+v, want %v", o, want)
	}
	testwait.For(t, "the trigger inserted again", func() bool { return h.State().Acked.After(before) })
	took := time.Since(changed)
	t.Logf("trigger inserted again %v after the address changed (checked every %v, refresh every %v)",
		took.Round(time.Millisecond), recv.cfg.AddrCheckInterval, refresh)
	if took > refresh/4 {
		t.Errorf("the trigger was inserted again %v after the change: it waited for its refresh", took)
	}
	h.mu.Lock()
	target := h.wt.Target
	h.mu.Unlock()
	if !target.IsIP() || target.IP != want {
		t.Errorf("trigger target %v, want %v", target, want)
	}

	// The socket still gets 127.0.0.1's packets (the server saw that source
	// and kept it, as behind a NAT): delivery goes on.
	send, _ := newClient(t, srv.Addr(), nil)
	send.SendTo(x, payload("after the move"))
	if d := in.next(t, "after the move"); string(d.Payload) != "after the move" {
		t.Fatalf("got %+v", d)
	}
}
