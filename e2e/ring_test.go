package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
)

// The overlay as many servers (GitHub issue 4, DESIGN.md §2 "Overlay
// membership"): five real "i3net server" processes joined into one ring
// (ringlab_test.go), a receiver behind a NAT, a sender on the internet, and
// numbered packets at probeRate per second between them, so that every
// loss and every silence is measured exactly.
//
// The receiver's id is owned by srv3 (first byte 0x70; srv3 sits at 0x80,
// srv2 at 0x50), and srv4 (0xb0) holds the replica. srv1 (0x20) is first in
// both hosts' server lists; a host that sends through a server other than
// srv3 takes the one extra hop until the hint comes back.

const (
	// rxID is the first byte of the receiver's id: srv3 owns it.
	rxID = 0x70
	// joinPosition places the server that joins in TestRingJoin in front of
	// srv3, so that it becomes the owner of the receiver's id.
	joinPosition = 0x78

	// joinGapMax is the longest silence accepted when a server joins in
	// front of the owner: behind a NAT, the receiver must open its NAT
	// toward the new owner at once (the old owner's hint), not at its next
	// refresh, 10–15 s later. Packets may be lost only while the trigger
	// moves, so within one window of at most this long (lossWindow).
	joinGapMax = 2 * time.Second
	// failoverGapMax is the longest silence accepted when the owner of the
	// receiver's trigger dies: the "lan" failure detector declares it dead
	// in about a second, and the hosts must then reach its successor.
	failoverGapMax = 2 * time.Second
	// resumeTimeout bounds the wait for delivery to resume after a failure
	// (beyond it the test fails and says so; how soon it resumed is
	// asserted apart, on the receiver's record).
	resumeTimeout = 30 * time.Second
	// deliveryTimeout bounds a wait for packets to arrive or be counted:
	// generous, for a busy machine (it costs nothing when all goes well).
	deliveryTimeout = 30 * time.Second
)

// TestRingDelivery: packets from laptop reach home across a ring of five
// servers, behind either kind of NAT; after the first packets they take the
// cached one-hop path, straight to the owner (§2.2): the servers' hop
// counters stop while the owner delivers probeRate more packets (counted by
// the owner itself, not by the receiver, which may lag on a busy machine:
// "receiver-stalled" stops the receiver while the measure starts, which a
// count at the receiver mistook for fewer deliveries).
func TestRingDelivery(t *testing.T) {
	t.Parallel()
	for _, kind := range []netlab.NATKind{netlab.NATCone, netlab.NATSymmetric} {
		t.Run(kind.String(), func(t *testing.T) {
			t.Parallel()
			testRingDelivery(t, newRingLab(t, kind, presetDefault), kind, false)
		})
	}
	t.Run("cone-receiver-stalled", func(t *testing.T) {
		t.Parallel()
		testRingDelivery(t, newRingLab(t, netlab.NATCone, presetDefault), netlab.NATCone, true)
	})
}

func testRingDelivery(t *testing.T, r *ringLab, kind netlab.NATKind, stall bool) {
	x := idOwnedBy(rxID)
	owner := r.owner(x)
	if owner.name != "srv3" {
		t.Fatalf("the receiver's id %s is owned by %s, want srv3", x.Short(), owner.name)
	}
	rcv := r.startReceiver(r.home, x)
	snd := r.startSender(r.laptop, x)

	// The first packets may go through another server, which sends them on
	// to srv3 and hints the sender; by a quarter second in, the hint is in
	// use.
	rcv.waitReceived(t, probeRate/4, deliveryTimeout)
	if stall {
		rcv.stall(t, r, owner, probeRate/4)
	}
	before := r.scrape()
	if stall {
		rcv.resume(t)
	}
	r.waitDelivered(owner, before, probeRate) // one more second's worth
	after := r.scrape()
	last := snd.stopSender(t)
	rs := rcv.waitSeq(t, last)
	rep := report(last, rs)
	final := r.scrape()
	t.Logf("%v NAT: %v", kind, rep)

	hops := before.sum("ring_hops_total")
	delivered := after[owner.name]["i3net_server_delivered_total"] - before[owner.name]["i3net_server_delivered_total"]
	t.Logf("first packets: %v hops, %v hints; while %s delivered the next %v packets: %v more hops",
		hops, before.sum("ring_hints_total"), owner.name, delivered, after.sum("ring_hops_total")-hops)
	if len(rep.missing) > 0 || rep.dups > 0 {
		t.Errorf("packets lost or duplicated: %v", rep)
	}
	if hops == 0 {
		t.Logf("no packet or insertion needed a hop: both hosts' first hop was %s, the owner", owner.name)
	}
	if d := after.sum("ring_hops_total") - hops; d != 0 {
		t.Errorf("%v more hops while %s delivered %v packets, want none once the sender had its hint (packets should go straight to %s)",
			d, owner.name, delivered, owner.name)
	}
	fromOwner := countFrom(rs, owner)
	if got := final[owner.name]["i3net_server_delivered_total"]; got < float64(fromOwner) {
		t.Errorf("%s counts %v packets delivered, but the receiver got %d from it", owner.name, got, fromOwner)
	}
	for _, x := range rs[probeRate/4:] {
		if x.from != owner.data.String() {
			t.Errorf("packet %d delivered by %s, want %s (the owner)", x.seq, x.from, owner.data)
			break
		}
	}
}

