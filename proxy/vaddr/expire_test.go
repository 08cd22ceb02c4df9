package vaddr

import (
	"sync"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/clock"
)

func TestExpireAfterTO(t *testing.T) {
	var mu sync.Mutex
	var expired []Mapping
	peer := id.FromName("bob")
	tab, clk := newTestTable(t, id.FromName("alice"), func(c *Config) {
		c.OnExpire = func(m Mapping) { mu.Lock(); expired = append(expired, m); mu.Unlock() }
	})
	v4, _, _, _ := tab.Assign(peer, "bob")
	clk.Advance(DefaultTO - time.Second)
	if gone := tab.Expire(); len(gone) != 0 {
		t.Fatalf("expired %d mappings before TO", len(gone))
	}
	clk.Advance(time.Second)
	gone := tab.Expire()
	if len(gone) != 1 || gone[0].Peer != peer || gone[0].V4 != v4 {
		t.Fatalf("Expire at TO = %+v, want bob's mapping", gone)
	}
	if _, ok := tab.Lookup(v4); ok || tab.Len() != 0 {
		t.Fatal("expired mapping still there")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(expired) != 1 || expired[0].Peer != peer {
		t.Fatalf("OnExpire got %+v", expired)
	}
}

func TestUseRefreshes(t *testing.T) {
	peer := id.FromName("bob")
	tests := []struct {
		name string
		use  func(tab *Table)
	}{
		{"Touch", func(tab *Table) { m, _ := tab.ByPeer(peer); tab.Touch(m.V4) }},
		{"Touch6", func(tab *Table) { m, _ := tab.ByPeer(peer); tab.Touch(m.V6) }},
		{"Use", func(tab *Table) { m, _ := tab.ByPeer(peer); tab.Use(m.V4) }},
		{"TouchPeer", func(tab *Table) { tab.TouchPeer(peer) }},
		{"Assign (DNS)", func(tab *Table) { tab.Assign(peer, "") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab, clk := newTestTable(t, id.FromName("alice"), nil)
			tab.Assign(peer, "bob")
			clk.Advance(DefaultTO / 2)
			tc.use(tab)
			clk.Advance(DefaultTO/2 + time.Minute)
			if gone := tab.Expire(); len(gone) != 0 {
				t.Fatal("a used mapping expired TO after its creation")
			}
			m, _ := tab.ByPeer(peer)
			if want := clk.Now().Add(-DefaultTO/2 - time.Minute); !m.LastUse.Equal(want) {
				t.Fatalf("LastUse %v, want %v", m.LastUse, want)
			}
			clk.Advance(DefaultTO / 2)
			if gone := tab.Expire(); len(gone) != 1 {
				t.Fatal("mapping did not expire TO after its last use")
			}
		})
	}
}

func TestSweepTimer(t *testing.T) {
	tab, clk := newTestTable(t, id.FromName("alice"), func(c *Config) { c.SweepEvery = DefaultSweepEvery })
	tab.Assign(id.FromName("bob"), "bob")
	start := clk.Now()
	clk.Advance(DefaultTO - time.Second) // the first sweep: nothing due yet
	time.Sleep(5 * time.Millisecond)
	if tab.Len() != 1 {
		t.Fatal("a sweep expired a mapping before TO")
	}
	advanceUntilLen(t, clk, tab, 0)
	if took := clk.Now().Sub(start); took > DefaultTO+3*DefaultSweepEvery {
		t.Fatalf("mapping expired after %v, want about TO + one sweep", took)
	}

	tab.Close()
	tab.Assign(id.FromName("dave"), "")
	clk.Advance(2 * DefaultTO)
	time.Sleep(10 * time.Millisecond) // a stopped timer has nothing to run
	if tab.Len() != 1 {
		t.Fatal("sweep ran after Close")
	}
}

// advanceUntilLen moves the fake clock a sweep at a time until the sweep
// goroutine leaves n mappings, with a deadline: the sweep re-arms its timer in
// its own goroutine, so a step can come before the timer is pending again.
func advanceUntilLen(t *testing.T, clk *clock.Fake, tab *Table, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for tab.Len() != n {
		if time.Now().After(deadline) {
			t.Fatalf("Len = %d, want %d", tab.Len(), n)
		}
		clk.Advance(DefaultSweepEvery)
		time.Sleep(2 * time.Millisecond)
	}
}
