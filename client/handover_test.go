package client

import (
	"encoding/hex"
	"net/netip"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/server"
	"github.com/i3net/i3net/server/servertest"
	"github.com/i3net/i3net/wire"
)

// TestHandoverHint: a server joins the ring in front of the owner of a
// receiver's trigger. The old owner hands the trigger over and sends the
// receiver, at the trigger's target, a hint naming the new owner
// (server/handover.go); the receiver inserts the trigger at the new owner at
// once, not at its next refresh (behind a NAT, that is what opens the
// mapping toward the new owner), and the new owner delivers. A hint from an
// address that is no server moves nothing.
func TestHandoverHint(t *testing.T) {
	checkLeaks(t)
	ring := servertest.StartRing(t, 2, nil)
	x := servertest.IDOwnedBy(t, ring, 1)
	const refresh = 8 * time.Second // the refresh would come far too late
	recv, in := newClient(t, ring[0].Addr(), func(c *Config) {
		c.stated = netip.MustParseAddrPort("127.0.0.99:4000") // behind a NAT: straight to the owner
		c.ListInterval, c.ProbeInterval = 0, 0                // the server that joins is unknown until hinted
		c.RefreshMin, c.RefreshMax = refresh, refresh
	})
	h := insert(t, recv, Trigger{ID: x})
	if st := h.State(); st.Server != ring[1].Addr() {
		t.Fatalf("trigger acknowledged by %v, want the owner %v", st.Server, ring[1].Addr())
	}
	acked := h.State().Acked

	// A forged hint, from an address that is no server, naming itself:
	// dropped, nothing moves.
	forger := listenLoopback(t)
	forged := wire.Packet{Flags: wire.FlagOptions}
	forged.AddOption(wire.Option{Type: wire.OptCacheAddr, Trigger: wire.Trigger{
		ID: x, PrefixLen: 128, Target: wire.IPAddr(addrOf(forger)),
	}})
	to := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), boundAddr(recv.conn).Port())
	dropped := recv.Stats().Dropped
	if _, err := forger.WriteToUDPAddrPort(forged.AppendTo(nil), to); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "the forged hint dropped", func() bool { return recv.Stats().Dropped > dropped })
	if st := recv.Stats(); st.HintMoves != 0 || h.State().Acked != acked {
		t.Fatalf("a forged hint moved the trigger: %+v", st)
	}

	// A server joins at x's position: it owns x.
	k := x.Key()
	joined := time.Now()
	ring = append(ring, servertest.Start(t, func(c *server.Config) {
		c.Ring, c.GossipAddr = true, "127.0.0.1:0"
		c.Join = []string{ring[0].Ring().GossipAddr().String()}
		c.RingPosition = hex.EncodeToString(k[:])
	}))
	testwait.For(t, "the ring of three converged", func() bool { return servertest.Converged(ring, 3) })
	if o := servertest.Owner(t, ring, 0, x); o != 2 {
		t.Fatalf("x is owned by server %d after the join, want the new one", o)
	}
	testwait.For(t, "the trigger acknowledged by the new owner", func() bool { return h.State().Server == ring[2].Addr() })
	took := time.Since(joined)
	t.Logf("trigger at the new owner %v after it joined (refresh every %v); %d hint moves", took.Round(time.Millisecond),
		refresh, recv.Stats().HintMoves)
	if took > 2*time.Second {
		t.Errorf("the trigger moved %v after the join: it waited for its refresh", took)
	}
	if recv.Stats().HintMoves == 0 {
		t.Error("no trigger moved by a hint")
	}

	send, _ := newClient(t, ring[0].Addr(), nil)
	testwait.For(t, "a packet delivered by the new owner", func() bool {
		send.SendTo(x, payload("after the join"))
		select {
		case d := <-in.data:
			return d.From == ring[2].Addr()
		case <-time.After(20 * time.Millisecond):
			return false
		}
	})
}
