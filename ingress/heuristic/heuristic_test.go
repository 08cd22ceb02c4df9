package heuristic

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/clock"
)

var (
	w1 = netip.MustParseAddr("198.51.100.10")
	w2 = netip.MustParseAddr("198.51.100.11")
	w6 = netip.MustParseAddr("2001:db8::10")
	c1 = netip.MustParseAddr("192.0.2.1")
	c2 = netip.MustParseAddr("192.0.2.2")
)

// newTable returns a table on a fake clock.
func newTable(t *testing.T, cfg Config) (*Table, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake()
	cfg.Clock = clk
	table, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return table, clk
}

// ports is a serves function: name → the ports it publishes.
func ports(published map[string][]uint16) func(string, uint16) bool {
	return func(name string, port uint16) bool {
		for _, p := range published[name] {
			if p == port {
				return true
			}
		}
		return false
	}
}

// any22 publishes port 22 for every name.
func any22(_ string, port uint16) bool { return port == 22 }

func mustHand(t *testing.T, table *Table, name string, want netip.Addr) {
	t.Helper()
	got, ok := table.Hand(name, want.Is6())
	if !ok || got != want {
		t.Fatalf("Hand(%q) = %v, %v; want %v", name, got, ok, want)
	}
}

func wantClaim(t *testing.T, table *Table, client, wp netip.Addr, port uint16, serves func(string, uint16) bool, want string) {
	t.Helper()
	got, ok := table.Claim(client, wp, port, serves)
	if ok != (want != "") || got != want {
		t.Fatalf("Claim(%v, %v, %d) = %q, %v; want %q", client, wp, port, got, ok, want)
	}
}

func TestNewChecksConfig(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "no waypoints"},
		{Config{Waypoints: []netip.Addr{{}}}, "not a usable address"},
		{Config{Waypoints: []netip.Addr{netip.IPv4Unspecified()}}, "not a usable address"},
		{Config{Waypoints: []netip.Addr{w1, netip.AddrFrom16(w1.As16())}}, "listed twice"},
		{Config{Waypoints: []netip.Addr{w1}, Window: -1}, "negative"},
		{Config{Waypoints: []netip.Addr{w1}, MaxBindings: -1}, "negative"},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want an error with %q", tt.cfg, err, tt.want)
		}
	}
}

