package client

import (
	"net/netip"
	"testing"

	"github.com/i3net/i3net/server/servertest"
	"github.com/i3net/i3net/wire"
)

// TestNATAwareInsertion: a client that states an address the servers do not
// see (as behind a NAT) learns the observed one from its first ACK, and
// inserts straight at the responsible server after asking the first hop for
// the hint, so no server sends its insertions on; a client without a NAT
// inserts through its first hop, which sends them on. Behind the NAT,
// triggers lose ShortcutAllowed, and packets reach the client.
func TestNATAwareInsertion(t *testing.T) {
	checkLeaks(t)
	ring := servertest.StartRing(t, 2, nil)
	hops := func() uint64 { return ring[0].Stats().Hops }

	inside := netip.MustParseAddrPort("127.0.0.99:4000")
	natted, in := newClient(t, ring[0].Addr(), func(c *Config) {
		c.stated = inside
		c.ListInterval, c.ProbeInterval = 0, 0 // ring[0] stays the first hop
		// No retry through the first hop while the NAT is still unknown:
		// on a busy machine an answer may take longer than TestConfig's
		// 100 ms.
		c.RetryInterval = DefaultConfig().RetryInterval
	})
	if n := natted.NAT(); n.Known || n.Behind {
		t.Fatalf("NAT known before any answer: %+v", n)
	}
	before := hops()
	x := servertest.IDOwnedBy(t, ring, 1)
	h := insert(t, natted, Trigger{ID: x, Flags: ShortcutAllowed})
	n := natted.NAT()
	if !n.Known || !n.Behind || n.Observed.Port() == inside.Port() && n.Observed.Addr() == inside.Addr() ||
		!n.Observed.Addr().IsLoopback() {
		t.Fatalf("NAT %+v after the first insertion", n)
	}
	if got := hops() - before; got != 0 {
		t.Errorf("the first hop sent %d insertions on; behind a NAT they go straight to the owner", got)
	}
	if st := h.State(); st.Server != ring[1].Addr() {
		t.Errorf("ACK from %v, want the owner %v", st.Server, ring[1].Addr())
	}
	h.mu.Lock()
	flags := h.wt.Flags
	h.mu.Unlock()
	if flags&wire.TriggerShortcut != 0 {
		t.Error("a trigger inserted behind a NAT allows shortcuts")
	}
	y := servertest.IDOwnedBy(t, ring, 1)
	insert(t, natted, Trigger{ID: y})
	if got := hops() - before; got != 0 {
		t.Errorf("the first hop sent %d insertions on", got)
	}
	send, _ := newClient(t, ring[0].Addr(), nil)
	send.SendTo(x, payload("to the NATed host"))
	if d := in.next(t, "behind the NAT"); string(d.Payload) != "to the NATed host" {
		t.Fatalf("got %+v", d)
	}

	// Without a NAT (known after a first insertion), an insertion the cache
	// has no hint for goes through the first hop.
	plain, _ := newClient(t, ring[0].Addr(), func(c *Config) { c.ListInterval, c.ProbeInterval = 0, 0 })
	insert(t, plain, Trigger{ID: servertest.IDOwnedBy(t, ring, 0)})
	if n := plain.NAT(); !n.Known || n.Behind || n.Observed != plain.LocalAddr() {
		t.Fatalf("NAT %+v without a NAT", n)
	}
	before = hops()
	z := servertest.IDOwnedBy(t, ring, 1)
	if _, ok := plain.cache.lookup(z, plain.clock.Now()); ok {
		t.Fatal("a hint exists for a fresh id")
	}
	insert(t, plain, Trigger{ID: z})
	if got := hops() - before; got == 0 {
		t.Error("without a NAT the insertion did not go through the first hop")
	}
}
