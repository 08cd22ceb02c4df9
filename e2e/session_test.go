package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/internal/netlab"
)

// TestProxyRestart restarts a proxy in the middle of an ssh session from
// laptop to home (§7.2): SIGTERM, then a new proxy with the same state
// directory. The restarted proxy restores the mappings and private ids,
// re-inserts its triggers and handshakes again (the peer, whose session it
// lost, is told so with a reset), so the programs keep their addresses and
// their TCP connection: ssh completes with every line and exits 0. Both
// ends are restarted, each in its own lab: laptop (the initiator, on the
// internet) and home (the responder, behind the NAT, whose restarted proxy
// also gets a new NAT mapping).
func TestProxyRestart(t *testing.T) {
	t.Parallel()
	for _, which := range []string{"laptop", "home"} {
		t.Run(which, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, topoOptions{})
			n := w.laptop
			if which == "home" {
				n = w.home
			}
			testRestart(t, w, n)
		})
	}
}

// downFor is how long a restarted proxy stays down.
const downFor = 2 * time.Second

func testRestart(t *testing.T, w *world, n *node) {
	s := startSSHD(t, w.home.Host)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	other, otherName := w.home, "home"
	if n == w.home {
		other, otherName = w.laptop, "laptop"
	}

	const lines, every = 24, 500 * time.Millisecond
	stream := startCounting(t, ctx, w, s, lines, every)
	if err := stream.waitLines(ctx, 4); err != nil {
		t.Fatal(err)
	}
	before := n.mustStatus(t)
	peerBefore, _ := peerNamed(before, otherName)

	down := time.Now()
	stopTook := n.stopProxy(t)
	linesAtStop := stream.count()
	// Down for a while, as during an upgrade: the tun device, and with it
	// the route to the pool, is gone; TCP retransmits into the void. The
	// length of the outage is the scenario's input, not a wait for
	// something to happen: nothing is synchronized by it, and the
	// assertions below hold however long it really lasted.
	time.Sleep(downFor)
	n.startProxy(t)
	n.waitProxy(t)
	up := time.Now()
	t.Logf("%s's proxy exited %v after SIGTERM, was restarted %v later and answered again %v after the SIGTERM (%d lines had arrived)",
		n.Name(), stopTook.Round(time.Millisecond), downFor, up.Sub(down).Round(time.Millisecond), linesAtStop)

	after := n.mustStatus(t)
	peerAfter, ok := peerNamed(after, otherName)
	if !ok {
		t.Fatalf("the restarted proxy did not restore its mapping of %s: %+v", otherName, after.Peers)
	}
	if after.Self.Addr4 != before.Self.Addr4 || peerAfter.Addr4 != peerBefore.Addr4 || peerAfter.Addr6 != peerBefore.Addr6 {
		t.Errorf("addresses changed across the restart: self %v → %v, %s %v %v → %v %v", before.Self.Addr4, after.Self.Addr4,
			otherName, peerBefore.Addr4, peerBefore.Addr6, peerAfter.Addr4, peerAfter.Addr6)
	}

	gap, at := stream.finishCounting(t, ctx, lines)
	t.Logf("ssh completed with all %d lines: largest gap %v (after line %d; lines come every %v); first line %v after the restarted proxy answered",
		lines, gap.Round(time.Millisecond), at, every, stream.firstAfter(up).Sub(up).Round(time.Millisecond))

	for _, x := range []struct {
		n    *node
		peer string
	}{{n, otherName}, {other, n.Name()}} {
		st := x.n.mustStatus(t)
		p, _ := peerNamed(st, x.peer)
		t.Logf("%s: %s %s (%s), tx %d rx %d packets; handshakes sent %d accepted %d, resets sent %d received %d",
			x.n.Name(), x.peer, p.State, p.Mode, p.TxPackets, p.RxPackets, st.Counters["handshakes_sent"],
			st.Counters["handshakes_accepted"], st.Counters["resets_sent"], st.Counters["resets_received"])
		if p.State != "active" || p.RxPackets == 0 {
			t.Errorf("%s is %q with %d packets received on %s after the restart, want active with traffic", x.peer, p.State, p.RxPackets, x.n.Name())
		}
	}
}

