package ring

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/testwait"
)

// joinAll makes rings[1:] join rings[0] and waits until every member sees
// all of them, in the same order.
func joinAll(t *testing.T, rings ...*Ring) {
	t.Helper()
	for _, r := range rings[1:] {
		if n, err := r.Join([]string{rings[0].GossipAddr().String()}); err != nil || n != 1 {
			t.Fatalf("join: %d, %v", n, err)
		}
	}
	testwait.For(t, "the members to converge", func() bool { return converged(rings, len(rings)) })
}

// converged reports whether every ring sees size members, the same ones.
func converged(rings []*Ring, size int) bool {
	first := rings[0].Members()
	for _, r := range rings {
		ms := r.Members()
		if len(ms) != size || !slices.EqualFunc(ms, first, func(a, b Member) bool { return a.Name == b.Name }) {
			return false
		}
	}
	return true
}

// TestThreeNodes: three real memberlist nodes converge to one ring; every one
// of them computes the same owner for any key; a member that leaves is gone
// at once, and one that dies without a word is noticed.
func TestThreeNodes(t *testing.T) {
	var mu sync.Mutex
	changes := map[string]int{}
	onChange := func(name string) func(*Config) {
		return func(c *Config) {
			c.OnChange = func(old, new *Snapshot) {
				mu.Lock()
				changes[name]++
				mu.Unlock()
			}
		}
	}
	a, b, c := startRing(t, onChange("a")), startRing(t, onChange("b")), startRing(t, onChange("c"))
	joinAll(t, a, b, c)

	for _, r := range []*Ring{a, b, c} {
		l := r.Local()
		if l.Gossip != r.GossipAddr() || l.Gossip.Port() == 0 || l.Position != DefaultPosition(l.Data) {
			t.Errorf("local member %+v, gossip %v", l, r.GossipAddr())
		}
		if m, ok := r.Snapshot().ByData(l.Data); !ok || m.Name != l.Name {
			t.Errorf("%s not found by its data address", l.Name)
		}
	}
	for i := range 100 {
		k := DefaultPosition(netip.AddrPortFrom(netip.MustParseAddr("198.18.1.1"), uint16(i+1)))
		owner := a.Responsible(k)
		owners := 0
		for _, r := range []*Ring{a, b, c} {
			if r.Responsible(k) != owner {
				t.Fatalf("key %x: owners differ", k)
			}
			if r.Snapshot().Owns(k) {
				owners++
			}
		}
		if owners != 1 {
			t.Fatalf("key %x: %d members think they own it", k, owners)
		}
	}
	mu.Lock()
	for name, n := range changes {
		if n < 2 {
			t.Errorf("%s heard of %d changes, want at least 2", name, n)
		}
	}
	mu.Unlock()

	// A member that leaves is gone from the others' view.
	if err := c.Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "c's departure", func() bool { return converged([]*Ring{a, b}, 2) })
	c.Shutdown()

	// One that dies without a word is noticed by the failure detector.
	start := time.Now()
	b.Shutdown()
	testwait.For(t, "b's death", func() bool { return a.Snapshot().Len() == 1 })
	t.Logf("a dead member was noticed after %v (LAN preset)", time.Since(start).Round(time.Millisecond))
	if l := a.Local(); !a.Snapshot().Owns(l.Position) || !a.Snapshot().Owns(b.Local().Position) {
		t.Error("the last member does not own everything")
	}
	if err := b.Leave(0); err != nil {
		t.Errorf("Leave after Shutdown: %v", err)
	}
}

// TestJoinNobody: joining an address where nobody gossips fails, saying so.
func TestJoinNobody(t *testing.T) {
	r := startRing(t, nil)
	n, err := r.Join([]string{netip.AddrPortFrom(loopbackIP(), 9).String()})
	if err == nil || n != 0 || !strings.HasPrefix(err.Error(), "ring: join ") {
		t.Errorf("join: %d, %v", n, err)
	}
	if r.Snapshot().Len() != 1 {
		t.Errorf("%d members", r.Snapshot().Len())
	}
}

// TestLabels: a node with another label is not let in.
func TestLabels(t *testing.T) {
	a := startRing(t, nil)
	b := startRing(t, func(c *Config) { c.Label = "another-overlay" })
	if _, err := b.Join([]string{a.GossipAddr().String()}); err == nil {
		t.Error("a node of another overlay joined")
	}
	if a.Snapshot().Len() != 1 {
		t.Errorf("a sees %d members", a.Snapshot().Len())
	}
}

func TestNewErrors(t *testing.T) {
	busy := startRing(t, nil)
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no data address", func(c *Config) { c.DataAddr = netip.AddrPort{} }, "data address"},
		{"unspecified data address", func(c *Config) { c.DataAddr = netip.MustParseAddrPort("0.0.0.0:5610") }, "data address"},
		{"no port after the data port", func(c *Config) {
			c.DataAddr = netip.MustParseAddrPort("127.0.0.1:65535")
			c.BindAddr = netip.AddrPort{}
		}, "gossip"},
		{"probe timeout above the interval", func(c *Config) { c.ProbeTimeout = 2 * c.ProbeInterval }, "probe timeout"},
		{"zero interval", func(c *Config) { c.GossipInterval = 0 }, "gossip interval"},
		{"suspicion", func(c *Config) { c.SuspicionMult = 0 }, "suspicion"},
		{"advertise without a port", func(c *Config) { c.AdvertiseAddr = netip.MustParseAddrPort("198.18.0.1:0") }, "advertise"},
		{"gossip port in use", func(c *Config) { c.BindAddr = busy.GossipAddr() }, "ring: gossip on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testConfig()
			tt.edit(&c)
			r, err := New(c)
			if err == nil {
				r.Shutdown()
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "ring: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to start with \"ring: \" and mention %q", err, tt.want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := DefaultConfig()
	c.DataAddr = netip.MustParseAddrPort("198.18.0.1:5610")
	if got := c.bindAddr(); got != netip.MustParseAddrPort("198.18.0.1:5611") {
		t.Errorf("default gossip address %v, want the data port + 1", got)
	}
	c.BindAddr = netip.MustParseAddrPort("0.0.0.0:7000")
	if got := c.advertise(c.bindAddr()); got != netip.MustParseAddrPort("198.18.0.1:7000") {
		t.Errorf("advertised %v, want the data IP with the gossip port", got)
	}
	mc := c.memberlistConfig("n", c.bindAddr())
	if mc.BindAddr != "0.0.0.0" || mc.BindPort != 7000 || mc.AdvertiseAddr != "198.18.0.1" || mc.AdvertisePort != 7000 ||
		mc.ProbeInterval != time.Second || mc.SuspicionMult != 4 || mc.Label != DefaultLabel {
		t.Errorf("memberlist config %+v", mc)
	}
	l := LANConfig()
	if l.ProbeInterval >= c.ProbeInterval || l.SuspicionMult != 2 || l.ProbeTimeout > l.ProbeInterval {
		t.Errorf("LAN preset %+v", l)
	}
	// Detection time of the LAN preset for fewer than ten members: up to an
	// interval until probed, an interval of probing, SuspicionMult of
	// suspicion: about a second at most.
	if d := time.Duration(2+l.SuspicionMult) * l.ProbeInterval; d > time.Second {
		t.Errorf("LAN preset detects a death in up to %v", d)
	}
}
