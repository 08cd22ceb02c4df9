package client

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/server"
	"github.com/i3net/i3net/server/servertest"
	"github.com/i3net/i3net/wire"
)

// fakeNAT stands between one client and a server on loopback, as a NAT would:
// the client sends to front, and what it sends reaches the server from the
// current mapping (back); what the server sends to the mapping reaches the
// client from front. rebind replaces the mapping by a new socket (a new
// outside port), closing the old one: the client sees no change.
type fakeNAT struct {
	t      *testing.T
	front  *net.UDPConn
	server netip.AddrPort

	mu     sync.Mutex
	inside netip.AddrPort // the client, once it sent
	back   *net.UDPConn
	wg     sync.WaitGroup
}

func newFakeNAT(t *testing.T) *fakeNAT {
	n := &fakeNAT{t: t, front: listenLoopback(t)}
	t.Cleanup(n.close)
	return n
}

// start forwards to server until close.
func (n *fakeNAT) start(server netip.AddrPort) {
	n.server = server
	n.rebind()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		buf := make([]byte, 65536)
		for {
			k, from, err := n.front.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.inside = from
			back := n.back
			n.mu.Unlock()
			back.WriteToUDPAddrPort(buf[:k], n.server)
		}
	}()
}

// rebind opens a new mapping and closes the old one; it returns the new
// mapping's address, the one the server now sees.
func (n *fakeNAT) rebind() netip.AddrPort {
	back := listenLoopback(n.t)
	n.mu.Lock()
	old := n.back
	n.back = back
	n.mu.Unlock()
	if old != nil {
		old.Close()
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		buf := make([]byte, 65536)
		for {
			k, from, err := back.ReadFromUDPAddrPort(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			n.mu.Lock()
			inside := n.inside
			n.mu.Unlock()
			if err == nil && from == n.server && inside.IsValid() {
				n.front.WriteToUDPAddrPort(buf[:k], inside)
			}
		}
	}()
	return addrOf(back)
}

func (n *fakeNAT) close() {
	n.front.Close()
	n.mu.Lock()
	if n.back != nil {
		n.back.Close()
	}
	n.mu.Unlock()
	n.wg.Wait()
}

// TestNATRebind: a client that only receives, behind a NAT that changes its
// mapping (a new outside port; nothing changes on the client's host), has
// its trigger re-pointed by its NAT check (a reflecting ping to the server
// holding it, every NATCheckInterval) well before the next refresh (20 s
// here): packets reach it again within 3 s.
func TestNATRebind(t *testing.T) {
	checkLeaks(t)
	nat := newFakeNAT(t)
	srv := servertest.Start(t, func(c *server.Config) {
		c.PublicAddr = addrOf(nat.front) // its hints and lists name the NAT's front
		c.TriggerTTL = time.Minute
	})
	nat.start(srv.Addr())

	c, in := newClient(t, addrOf(nat.front), func(c *Config) {
		c.ListInterval, c.ProbeInterval = 0, 0
		c.RefreshMin, c.RefreshMax, c.TriggerTTL = 20*time.Second, 25*time.Second, time.Minute
		c.NATCheckInterval = 2 * time.Second
	})
	x := id.Random()
	h := insert(t, c, Trigger{ID: x})
	observed := func() netip.AddrPort {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.observed
	}
	nat.mu.Lock()
	first := addrOf(nat.back)
	nat.mu.Unlock()
	if n := c.NAT(); !n.Behind || n.Observed != first || observed() != first {
		t.Fatalf("NAT %+v, ACK target %v; want behind, %v", n, observed(), first)
	}
	// The sender is a raw socket: a client would take the server's hints,
	// which name the NAT's front.
	sender := listenLoopback(t)
	send := func(s string) {
		p := wire.Packet{Flags: wire.FlagData, Stack: wire.StackOf(x), Payload: payload(s)}
		if _, err := sender.WriteToUDPAddrPort(p.AppendTo(nil), srv.Addr()); err != nil {
			t.Fatal(err)
		}
	}
	send("before")
	if d := in.next(t, "before the rebind"); string(d.Payload) != "before" {
		t.Fatalf("got %q", d.Payload)
	}

	// Right after a NAT check: the next one is NATCheckInterval away.
	checks := c.Stats().NATChecks
	testwait.For(t, "a NAT check", func() bool { return c.Stats().NATChecks > checks })
	moved := time.Now()
	now := nat.rebind()
	deadline := moved.Add(3 * time.Second)
	for got := false; !got; {
		if time.Now().After(deadline) {
			t.Fatalf("nothing delivered within 3 s of the NAT's new mapping %v (was %v): ACK target %v, stats %+v",
				now, first, observed(), c.Stats())
		}
		send("after")
		select {
		case d := <-in.data:
			got = string(d.Payload) == "after"
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Logf("delivered again %v after the NAT changed its mapping", time.Since(moved).Round(time.Millisecond))
	if got := observed(); got != now {
		t.Errorf("ACK target %v, want the new mapping %v", got, now)
	}
	if st := c.Stats(); st.NATRebinds != 1 || st.NATChecks == 0 {
		t.Errorf("NAT rebinds %d checks %d; want 1, >0", st.NATRebinds, st.NATChecks)
	}
}
