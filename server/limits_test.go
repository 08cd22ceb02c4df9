package server

import (
	"hash/maphash"
	"net/netip"
	"testing"
	"time"
)

// apart gives l another seed until the sources' buckets are in different
// slots. Two sources sharing a slot (1 chance in 16,384 per pair) is how the
// limiter errs on the side of limiting, not what a test of separate buckets
// checks: it made these tests fail about once in 8,000 runs.
func apart(t *testing.T, l *limiter, sources ...netip.Addr) {
	t.Helper()
	for range 100 {
		seen := make(map[uint64]bool)
		for _, a := range sources {
			seen[l.slot(limiterKey(a))] = true
		}
		if len(seen) == len(sources) {
			return
		}
		l.seed = maphash.MakeSeed()
	}
	t.Fatalf("%v share slots under 100 seeds", sources)
}

func TestLimiter(t *testing.T) {
	l := newLimiter(10, 3) // a token every 100 ms, bursts of 3
	a := netip.MustParseAddr("192.0.2.1")
	b := netip.MustParseAddr("192.0.2.2")
	apart(t, l, a, b)
	var now int64 = 1e18
	for i := range 3 {
		if !l.allow(a, now) {
			t.Fatalf("burst token %d refused", i)
		}
	}
	if l.allow(a, now) {
		t.Fatal("fourth token allowed")
	}
	if !l.allow(b, now) {
		t.Fatal("another source is limited too")
	}
	now += int64(100 * time.Millisecond)
	if !l.allow(a, now) || l.allow(a, now) {
		t.Fatal("one token per 100 ms")
	}
	now += int64(time.Hour)
	for i := range 3 {
		if !l.allow(a, now) {
			t.Fatalf("after a pause, burst token %d refused", i)
		}
	}
	if l.allow(a, now) {
		t.Fatal("the burst does not grow with idle time")
	}
}

func TestLimiterIPv6Prefix(t *testing.T) {
	l := newLimiter(1, 1)
	apart(t, l, netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8:0:1::1"))
	var now int64 = 1e18
	if !l.allow(netip.MustParseAddr("2001:db8::1"), now) || l.allow(netip.MustParseAddr("2001:db8::2"), now) {
		t.Fatal("addresses of one /64 share a bucket")
	}
	if !l.allow(netip.MustParseAddr("2001:db8:0:1::1"), now) {
		t.Fatal("another /64 has its own")
	}
	if got := sourceKey(netip.MustParseAddr("2001:db8::99")); got != netip.MustParseAddr("2001:db8::") {
		t.Fatalf("sourceKey %v", got)
	}
	if got := sourceKey(netip.MustParseAddr("::ffff:192.0.2.1")); got != netip.MustParseAddr("192.0.2.1") {
		t.Fatalf("sourceKey %v", got)
	}
}

func TestLimiterOff(t *testing.T) {
	l := newLimiter(0, 0)
	for range 1000 {
		if !l.allow(netip.MustParseAddr("192.0.2.1"), 0) {
			t.Fatal("rate 0 limits")
		}
	}
}