// receivers are where the join and failover tests put the receiver: on
// the internet (office), and behind a cone NAT (home), where a server the
// receiver never sent to cannot reach it until it does.
var receivers = []struct {
	name string
	host func(*ringLab) *netlab.Host
}{
	{"office", func(r *ringLab) *netlab.Host { return r.office }},
	{"home-behind-nat", func(r *ringLab) *netlab.Host { return r.home }},
}

// TestRingJoin: a server joins in front of the owner of the receiver's id
// while packets flow; the trigger moves to it (handover) and no packet is
// lost beyond those in flight while it moves: every lost packet falls in one
// window after the join, shorter than joinGapMax. Behind a NAT, the old owner's hint has the receiver
// insert its trigger at the new owner at once, which opens the NAT toward it.
func TestRingJoin(t *testing.T) {
	t.Parallel()
	for _, rv := range receivers {
		t.Run(rv.name, func(t *testing.T) {
			t.Parallel()
			r := newRingLab(t, netlab.NATCone, presetDefault)
			testRingJoin(t, r, rv.host(r))
		})
	}
}

func testRingJoin(t *testing.T, r *ringLab, at *netlab.Host) {
	x := idOwnedBy(rxID)
	rcv := r.startReceiver(at, x)
	snd := r.startSender(r.laptop, x)
	rcv.waitReceived(t, probeRate/2, deliveryTimeout)

	joinAt := time.Now()
	s6 := r.addServer(joinPosition)
	r.waitMembers(len(r.servers))
	t.Logf("%s joined at position %02x…: all six servers agree after %v", s6.name, joinPosition, time.Since(joinAt).Round(time.Millisecond))
	if o := r.owner(x); o != s6 {
		t.Fatalf("the receiver's id is owned by %s after the join, want %s", o.name, s6.name)
	}
	// Delivery goes on, from the new owner, for one more second.
	rs := rcv.waitFrom(t, r, s6, resumeTimeout)
	rcv.waitReceived(t, len(rs)+probeRate, deliveryTimeout)
	last := snd.stopSender(t)
	all := rcv.waitSeq(t, last)
	rep := report(last, all)
	gap, b, a := longestSilence(all, joinAt)
	c := r.scrape()
	t.Logf("join, receiver in %s: %v; longest silence %v (packets %d → %d); %s: %v replicas received, %v delivered",
		at.Name(), rep, gap.Round(time.Millisecond), b.seq, a.seq, s6.name,
		c[s6.name]["i3net_server_replicas_received_total"], c[s6.name]["i3net_server_delivered_total"])
	if len(rep.missing) > 0 {
		w := lossWindow(all, rep.missing)
		t.Logf("the join lost %d of %d packets (%.1f%%), all between packet %d at %s and packet %d (from %s) %v later",
			len(rep.missing), rep.sent, 100*float64(len(rep.missing))/float64(rep.sent),
			w.before.seq, w.before.at.Format("15:04:05.000"), w.after.seq, w.after.from, w.length().Round(time.Millisecond))
		if !w.before.at.After(joinAt) {
			t.Errorf("packets were lost before %s joined (after packet %d): %v", s6.name, w.before.seq, rep)
		}
		if w.length() > joinGapMax {
			t.Errorf("packets were lost over %v (packets %d to %d), want only those in flight while the trigger moved, within %v: %v",
				w.length().Round(time.Millisecond), w.before.seq, w.after.seq, joinGapMax, rep)
		}
	}
	if gap > joinGapMax {
		t.Errorf("delivery stopped for %v when %s joined, want under %v", gap.Round(time.Millisecond), s6.name, joinGapMax)
	}
}

