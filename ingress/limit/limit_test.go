package limit

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/clock"
)

func newLimiter(t *testing.T, cfg Config) (*Limiter, *clock.Fake) {
	t.Helper()
	fake := clock.NewFake()
	cfg.Clock = fake
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l, fake
}

// take calls Allow n times and returns how many were allowed.
func take(l *Limiter, a netip.Addr, n int) int {
	ok := 0
	for range n {
		if l.Allow(a) {
			ok++
		}
	}
	return ok
}

func TestBurstThenRate(t *testing.T) {
	l, fake := newLimiter(t, Config{Rate: 2, Burst: 5})
	a := netip.MustParseAddr("192.0.2.1")
	if got := take(l, a, 10); got != 5 {
		t.Fatalf("burst: %d of 10 allowed, want 5", got)
	}
	fake.Advance(time.Second) // 2 tokens
	if got := take(l, a, 10); got != 2 {
		t.Fatalf("after 1 s at 2/s: %d allowed, want 2", got)
	}
	fake.Advance(time.Hour) // refills to the burst, not beyond
	if got := take(l, a, 10); got != 5 {
		t.Fatalf("after an hour: %d allowed, want the burst 5", got)
	}
	s := l.Stats()
	if s.Allowed != 12 || s.Limited != 18 || s.Tracked != 1 {
		t.Fatalf("Stats = %+v, want 12 allowed, 18 limited, 1 tracked", s)
	}
}

func TestClientsAreIndependent(t *testing.T) {
	l, _ := newLimiter(t, Config{Rate: 1, Burst: 1})
	if !l.Allow(netip.MustParseAddr("192.0.2.1")) || !l.Allow(netip.MustParseAddr("192.0.2.2")) {
		t.Fatal("two IPv4 clients share a bucket")
	}
	if !l.Allow(netip.MustParseAddr("2001:db8:0:1::1")) || !l.Allow(netip.MustParseAddr("2001:db8:0:2::1")) {
		t.Fatal("two IPv6 /64s share a bucket")
	}
}

func TestKey(t *testing.T) {
	cases := map[string]string{
		"192.0.2.1":                    "192.0.2.1",
		"::ffff:192.0.2.1":             "192.0.2.1",
		"2001:db8:1:2:aaaa:bbbb:cc:dd": "2001:db8:1:2::",
		"2001:db8:1:2::1%eth0":         "2001:db8:1:2::",
		"fe80::1%lo":                   "fe80::",
	}
	for in, want := range cases {
		if got := Key(netip.MustParseAddr(in)); got != netip.MustParseAddr(want) {
			t.Errorf("Key(%s) = %v, want %s", in, got, want)
		}
	}
}

func TestSameSlash64SharesBucket(t *testing.T) {
	l, _ := newLimiter(t, Config{Rate: 1, Burst: 3})
	for i := range 3 {
		if !l.Allow(netip.MustParseAddr(fmt.Sprintf("2001:db8:0:7::%x", i+1))) {
			t.Fatalf("address %d of the /64 refused within the burst", i)
		}
	}
	if l.Allow(netip.MustParseAddr("2001:db8:0:7:ffff::9")) {
		t.Fatal("a fourth address of the same /64 got a token: the /64 is not one client")
	}
	if take(l, netip.MustParseAddr("::ffff:192.0.2.9"), 3) != 3 || l.Allow(netip.MustParseAddr("192.0.2.9")) {
		t.Fatal("4-in-6 and plain IPv4 are not the same client")
	}
}

func TestBoundedEvictsLeastRecentlySeen(t *testing.T) {
	l, _ := newLimiter(t, Config{Rate: 1, Burst: 1, MaxClients: 3})
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}) }
	for i := range 3 {
		l.Allow(addr(i)) // 0, 1, 2 each empty now
	}
	l.Allow(addr(0))       // 0 seen again: 1 is now the least recent
	if !l.Allow(addr(3)) { // evicts 1
		t.Fatal("new client refused")
	}
	if l.Allow(addr(0)) || l.Allow(addr(2)) {
		t.Fatal("a recently seen client lost its (empty) bucket")
	}
	if !l.Allow(addr(1)) {
		t.Fatal("the evicted client did not start with a full bucket")
	}
	for i := range 10000 {
		l.Allow(addr(100 + i))
	}
	if got := l.Stats().Tracked; got != 3 {
		t.Fatalf("Tracked = %d after 10000 clients, want MaxClients 3", got)
	}
}

func TestDefaultsAndErrors(t *testing.T) {
	l, err := New(Config{Rate: 1, Burst: 1})
	if err != nil || l.max != DefaultMaxClients {
		t.Fatalf("New defaults: %v, max %d", err, l.max)
	}
	bad := map[string]Config{
		"rate":        {Rate: 0, Burst: 1},
		"rate NaN":    {Rate: nanRate(), Burst: 1},
		"burst":       {Rate: 1, Burst: 0},
		"max clients": {Rate: 1, Burst: 1, MaxClients: -1},
	}
	for want, cfg := range bad {
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), strings.Fields(want)[0]) {
			t.Errorf("New(%+v) = %v, want an error about %s", cfg, err, want)
		}
	}
}

func nanRate() float64 { zero := 0.0; return zero / zero }

func TestConcurrent(t *testing.T) {
	l, fake := newLimiter(t, Config{Rate: 1000, Burst: 10, MaxClients: 50})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				l.Allow(netip.AddrFrom4([4]byte{10, byte(g), 0, byte(i % 100)}))
				if i%100 == 0 {
					fake.Advance(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	s := l.Stats()
	if s.Allowed+s.Limited != 8*500 || s.Tracked > 50 {
		t.Fatalf("Stats = %+v: want 4000 events, at most 50 tracked", s)
	}
}