// maxOutage is how long the overlay path to home may be cut after home's
// address changes: home's proxy refreshes its triggers every 10–15 s, and
// the first refresh from the new address re-points them.
const maxOutage = 20 * time.Second

// maxNATOutage is how long the overlay path to home may be cut after only
// its NAT's mapping changed: home's proxy sees it in the echo of a
// reflecting ping (every 2 s behind a NAT, more often while it sends) and
// refreshes its triggers at once.
const maxNATOutage = 5 * time.Second

// TestHomeRenumbered changes home's public address while an ssh session is
// open: the NAT in front of home gets a new outside address and loses its
// mappings of the old one (netlab's Renumber); home sees no local change. The
// servers do: the echo of home's next reflecting ping names the new address,
// and home's proxy refreshes its triggers from it at once, well before the
// next refresh (within maxNATOutage); the session goes on.
func TestHomeRenumbered(t *testing.T) {
	t.Parallel()
	w := newWorld(t, topoOptions{})
	var moved, refreshDue time.Time
	testHomeMoves(t, w, maxNATOutage, func() string {
		refreshDue = earliestRefresh(t, w.home)
		moved = time.Now()
		old := w.nat.Addr4()
		now, err := w.nat.Renumber(netip.Addr{})
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("renumbered home's NAT from %v to %v", old, now)
	})
	st := w.home.mustStatus(t)
	rebinds := st.Counters["client_nat_rebinds"]
	t.Logf("home: %d NAT checks, %d triggers refreshed at once for a new NAT mapping (the first ordinary refresh was due %v after the move)",
		st.Counters["client_nat_checks"], rebinds, refreshDue.Sub(moved).Round(time.Millisecond))
	switch {
	case rebinds > 0:
	case refreshDue.Before(moved.Add(maxNATOutage)):
		// On a loaded machine the session may start late enough that a
		// trigger's ordinary refresh falls due right after the move: sent
		// from the new mapping, it re-points the trigger before the NAT
		// check can, and leaves nothing to rebind. The outage was checked.
		t.Logf("no trigger rebound: an ordinary refresh was due %v after the move, within the %v allowed, and may have come first",
			refreshDue.Sub(moved).Round(time.Millisecond), maxNATOutage)
	default:
		t.Errorf("home's proxy refreshed no trigger for the NAT's new mapping (client_nat_rebinds 0), and no ordinary refresh was due before %v after the move",
			refreshDue.Sub(moved).Round(time.Millisecond))
	}
}

// earliestRefresh returns the earliest time one of n's triggers can be
// refreshed in the ordinary way: its last ACK plus the client's shortest
// refresh interval.
func earliestRefresh(t *testing.T, n *node) time.Time {
	t.Helper()
	var first time.Time
	for _, tr := range n.mustStatus(t).Triggers {
		if !tr.Acked.IsZero() && (first.IsZero() || tr.Acked.Before(first)) {
			first = tr.Acked
		}
	}
	if first.IsZero() {
		t.Fatalf("%s has no acknowledged trigger", n.Name())
	}
	return first.Add(client.DefaultConfig().RefreshMin)
}

// TestHomeMovesBehindSymmetricNAT moves home, while an ssh session is open,
// from its cone NAT to another LAN behind a symmetric NAT (a new port per
// flow): home's own address, its NAT and its public address all change.
func TestHomeMovesBehindSymmetricNAT(t *testing.T) {
	t.Parallel()
	w := newWorld(t, topoOptions{})
	nat2 := w.lab.NATHost("nat2", netip.MustParsePrefix("192.168.2.0/24"), netlab.NATSymmetric)
	testHomeMoves(t, w, maxOutage, func() string {
		old := w.home.Addr4()
		if err := w.home.MoveTo(nat2.LAN()); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("moved home from %v behind %v (cone) to %v behind %v (symmetric)", old, w.nat.Addr4(), w.home.Addr4(), nat2.Addr4())
	})
}

