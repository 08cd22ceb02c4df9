package ring

import (
	"net/netip"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/testwait"
)

// TestReconnectAfterSplit: members that have declared each other dead, both
// alive, neither joining anybody, find each other again. Here b dies and
// comes back on the same gossip address without joining (as the first
// server of an overlay restarts: it has nobody to join); the same holds
// after a network partition heals, when each half has declared the other
// dead (BenchmarkScaleServers: memberlist alone never merged the halves
// again, even after a partition of 5 s). Without a reconnect, a and c stay
// one overlay and b another, each owning every id.
func TestReconnectAfterSplit(t *testing.T) {
	fast := func(c *Config) { c.ReconnectInterval = 100 * time.Millisecond }
	a, c := startRing(t, fast), startRing(t, fast)
	cfgB := testConfig()
	fast(&cfgB)
	b, err := New(cfgB)
	if err != nil {
		t.Fatal(err)
	}
	joinAll(t, a, b, c)
	gossipB := b.GossipAddr()
	b.Shutdown()
	testwait.For(t, "a and c to notice b's death", func() bool { return converged([]*Ring{a, c}, 2) })

	cfgB.BindAddr = gossipB // the same address, so that a and c can find it
	b2, err := New(cfgB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b2.Shutdown() })
	testwait.For(t, "the three members to find each other again", func() bool { return converged([]*Ring{a, b2, c}, 3) })
}

// TestReconnectNotLeft: a member that left is not reconnected to, and
// one that failed is forgotten after ReconnectTimeout.
func TestReconnectNotLeft(t *testing.T) {
	r := &Ring{cfg: Config{ReconnectTimeout: time.Minute}, failed: map[string]failedMember{}}
	now := time.Unix(1000, 0)
	gone := netip.MustParseAddrPort("127.0.0.1:7946")
	r.noteFailed("dead", gone, false, now)
	r.noteFailed("left", gone, true, now)
	if got := r.reconnectTarget(now.Add(time.Second), func(int) int { return 0 }); got != gone {
		t.Errorf("reconnect target %v, want %v", got, gone)
	}
	if _, ok := r.failed["left"]; ok {
		t.Error("a member that left is kept for reconnection")
	}
	if got := r.reconnectTarget(now.Add(2*time.Minute), func(int) int { return 0 }); got.IsValid() {
		t.Errorf("reconnect target %v after ReconnectTimeout, want none", got)
	}
	r.noteFailed("dead", gone, false, now)
	r.noteAlive("dead")
	if got := r.reconnectTarget(now, func(int) int { return 0 }); got.IsValid() {
		t.Errorf("reconnect target %v for a member back alive, want none", got)
	}
}