// TestRingFailover: the owner of the receiver's trigger is killed (SIGKILL)
// while packets flow; its successor, which holds a replica, serves the
// trigger once the others declare it dead, and delivery resumes within
// failoverGapMax.
func TestRingFailover(t *testing.T) {
	t.Parallel()
	for _, rv := range receivers {
		t.Run(rv.name, func(t *testing.T) {
			t.Parallel()
			r := newRingLab(t, netlab.NATCone, presetFast)
			testRingFailover(t, r, rv.host(r))
		})
	}
}

func testRingFailover(t *testing.T, r *ringLab, at *netlab.Host) {
	x := idOwnedBy(rxID)
	owner := r.owner(x)
	rcv := r.startReceiver(at, x)
	snd := r.startSender(r.laptop, x)
	rcv.waitReceived(t, probeRate/2, deliveryTimeout)

	killAt := time.Now()
	r.kill(owner)
	next := r.owner(x)
	rs := rcv.waitFrom(t, r, next, resumeTimeout)
	resumed := time.Since(killAt)
	rcv.waitReceived(t, len(rs)+probeRate/2, deliveryTimeout)
	last := snd.stopSender(t)
	all := rcv.waitSeq(t, last)
	rep := report(last, all)
	gap, b, a := longestSilence(all, killAt.Add(-time.Second/probeRate))
	c := r.scrape()
	t.Logf("%s killed, receiver in %s: delivery from %s resumed %v later; longest silence %v (packet %d from %s, then %d from %s); %v; "+
		"%s: %v triggers taken over", owner.name, at.Name(), next.name, resumed.Round(time.Millisecond), gap.Round(time.Millisecond),
		b.seq, b.from, a.seq, a.from, rep, next.name, c[next.name]["i3net_server_replica_takeovers_total"])
	if gap > failoverGapMax {
		t.Errorf("delivery stopped for %v when %s died, want under %v", gap.Round(time.Millisecond), owner.name, failoverGapMax)
	}
}

// TestRingRestart: the owner of the receiver's trigger is killed (SIGKILL)
// and started again at once, at its address and position, joining the
// others before they declare it dead: it comes back with an empty table.
// The server holding the trigger's copy sees it return with a new epoch and
// gives the trigger back, so delivery resumes within failoverGapMax, not at
// the receiver's next refresh, 10–15 s later (bug: until then the restarted
// owner answered "not present", found by bench/soak).
func TestRingRestart(t *testing.T) {
	t.Parallel()
	r := newRingLab(t, netlab.NATCone, presetFast)
	x := idOwnedBy(rxID)
	owner := r.owner(x)
	rcv := r.startReceiver(r.office, x)
	snd := r.startSender(r.laptop, x)
	rcv.waitReceived(t, probeRate/2, deliveryTimeout)

	killAt := time.Now()
	r.kill(owner)
	r.run(owner, r.servers[0])
	restarted := time.Since(killAt)
	rs := rcv.waitFrom(t, r, owner, resumeTimeout)
	rcv.waitReceived(t, len(rs)+probeRate/2, deliveryTimeout)
	last := snd.stopSender(t)
	all := rcv.waitSeq(t, last)
	gap, b, a := longestSilence(all, killAt.Add(-time.Second/probeRate))
	t.Logf("%s killed and running again %v later; longest silence %v (packet %d from %s, then %d from %s); %v",
		owner.name, restarted.Round(time.Millisecond), gap.Round(time.Millisecond), b.seq, b.from, a.seq, a.from, report(last, all))
	if gap > failoverGapMax {
		t.Errorf("delivery stopped for %v when %s restarted, want under %v", gap.Round(time.Millisecond), owner.name, failoverGapMax)
	}
}

