package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
)

// Shortcuts (paper §5.2, DESIGN.md "Shortcuts"): when both the trigger and
// the packet allow it, the receiver tells the sender its address and the
// sender sends to it directly, off the overlay; it falls back to the overlay
// when the direct path stops answering (mobility). Two tests, both between
// laptop and office (on the internet, no NAT):
//
//   - TestShortcutProbe, with i3probe: the client's shortcuts, packet by
//     packet (a direct packet arrives from the sender's address, not from a
//     server);
//   - TestShortcut, with the proxies, which allow them per peer with their
//     address books' "shortcut" option; ping measures the path and the
//     servers' counters say whether packets went through them.

const (
	// shortcutPings is how many pings the measured run sends, 50 ms apart.
	shortcutPings = 40
	// overlayLeak is how many data packets the servers may still deliver
	// during a measured run that takes the shortcut (a session's control
	// packets, a probe of the direct path).
	overlayLeak = 6
	// probeMoveGapMax is the longest silence accepted when the receiver
	// moves under i3probe's packets: its client sees its new address within
	// a second and inserts its trigger again, the sender gives the dead
	// direct path up after ShortcutTimeout (1.5 s) and probes through the
	// overlay, which leads to the new address.
	probeMoveGapMax = 3 * time.Second
)

// TestShortcutProbe: the receiver's trigger allows shortcuts and the
// sender's packets do (or one of them does not): once the receiver has
// answered the sender's probe, packets come straight from the sender and the
// servers deliver none; when office moves, packets come through the overlay
// again, then straight again.
func TestShortcutProbe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		sender, receiver bool // which end allows shortcuts
	}{
		{"both-allow", true, true},
		{"sender-forbids", false, true},
		{"receiver-forbids", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRingLab(t, netlab.NATCone, presetDefault)
			x := idOwnedBy(rxID)
			var rflags, sflags []string
			if tt.receiver {
				rflags = append(rflags, "--shortcut")
			}
			if tt.sender {
				sflags = append(sflags, "--shortcut")
			}
			rcv := r.startReceiver(r.office, x, rflags...)
			snd := r.startSender(r.laptop, x, sflags...)
			rs := rcv.waitReceived(t, probeRate/2, deliveryTimeout) // half a second: the path is set up
			before := r.scrape()
			rs = rcv.waitReceived(t, len(rs)+probeRate, deliveryTimeout)
			after := r.scrape()
			direct := 0
			for _, p := range rs[len(rs)-probeRate:] {
				if r.fromHost(p, r.laptop) {
					direct++
				}
			}
			delivered := after.sum("delivered_total") - before.sum("delivered_total")
			t.Logf("of the last %d packets, %d came straight from laptop; the servers delivered %v meanwhile, %v shortcut copies in all",
				probeRate, direct, delivered, after.sum("shortcuts_total"))
			if tt.sender && tt.receiver {
				if direct < probeRate*9/10 || delivered > overlayLeak {
					t.Errorf("%d of %d packets direct, %v delivered by the servers: want (nearly) all direct", direct, probeRate, delivered)
				}
				testProbeMobility(t, r, rcv, snd)
				return
			}
			if direct != 0 || after.sum("shortcuts_total") != 0 {
				t.Errorf("%d packets direct and %v shortcut copies, though one end forbids shortcuts", direct, after.sum("shortcuts_total"))
			}
			last := snd.stopSender(t)
			if rep := report(last, rcv.waitSeq(t, last)); len(rep.missing) > 0 {
				t.Errorf("lost packets: %v", rep)
			}
		})
	}
}