// TestTwoClientsTwoWaypoints: two clients resolving different names at once
// get different waypoints, and each connection goes where its client meant.
func TestTwoClientsTwoWaypoints(t *testing.T) {
	table, clk := newTable(t, Config{Waypoints: []netip.Addr{w1, w2}})
	mustHand(t, table, "a", w1)
	mustHand(t, table, "b", w2)
	clk.Advance(50 * time.Millisecond)
	wantClaim(t, table, c2, w2, 22, any22, "b")
	wantClaim(t, table, c1, w1, 22, any22, "a")
	if s := table.Stats(); s.Ambiguous != 0 || s.Claimed != 2 || s.Bindings != 2 || s.Pending != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestHandChoosesWaypoint(t *testing.T) {
	table, clk := newTable(t, Config{Waypoints: []netip.Addr{w1, w6, w2}})
	mustHand(t, table, "a", w1)
	mustHand(t, table, "a", w1) // only "a" pending on w1: nothing to tell apart
	mustHand(t, table, "b", w2) // idle first
	clk.Advance(100 * time.Millisecond)
	mustHand(t, table, "c", w1) // both busy: w1's newest hand-out is the oldest
	mustHand(t, table, "d", w2)
	mustHand(t, table, "e", w6)
	clk.Advance(2 * time.Second) // all expire
	mustHand(t, table, "f", w1)  // round robin goes on after w2
	mustHand(t, table, "g", w2)
	if s := table.Stats(); s.Handed != 8 || s.Expired != 6 || s.Pending != 2 {
		t.Fatalf("stats %+v", s)
	}
	only6, _ := newTable(t, Config{Waypoints: []netip.Addr{w6}})
	if addr, ok := only6.Hand("a", false); ok {
		t.Fatalf("Hand for IPv4 with IPv6 waypoints only = %v", addr)
	}
}

// TestPortTellsApart: with one waypoint, two names handed out at once are told
// apart by the port each publishes; when both publish it, the oldest wins and
// the claim counts as ambiguous.
func TestPortTellsApart(t *testing.T) {
	table, _ := newTable(t, Config{Waypoints: []netip.Addr{w1}})
	serves := ports(map[string][]uint16{"ssh": {22}, "db": {5432}, "ssh2": {22}})
	mustHand(t, table, "ssh", w1)
	mustHand(t, table, "db", w1)
	wantClaim(t, table, c2, w1, 5432, serves, "db")
	wantClaim(t, table, c1, w1, 22, serves, "ssh")
	if s := table.Stats(); s.Ambiguous != 0 {
		t.Fatalf("ambiguous claims: %+v", s)
	}
	mustHand(t, table, "ssh", w1)
	mustHand(t, table, "ssh2", w1)
	wantClaim(t, table, netip.MustParseAddr("192.0.2.3"), w1, 22, serves, "ssh")
	wantClaim(t, table, netip.MustParseAddr("192.0.2.4"), w1, 22, serves, "ssh2")
	wantClaim(t, table, netip.MustParseAddr("192.0.2.5"), w1, 80, serves, "")
	if s := table.Stats(); s.Ambiguous != 1 || s.Unmatched != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestWindow(t *testing.T) {
	table, clk := newTable(t, Config{Waypoints: []netip.Addr{w1}})
	mustHand(t, table, "a", w1)
	clk.Advance(999 * time.Millisecond)
	wantClaim(t, table, c1, w1, 22, any22, "a")
	mustHand(t, table, "b", w1)
	clk.Advance(1001 * time.Millisecond)
	wantClaim(t, table, c2, w1, 22, any22, "")
	if s := table.Stats(); s.Expired != 1 || s.Unmatched != 1 || s.Pending != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestBindingReusedThenIdlesOut(t *testing.T) {
	table, clk := newTable(t, Config{Waypoints: []netip.Addr{w1}, BindingTimeout: 10 * time.Minute})
	serves := ports(map[string][]uint16{"a": {22, 2222}, "b": {80}})
	mustHand(t, table, "a", w1)
	wantClaim(t, table, c1, w1, 22, serves, "a")
	clk.Advance(9 * time.Minute)
	wantClaim(t, table, c1, w1, 2222, serves, "a") // reused, and refreshed
	wantClaim(t, table, c2, w1, 22, serves, "")    // another client has no binding
	clk.Advance(9 * time.Minute)
	wantClaim(t, table, c1, w1, 22, serves, "a")
	// A port the bound name does not publish: a new hand-out decides.
	mustHand(t, table, "b", w1)
	wantClaim(t, table, c1, w1, 80, serves, "b")
	clk.Advance(10*time.Minute + time.Nanosecond)
	wantClaim(t, table, c1, w1, 80, serves, "")
	if s := table.Stats(); s.Reused != 2 || s.Claimed != 2 || s.Idle != 1 || s.Bindings != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestEvictionAtMaxBindings(t *testing.T) {
	table, _ := newTable(t, Config{Waypoints: []netip.Addr{w1}, MaxBindings: 3})
	clients := make([]netip.Addr, 5)
	for i := range clients {
		clients[i] = netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})
	}
	for i, c := range clients[:3] {
		name := fmt.Sprint("n", i)
		mustHand(t, table, name, w1)
		wantClaim(t, table, c, w1, 22, any22, name)
	}
	wantClaim(t, table, clients[0], w1, 22, any22, "n0") // now clients[1] is the least recently used
	mustHand(t, table, "n3", w1)
	wantClaim(t, table, clients[3], w1, 22, any22, "n3")
	wantClaim(t, table, clients[1], w1, 22, any22, "") // evicted
	wantClaim(t, table, clients[0], w1, 22, any22, "n0")
	wantClaim(t, table, clients[2], w1, 22, any22, "n2")
	if s := table.Stats(); s.Evicted != 1 || s.Bindings != 3 {
		t.Fatalf("stats %+v", s)
	}
}

func TestMaxPending(t *testing.T) {
	table, _ := newTable(t, Config{Waypoints: []netip.Addr{w1}, MaxPending: 2})
	for _, name := range []string{"a", "b", "c"} {
		mustHand(t, table, name, w1)
	}
	if s := table.Stats(); s.Displaced != 1 || s.Pending != 2 {
		t.Fatalf("stats %+v", s)
	}
	wantClaim(t, table, c1, w1, 22, any22, "b")
	wantClaim(t, table, c2, w1, 22, any22, "c")
}

// TestUsed: a connection routed by Host or SNI consumes its name's entry, so
// that another client's connection cannot take it, and binds its client.
func TestUsed(t *testing.T) {
	table, _ := newTable(t, Config{Waypoints: []netip.Addr{w1}})
	mustHand(t, table, "web", w1)
	table.Used(c1, w1, "web")
	wantClaim(t, table, c2, w1, 22, any22, "")
	wantClaim(t, table, c1, w1, 22, any22, "web")
	table.Used(c1, netip.MustParseAddr("203.0.113.1"), "web") // not a waypoint: ignored
	if s := table.Stats(); s.Bound != 1 || s.Reused != 1 || s.Bindings != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestForget(t *testing.T) {
	table, _ := newTable(t, Config{Waypoints: []netip.Addr{w1}})
	mustHand(t, table, "a", w1)
	mustHand(t, table, "b", w1)
	wantClaim(t, table, c1, w1, 22, any22, "a")
	mustHand(t, table, "a", w1)
	table.Forget("a")
	if s := table.Stats(); s.Pending != 1 || s.Bindings != 0 {
		t.Fatalf("stats %+v", s)
	}
	wantClaim(t, table, c2, w1, 22, any22, "b")
}

// TestMappedAddresses: IPv4 in IPv6 (a dual-stack listener's view) is IPv4.
func TestMappedAddresses(t *testing.T) {
	table, _ := newTable(t, Config{Waypoints: []netip.Addr{netip.AddrFrom16(w1.As16())}})
	mustHand(t, table, "a", w1)
	wantClaim(t, table, netip.AddrFrom16(c1.As16()), netip.AddrFrom16(w1.As16()), 22, any22, "a")
	wantClaim(t, table, c1, w1, 22, any22, "a")
	mustHand(t, table, "b", w1)
	wantClaim(t, table, c2, w1, 9, nil, "b") // nil serves: every name, every port
}

// TestConcurrentUse runs every method at once under the race detector and
// checks the bounds afterwards.
func TestConcurrentUse(t *testing.T) {
	table, clk := newTable(t, Config{Waypoints: []netip.Addr{w1, w2, w6}, MaxBindings: 50, MaxPending: 4})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				name := fmt.Sprint("n", i%7)
				client := netip.AddrFrom4([4]byte{10, byte(g), byte(i >> 8), byte(i)})
				if wp, ok := table.Hand(name, i%3 == 0); ok {
					table.Claim(client, wp, 22, any22)
					table.Used(client, wp, name)
				}
				if i%50 == 0 {
					table.Forget(name)
					clk.Advance(100 * time.Millisecond)
					_ = table.Stats()
				}
			}
		}()
	}
	wg.Wait()
	if s := table.Stats(); s.Bindings > 50 || s.Pending > 3*4 {
		t.Fatalf("bounds exceeded: %+v", s)
	}
}
