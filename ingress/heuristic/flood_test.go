package heuristic

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"testing"
	"time"
)

// floodScenario: legitimate clients, each from its own address, resolve one of
// three names at legitPerSecond and complete their TCP handshake delay later;
// an attacker completes attackPerSecond handshakes, each from a new address
// (a botnet, or an IPv6 prefix larger than the rate limit's /64), spread over
// the waypoints in turn. Every name publishes the attacked port: the port
// tells nothing apart (the worst case).
type floodScenario struct {
	waypoints       int
	legitPerSecond  int
	attackPerSecond int
	delay           time.Duration
	duration        time.Duration
}

type floodResult struct {
	legit, right, wrong int // legitimate claims; routed right; routed to another name
	attacks, stolen     int // attacker claims; those that got a binding
	stats               Stats
}

type floodEvent struct {
	at     time.Duration
	order  int // at one instant: hand-outs (0) before claims (1)
	attack bool
	i      int
}

func runFlood(t *testing.T, sc floodScenario) floodResult {
	t.Helper()
	wps := make([]netip.Addr, sc.waypoints)
	for i := range wps {
		wps[i] = netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i)})
	}
	table, clk := newTable(t, Config{Waypoints: wps})
	events := floodEvents(sc)
	var res floodResult
	handed := make(map[int]netip.Addr)
	now := time.Duration(0)
	for _, ev := range events {
		clk.Advance(ev.at - now)
		now = ev.at
		name := fmt.Sprint("svc", ev.i%3)
		switch {
		case ev.attack:
			res.attacks++
			client := netip.AddrFrom4([4]byte{100, 64 + byte(ev.i>>16), byte(ev.i >> 8), byte(ev.i)})
			if _, ok := table.Claim(client, wps[ev.i%len(wps)], 22, any22); ok {
				res.stolen++
			}
		case ev.order == 0:
			handed[ev.i], _ = table.Hand(name, false)
		default:
			res.legit++
			client := netip.AddrFrom4([4]byte{10, byte(ev.i >> 16), byte(ev.i >> 8), byte(ev.i)})
			got, ok := table.Claim(client, handed[ev.i], 22, any22)
			if ok && got == name {
				res.right++
			} else if ok {
				res.wrong++
			}
		}
	}
	res.stats = table.Stats()
	return res
}

// floodEvents lists the scenario's hand-outs and claims in time order:
// arrivals are Poisson (exponential gaps), each legitimate client's delay is
// uniform in [delay/2, 3*delay/2), all drawn from a fixed seed.
func floodEvents(sc floodScenario) []floodEvent {
	rng := rand.New(rand.NewPCG(12, 2026))
	gap := func(perSecond int) time.Duration {
		return time.Duration(rng.ExpFloat64() * float64(time.Second) / float64(perSecond))
	}
	var events []floodEvent
	for i, at := 0, gap(sc.legitPerSecond); at < sc.duration; i, at = i+1, at+gap(sc.legitPerSecond) {
		delay := sc.delay/2 + time.Duration(rng.Int64N(int64(sc.delay)))
		events = append(events, floodEvent{at: at, i: i}, floodEvent{at: at + delay, order: 1, i: i})
	}
	if sc.attackPerSecond > 0 {
		for j, at := 0, gap(sc.attackPerSecond); at < sc.duration; j, at = j+1, at+gap(sc.attackPerSecond) {
			events = append(events, floodEvent{at: at, order: 1, attack: true, i: j})
		}
	}
	sort.SliceStable(events, func(a, b int) bool {
		if events[a].at != events[b].at {
			return events[a].at < events[b].at
		}
		return events[a].order < events[b].order
	})
	return events
}