// testProbeMobility renumbers office while packets flow over the shortcut:
// the direct path dies, packets come through the overlay again, then take a
// shortcut to the new address, which office's client states as soon as it
// sees it (client/addrwatch.go).
func testProbeMobility(t *testing.T, r *ringLab, rcv, snd *probe) {
	moved := time.Now()
	old := r.office.Addr4()
	now, err := r.office.Renumber(netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("renumbered office from %v to %v", old, now)
	ctx, cancel := context.WithTimeout(context.Background(), maxOutage+5*time.Second)
	defer cancel()
	var overlay, direct time.Time // first packet after the move through a server, straight from laptop
	err = netlab.Poll(ctx, 50*time.Millisecond, func() error {
		for _, p := range rcv.received() {
			switch {
			case !p.at.After(moved.Add(100 * time.Millisecond)):
			case !r.fromHost(p, r.laptop) && overlay.IsZero():
				overlay = p.at
			case r.fromHost(p, r.laptop) && !overlay.IsZero() && direct.IsZero():
				direct = p.at
			}
		}
		if direct.IsZero() {
			return fmt.Errorf("through the overlay since %v, straight since %v", overlay, direct)
		}
		return nil
	})
	last := snd.stopSender(t)
	all := rcv.waitSeq(t, last)
	gap, b, a := longestSilence(all, moved)
	t.Logf("after the move: longest silence %v (packet %d from %s, then %d from %s); back through the overlay after %v, straight again after %v; %v",
		gap.Round(time.Millisecond), b.seq, b.from, a.seq, a.from, sinceOrNever(overlay, moved), sinceOrNever(direct, moved), report(last, all))
	if err != nil {
		t.Errorf("after office moved: %v", err)
	}
	t.Logf("recovery after the move: delivery resumed after %v, the shortcut is back after %v", gap.Round(time.Millisecond), sinceOrNever(direct, moved))
	if gap > probeMoveGapMax {
		t.Errorf("packets to office stopped for %v after it moved, want under %v", gap, probeMoveGapMax)
	}
}

// sinceOrNever is t - since, or "never" for a zero t.
func sinceOrNever(t, since time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Sub(since).Round(time.Millisecond).String()
}

// fromHost reports whether p came straight from host h (a shortcut), not
// from a server.
func (r *ringLab) fromHost(p rxRecord, h *netlab.Host) bool {
	ap, err := netip.ParseAddrPort(p.from)
	return err == nil && ap.Addr() == h.Addr4()
}

// TestShortcut: a shortcut is used when both ends' books allow it, not when
// either forbids it; when the receiver moves, traffic falls back to the
// overlay and recovers.
func TestShortcut(t *testing.T) {
	t.Parallel()
	needProgram(t, "ping")
	tests := []struct {
		name                 string
		laptopAllows, office bool // whose book entry for the other has "shortcut"
	}{
		{"both-allow", true, true},
		{"laptop-forbids", false, true},
		{"office-forbids", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRingLab(t, netlab.NATCone, presetDefault)
			w := r.proxies(tt.laptopAllows, tt.office)
			direct := tt.laptopAllows && tt.office
			testShortcutUse(t, r, w, direct)
			if direct {
				testShortcutMobility(t, r, w)
			}
		})
	}
}

// proxies starts proxies on laptop and office whose books name each other
// ("office" and "laptop"), with the shortcut option as given, both using
// srv1 as first hop; it returns once both answer "i3net status".
func (r *ringLab) proxies(laptopAllows, officeAllows bool) *world {
	t := r.t
	t.Helper()
	w := &world{t: t, lab: r.lab, srvAddr: r.servers[0].data}
	w.laptop = &node{Host: r.laptop, w: w, resolvConf: netlab.DefaultResolvConf}
	w.home = &node{Host: r.office, w: w, resolvConf: netlab.DefaultResolvConf}
	t.Cleanup(w.checkDaemons) // runs before the lab's cleanup
	for _, n := range []*node{w.laptop, w.home} {
		n.dir = t.TempDir()
		n.makeIdentity()
	}
	add := func(n, peer *node, shortcut bool) {
		args := []string{"book", "add", peer.Name(), peer.key, "--state-dir", n.dir}
		if shortcut {
			args = append(args, "--shortcut")
		}
		if _, err := w.i3net(context.Background(), args...); err != nil {
			t.Fatal(err)
		}
	}
	add(w.laptop, w.home, laptopAllows)
	add(w.home, w.laptop, officeAllows)
	w.home.startProxy(t)
	w.laptop.startProxy(t)
	w.home.waitProxy(t)
	w.laptop.waitProxy(t)
	return w
}

