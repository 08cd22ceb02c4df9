package client

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/server/servertest"
	"github.com/i3net/i3net/wire"
)

// maxGap is the longest a test lets delivery stop when a server dies
// (DESIGN.md: under 2 s).
const maxGap = 2 * time.Second

// stream sends numbered packets to x, with options f, every 5 ms until the
// test ends.
type stream struct {
	seq  atomic.Uint64
	stop chan struct{}
	wg   sync.WaitGroup
}

func startStream(t *testing.T, c *Client, x id.ID, f SendFlags) *stream {
	s := &stream{stop: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
			b := binary.BigEndian.AppendUint64(nil, s.seq.Add(1))
			c.SendWith([]id.ID{x}, b, f)
		}
	}()
	t.Cleanup(func() { close(s.stop); s.wg.Wait() })
	return s
}

// after waits for a delivery of a packet numbered above seq and returns when
// it came.
func (in *inbox) after(t *testing.T, seq uint64, what string) time.Time {
	t.Helper()
	deadline := time.After(waitLong)
	for {
		select {
		case d := <-in.data:
			if len(d.Payload) == 8 && binary.BigEndian.Uint64(d.Payload) > seq {
				return time.Now()
			}
		case <-deadline:
			t.Fatalf("%s: no packet after #%d within %v", what, seq, waitLong)
		}
	}
}

// TestFailoverOwnerDies: the server that holds the receiver's trigger, and
// that the sender's hint names, dies without a word (kill -9). The sender
// declares it down, drops the hint and sends through its first hop, which
// forwards to the server that took over (with its copy of the trigger):
// delivery resumes within maxGap. The receiver inserts its trigger again
// elsewhere.
func TestFailoverOwnerDies(t *testing.T) {
	for _, after := range []time.Duration{TestConfig().FailoverAfter, DefaultConfig().FailoverAfter} {
		t.Run("FailoverAfter="+after.String(), func(t *testing.T) { testFailoverOwnerDies(t, after) })
	}
}

func testFailoverOwnerDies(t *testing.T, after time.Duration) {
	checkLeaks(t)
	ring := servertest.StartRing(t, 3, nil)
	x := servertest.IDOwnedBy(t, ring, 1)
	recv, in := newClient(t, ring[0].Addr(), func(c *Config) { c.FailoverAfter = after })
	send, _ := newClient(t, ring[0].Addr(), func(c *Config) {
		c.FailoverAfter = after
		c.CacheTTL = DefaultConfig().CacheTTL // the hint would not expire in time by itself
	})
	h := insert(t, recv, Trigger{ID: x})
	s := startStream(t, send, x, 0)
	in.after(t, 0, "before the crash")
	testwait.For(t, "the sender's hint names the owner", func() bool {
		a, ok := send.cache.lookup(x, send.clock.Now())
		return ok && a == ring[1].Addr()
	})

	crashed := time.Now()
	ring[1].Crash()
	resumed := in.after(t, s.seq.Load(), "after the crash")
	gap := resumed.Sub(crashed)
	t.Logf("delivery resumed %v after the owner died (FailoverAfter %v)", gap.Round(time.Millisecond), send.cfg.FailoverAfter)
	if gap > maxGap {
		t.Errorf("delivery stopped for %v, more than %v", gap, maxGap)
	}
	if st := send.Stats(); st.Failovers == 0 || st.LivePings == 0 {
		t.Errorf("sender stats %+v", st)
	}
	if a, ok := send.cache.lookup(x, send.clock.Now()); ok && a == ring[1].Addr() {
		t.Error("the sender still uses a hint naming the dead server")
	}
	testwait.For(t, "the trigger acknowledged by a live server", func() bool {
		st := h.State()
		return st.Server != ring[1].Addr() && st.Acked.After(crashed)
	})
	t.Logf("receiver's trigger now at %v", h.State().Server)
}