// testHomeMoves runs an ssh session from laptop to home and, in parallel,
// ping home.i3 every 200 ms; after a few lines it calls move, then checks
// that the session completes and that the overlay path (ping) came back
// within limit. The ssh stall is TCP's: its retransmission timer backs
// off while the path is cut, so it resumes at the first retransmission after
// the path is back, up to about twice the outage.
func testHomeMoves(t *testing.T, w *world, limit time.Duration, move func() string) {
	needProgram(t, "ping")
	s := startSSHD(t, w.home.Host)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	const n, every = 30, 500 * time.Millisecond
	stream := startCounting(t, ctx, w, s, n, every)
	pctx, stopPing := context.WithCancel(ctx)
	defer stopPing()
	pings := startLines(t, pctx, w.laptop.Host, "ping", "-D", "-n", "-i", "0.2", "-W", "1", "home.i3")
	if err := stream.waitLines(ctx, 4); err != nil {
		t.Fatal(err)
	}
	if err := pings.waitLines(ctx, 4); err != nil {
		t.Fatal(err)
	}

	moved := time.Now()
	what := move()
	t.Logf("%s after %d lines (took %v)", what, stream.count(), time.Since(moved).Round(time.Millisecond))

	gap, at := stream.finishCounting(t, ctx, n)
	stopPing()
	pings.wait(t, ctx)
	outage, back := pingOutage(t, pings, moved)
	t.Logf("overlay path (ping every 200 ms): cut for %v, answered again %v after the move began", outage.Round(time.Millisecond), back.Round(time.Millisecond))
	t.Logf("ssh completed with all %d lines: stalled %v (after line %d, lines every %v)", n, gap.Round(time.Millisecond), at, every)
	if outage > limit {
		t.Errorf("the overlay path to home was cut for %v after the move: want the triggers re-pointed within %v", outage, limit)
	}

	// A new connection works at once, through the new address.
	start := time.Now()
	out := mustRun(t, ctx, w.laptop.Host, "ssh", s.args("home.i3", "echo hello")...)
	if strings.TrimSpace(string(out)) != "hello" {
		t.Errorf("a new ssh after the move: got %q, want hello", out)
	}
	t.Logf("a new ssh session after the move: %v", time.Since(start).Round(time.Millisecond))
}

// pingOutage reads the replies of "ping -D" (each line stamped with the
// time it was printed) and returns the longest time without a reply, and
// when the reply that ended it came, relative to since.
func pingOutage(t *testing.T, pings *lineStream, since time.Time) (outage, back time.Duration) {
	t.Helper()
	pings.mu.Lock()
	defer pings.mu.Unlock()
	var stamps []time.Time
	for _, l := range pings.lines {
		if !strings.Contains(l.text, "bytes from") || !strings.HasPrefix(l.text, "[") {
			continue
		}
		end := strings.IndexByte(l.text, ']')
		f, err := strconv.ParseFloat(l.text[1:max(end, 1)], 64)
		if err != nil {
			continue
		}
		stamps = append(stamps, time.Unix(0, int64(f*1e9)))
	}
	if len(stamps) < 2 {
		t.Fatalf("ping home.i3 got %d replies: %s", len(stamps), pings.errOut)
	}
	for i := 1; i < len(stamps); i++ {
		if d := stamps[i].Sub(stamps[i-1]); d > outage {
			outage, back = d, stamps[i].Sub(since)
		}
	}
	if !stamps[len(stamps)-1].After(since) {
		t.Errorf("no ping reply after the move")
	}
	return outage, back
}