// waitFrom waits, bounded by d, until the receiver gets a packet delivered
// by s, and returns what it got. It fails t otherwise, with what each server
// did meanwhile: whether s delivered packets that did not arrive (a NAT in
// the way), or got none (the sender still sends elsewhere).
func (p *probe) waitFrom(t *testing.T, r *ringLab, s *ringServer, d time.Duration) []rxRecord {
	t.Helper()
	before := r.scrape()
	want := s.data.String()
	var rs []rxRecord
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := netlab.Poll(ctx, 20*time.Millisecond, func() error {
		rs = p.received()
		if !slices.ContainsFunc(rs, func(x rxRecord) bool { return x.from == want }) {
			return fmt.Errorf("none from %s", s.name)
		}
		return nil
	})
	if err != nil {
		last := "none"
		if len(rs) > 0 {
			x := rs[len(rs)-1]
			last = fmt.Sprintf("%d from %s at %s", x.seq, x.from, x.at.Format("15:04:05.000"))
		}
		t.Fatalf("%s: no packet delivered by %s within %v (%d packets in all; the last: %s); meanwhile %s",
			p.host.Name(), s.name, d, len(rs), last, r.scrape().since(before))
	}
	return rs
}

// since describes what each server did between then and c.
func (c counters) since(then counters) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(c)) {
		d := func(k string) float64 { return c[name]["i3net_server_"+k] - then[name]["i3net_server_"+k] }
		fmt.Fprintf(&b, "%s: delivered %v, hops %v, not present %v, takeovers %v, replicas received %v; ",
			name, d("delivered_total"), d("ring_hops_total"), d("not_present_total"), d("replica_takeovers_total"), d("replicas_received_total"))
	}
	return strings.TrimSuffix(b.String(), "; ")
}

// waitSeq waits, bounded by deliveryTimeout, until the receiver has packet
// seq (the sender's last), so that packets in flight or not yet written down
// by the receiver when the sender stopped are not counted as lost, and
// returns what it got.
func (p *probe) waitSeq(t *testing.T, seq uint64) []rxRecord {
	t.Helper()
	var rs []rxRecord
	ctx, cancel := context.WithTimeout(context.Background(), deliveryTimeout)
	defer cancel()
	_ = netlab.Poll(ctx, 20*time.Millisecond, func() error {
		rs = p.received()
		if !slices.ContainsFunc(rs, func(x rxRecord) bool { return x.seq >= seq }) {
			return fmt.Errorf("no packet %d", seq)
		}
		return nil
	})
	return rs
}

// waitDelivered waits, bounded by deliveryTimeout, until s counts n more
// packets delivered than in then, and fails t otherwise with what each
// server did meanwhile.
func (r *ringLab) waitDelivered(s *ringServer, then counters, n int) {
	r.t.Helper()
	const name = "i3net_server_delivered_total"
	want := then[s.name][name] + float64(n)
	ctx, cancel := context.WithTimeout(context.Background(), deliveryTimeout)
	defer cancel()
	err := netlab.Poll(ctx, 20*time.Millisecond, func() error {
		m, err := s.metrics(ctx)
		if err != nil {
			return err
		}
		if got := m[name]; got < want {
			return fmt.Errorf("%v delivered", got-then[s.name][name])
		}
		return nil
	})
	if err != nil {
		r.t.Fatalf("%s did not deliver %d more packets within %v: %v; meanwhile %s", s.name, n, deliveryTimeout, err, r.scrape().since(then))
	}
}

// countFrom returns how many of rs s delivered.
func countFrom(rs []rxRecord, s *ringServer) int {
	n := 0
	for _, x := range rs {
		if x.from == s.data.String() {
			n++
		}
	}
	return n
}

// window is a stretch of time between two packets received.
type window struct{ before, after rxRecord }

func (w window) length() time.Duration { return w.after.at.Sub(w.before.at) }

// lossWindow returns the packets received around the lost ones (missing,
// in order, not empty): the one of the highest sequence number below the
// first lost and the one of the lowest above the last lost. Every lost
// packet was sent, so would have arrived, between those two.
func lossWindow(rs []rxRecord, missing []uint64) window {
	first, last := missing[0], missing[len(missing)-1]
	var w window
	for _, x := range rs {
		if x.seq < first && x.seq > w.before.seq {
			w.before = x
		}
		if x.seq > last && (w.after.seq == 0 || x.seq < w.after.seq) {
			w.after = x
		}
	}
	return w
}

// stall stops the receiver (SIGSTOP) until s has delivered n packets it
// has not read, as a starved process falls behind on a busy machine; resume
// lets it go on. The test's cleanup resumes it in any case.
func (p *probe) stall(t *testing.T, r *ringLab, s *ringServer, n int) {
	t.Helper()
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Signal(syscall.SIGCONT) })
	r.waitDelivered(s, r.scrape(), n)
}

func (p *probe) resume(t *testing.T) {
	t.Helper()
	if err := p.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
}