// TestAttackerFlood measures what an attacker completing N TCP handshakes a
// second, each from a new address, takes from clients routed by the heuristic.
// Legitimate clients: 10 a second (Poisson), each resolving one of three names
// and completing its handshake 25 to 75 ms after the DNS answer; 100 s, about
// 1000 clients; every name publishes the port (the port tells nothing apart).
// Figures (seeded, so the same each run; the test allows 3 points of drift):
//
//	waypoints  attacks/s  routed right  routed wrong  attacker bindings/claims
//	    1           0         85 %          15 %              0/0
//	    1           1         81 %          15 %             36/87
//	    1          10         49 %          19 %            320/985
//	    1          20         29 %          22 %            487/2026
//	    1         100          2 %           9 %            894/9930
//	    1        1000          0 %           1 %            991/99812
//	    4           0        100 %           0 %              0/0
//	    4           1         98.5 %         0 %             15/87
//	    4          10         88 %           0 %            122/985
//	    4          20         73 %           0 %            271/2026
//	    4         100         13.5 %         0 %            868/9930
//	    4        1000          0 %           0 %           1005/99812
//
// The rest of the legitimate clients find nothing and are refused. So: with
// one waypoint, clients resolving within a few tens of milliseconds of each
// other can swap names even with no attacker (15 % here), unless the port
// tells them apart; with four waypoints Hand gives them idle ones and none is
// misrouted. An attacker takes at most the entries handed out (bindings ≤
// Handed), about a fraction 1-exp(-N/W × delay) of them with W waypoints: 100
// handshakes a second deny the heuristic to most clients of 4 waypoints, and
// the per-address rate limit does not help against many addresses. Host and
// SNI routing (ports 80 and 443) is immune: it does not use pending entries.
func TestAttackerFlood(t *testing.T) {
	tests := []struct {
		waypoints, attacks                 int
		wantRight, wantWrong, wantBindings int // of about 1000 clients
	}{
		{1, 0, 854, 151, 0}, {1, 1, 816, 153, 36}, {1, 10, 490, 195, 320}, {1, 20, 294, 224, 487},
		{1, 100, 22, 89, 894}, {1, 1000, 1, 13, 991},
		{4, 0, 1005, 0, 0}, {4, 1, 990, 0, 15}, {4, 10, 883, 0, 122}, {4, 20, 734, 0, 271},
		{4, 100, 136, 1, 868}, {4, 1000, 0, 0, 1005},
	}
	near := func(got, want int) bool { return got >= want-30 && got <= want+30 }
	for _, tt := range tests {
		sc := floodScenario{waypoints: tt.waypoints, legitPerSecond: 10, attackPerSecond: tt.attacks,
			delay: 50 * time.Millisecond, duration: 100 * time.Second}
		res := runFlood(t, sc)
		t.Logf("waypoints %d, attacks/s %4d: routed right %4d/%d, wrong %3d, attacker bindings %4d/%d",
			tt.waypoints, tt.attacks, res.right, res.legit, res.wrong, res.stolen, res.attacks)
		if !near(res.right, tt.wantRight) || !near(res.wrong, tt.wantWrong) || !near(res.stolen, tt.wantBindings) {
			t.Errorf("waypoints %d, attacks/s %d: right %d wrong %d attacker %d; want about %d, %d, %d",
				tt.waypoints, tt.attacks, res.right, res.wrong, res.stolen, tt.wantRight, tt.wantWrong, tt.wantBindings)
		}
		if uint64(res.stolen) > res.stats.Handed || res.right+res.wrong+res.stolen > int(res.stats.Handed) {
			t.Errorf("more claims answered than names handed out: %+v", res.stats)
		}
	}
}

// TestFloodStaysBounded: claims from 100 000 addresses and hand-outs far
// beyond the bounds leave at most MaxBindings bindings and MaxPending entries
// per waypoint, and without hand-outs the attacker gets nothing.
func TestFloodStaysBounded(t *testing.T) {
	table, clk := newTable(t, Config{Waypoints: []netip.Addr{w1, w2}, MaxBindings: 1000, MaxPending: 8})
	for i := range 100_000 {
		client := netip.AddrFrom4([4]byte{100, 64 + byte(i>>16), byte(i >> 8), byte(i)})
		if _, ok := table.Claim(client, w1, 22, any22); ok {
			t.Fatal("a claim with nothing handed out got a binding")
		}
	}
	stolen := 0
	for i := range 100_000 {
		if i%10 == 0 {
			table.Hand(fmt.Sprint("n", i%100), i%20 == 0)
			clk.Advance(time.Millisecond)
		}
		client := netip.AddrFrom4([4]byte{100, 64 + byte(i>>16), byte(i >> 8), byte(i)})
		if _, ok := table.Claim(client, []netip.Addr{w1, w2}[i%2], 22, any22); ok {
			stolen++
		}
		if s := table.Stats(); s.Bindings > 1000 || s.Pending > 2*8 {
			t.Fatalf("after %d claims: %+v", i, s)
		}
	}
	s := table.Stats()
	if uint64(stolen) > s.Handed || s.Evicted == 0 {
		t.Fatalf("stolen %d, stats %+v", stolen, s)
	}
}