// TestFailoverFirstHopDies: the sender's first hop dies; packets with a hint
// flow on, and within about FailoverAfter another server is the first hop,
// through which packets for new ids go.
func TestFailoverFirstHopDies(t *testing.T) {
	checkLeaks(t)
	ring := servertest.StartRing(t, 3, nil)
	send, _ := newClient(t, ring[0].Addr(), func(c *Config) {
		c.Servers = servertest.Addrs(ring...)
		// Measure picks the first hop once; background rounds could move
		// it before the crash (round trips vary on a busy machine).
		c.ProbeInterval = 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if err := send.Measure(ctx); err != nil {
		t.Fatal(err)
	}
	fi := -1
	for i, s := range ring {
		if s.Addr() == send.FirstHop() {
			fi = i
		}
	}
	if fi < 0 {
		t.Fatalf("first hop %v is no server of the ring", send.FirstHop())
	}
	a, b := (fi+1)%3, (fi+2)%3
	recv, in := newClient(t, ring[a].Addr(), nil)
	x := servertest.IDOwnedBy(t, ring, a)
	insert(t, recv, Trigger{ID: x})
	s := startStream(t, send, x, 0)
	in.after(t, 0, "before the crash")

	crashed := time.Now()
	ring[fi].Crash()
	testwait.For(t, "another first hop", func() bool { return send.FirstHop() != ring[fi].Addr() })
	t.Logf("first hop moved from %v to %v %v after it died", ring[fi].Addr(), send.FirstHop(),
		time.Since(crashed).Round(time.Millisecond))
	if time.Since(crashed) > maxGap {
		t.Errorf("the first hop moved only after %v", time.Since(crashed))
	}
	in.after(t, s.seq.Load(), "hinted packets after the crash")
	if st := send.Stats(); st.Failovers != 1 {
		t.Errorf("%d failovers, want 1", st.Failovers)
	}
	// A new id, owned by the third server: no hint, so through the new
	// first hop (once the ring agrees ring[fi] is gone).
	y := servertest.IDOwnedBy(t, ring, b)
	insert(t, recv, Trigger{ID: y})
	testwait.For(t, "a packet to a new id", func() bool {
		send.SendTo(y, payload("new"))
		select {
		case d := <-in.data:
			return string(d.Payload) == "new"
		case <-time.After(20 * time.Millisecond):
			return false
		}
	})
}

// TestHintToDeadServerDropped: packets follow a hint to a server that does
// not answer; the sender declares it down within about FailoverAfter, drops
// the hint, and packets go through the first hop again. While it is down,
// hints naming it are ignored.
func TestHintToDeadServerDropped(t *testing.T) {
	checkLeaks(t)
	srv := servertest.Start(t, nil)
	dead, other := listenLoopback(t), listenLoopback(t) // other: a known server that never answers
	deadAddr := addrOf(dead)
	recv, in := newClient(t, srv.Addr(), nil)
	send, _ := newClient(t, srv.Addr(), func(c *Config) {
		c.Servers = append(c.Servers, deadAddr, addrOf(other))
		c.CacheTTL = DefaultConfig().CacheTTL // the hint would not expire in time by itself
	})
	x := id.RandomWithPrefix(id.Random(), 128)
	insert(t, recv, Trigger{ID: x})
	send.cache.put(x, deadAddr, send.clock.Now())

	start := time.Now()
	startStream(t, send, x, 0)
	resumed := in.after(t, 0, "after the hint's server is declared down")
	t.Logf("delivery began %v after the packets went to a silent server (FailoverAfter %v)",
		resumed.Sub(start).Round(time.Millisecond), send.cfg.FailoverAfter)
	if resumed.Sub(start) > maxGap {
		t.Errorf("took %v", resumed.Sub(start))
	}
	if a, ok := send.cache.lookup(x, send.clock.Now()); ok && a == deadAddr {
		t.Error("the hint naming the dead server is still used")
	}
	var down bool
	for _, s := range send.Servers() {
		if s.Addr == deadAddr {
			down = s.Down
		}
	}
	if !down || send.Stats().Failovers != 1 {
		t.Errorf("dead server down %v, failovers %d", down, send.Stats().Failovers)
	}

	// A hint naming it, from any server, is ignored while it is down.
	hint := wire.Trigger{ID: x, PrefixLen: 128, Target: wire.IPAddr(deadAddr)}
	if send.cache.onHint(&hint) {
		t.Error("a hint naming a server that is down was taken")
	}
	if a, ok := send.cache.lookup(x, send.clock.Now()); ok && a == deadAddr {
		t.Error("the cache names a server that is down")
	}
}