// testShortcutUse pings office from laptop, first to set the session up,
// then shortcutPings times while the servers' counters are read before and
// after: with a shortcut the servers deliver (almost) none of those pings,
// without one they deliver every echo and every reply.
func testShortcutUse(t *testing.T, r *ringLab, w *world, direct bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	mustRun(t, ctx, r.laptop, "ping", "-c", "5", "-i", "0.1", "-W", "2", "office.i3")
	before := r.scrape()
	out := mustRun(t, ctx, r.laptop, "ping", "-q", "-c", strconv.Itoa(shortcutPings), "-i", "0.05", "-W", "2", "office.i3")
	after := r.scrape()
	got := pingReceived(t, out)
	delivered := after.sum("delivered_total") - before.sum("delivered_total")
	shortcuts := after.sum("shortcuts_total")
	t.Logf("%d pings, %d answered; the servers delivered %v data packets meanwhile, %v shortcut offers in all",
		shortcutPings, got, delivered, shortcuts)
	if got < shortcutPings-1 {
		t.Errorf("%d of %d pings answered", got, shortcutPings)
	}
	switch {
	case direct && shortcuts == 0:
		t.Errorf("no shortcut offered (i3net_server_shortcuts_total 0), though both books allow one")
	case direct && delivered > overlayLeak:
		t.Errorf("the servers delivered %v packets during %d pings, want at most %d: the pings did not take the shortcut",
			delivered, shortcutPings, overlayLeak)
	case !direct && shortcuts != 0:
		t.Errorf("%v shortcut offers, though a book forbids shortcuts", shortcuts)
	case !direct && delivered < 2*float64(got):
		t.Errorf("the servers delivered %v packets during %d answered pings, want every echo and reply (%d)",
			delivered, got, 2*got)
	}
}

// testShortcutMobility moves office to another address while laptop pings it
// every 100 ms over the shortcut: the direct path dies with the old address,
// traffic falls back to the overlay (the servers deliver again) and the pings
// come back within maxOutage (office's next trigger refresh re-points its
// triggers, as in TestHomeRenumbered).
func testShortcutMobility(t *testing.T, r *ringLab, w *world) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pctx, stopPing := context.WithCancel(ctx)
	defer stopPing()
	pings := startLines(t, pctx, r.laptop, "ping", "-D", "-n", "-i", "0.1", "-W", "1", "office.i3")
	if err := pings.waitLines(ctx, 5); err != nil {
		t.Fatal(err)
	}
	before := r.scrape()
	moved := time.Now()
	old := r.office.Addr4()
	now, err := r.office.Renumber(netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("renumbered office from %v to %v", old, now)
	wctx, wcancel := context.WithTimeout(ctx, maxOutage+5*time.Second)
	defer wcancel()
	err = netlab.Poll(wctx, 50*time.Millisecond, func() error {
		if pings.firstAfter(moved.Add(time.Second)).IsZero() {
			return fmt.Errorf("no reply since the move")
		}
		return nil
	})
	if err == nil {
		err = pings.waitLines(wctx, pings.count()+10) // a second more of replies
	}
	stopPing()
	pings.wait(t, ctx)
	if err != nil {
		t.Errorf("pings to office after it moved: %v", err)
	}
	after := r.scrape()
	outage, backAt := pingOutage(t, pings, moved)
	t.Logf("after the move: pings cut for %v, answered again %v after it; the servers delivered %v data packets, %v more shortcut offers",
		outage.Round(time.Millisecond), backAt.Round(time.Millisecond),
		after.sum("delivered_total")-before.sum("delivered_total"), after.sum("shortcuts_total")-before.sum("shortcuts_total"))
	if outage > maxOutage {
		t.Errorf("pings to office were cut for %v after it moved, want under %v", outage, maxOutage)
	}
	if after.sum("delivered_total") == before.sum("delivered_total") {
		t.Errorf("the servers delivered nothing after office moved: traffic did not fall back to the overlay")
	}
}

// pingSummary matches ping's "N packets transmitted, M received" line.
var pingSummary = regexp.MustCompile(`(\d+) packets transmitted, (\d+) (packets )?received`)

// pingReceived returns how many replies ping's summary reports.
func pingReceived(t *testing.T, out []byte) int {
	t.Helper()
	m := pingSummary.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no summary in ping's output:\n%s", out)
	}
	n, _ := strconv.Atoi(string(m[2]))
	return n
}
