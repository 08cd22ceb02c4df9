package server

import (
	"net/netip"
	"testing"
	"time"
)

func TestSigCache(t *testing.T) {
	a := netip.MustParseAddrPort("192.0.2.1:1000")
	b := netip.MustParseAddrPort("192.0.2.2:1000")
	skew := int64(time.Minute)
	c := newSigCache(skew, 4)
	sig := []byte("signature one")
	if !c.use(sig, a, 0) || !c.use(sig, a, 1) {
		t.Fatal("the first address is refused its own signature")
	}
	if c.use(sig, b, 2) {
		t.Fatal("a replay from another address passed")
	}
	if !c.use(sig, b, 2*skew) {
		t.Fatal("an expired entry still refuses")
	}
	if c.use(sig, a, 2*skew+1) {
		t.Fatal("the new entry did not take the second address")
	}
	// Full: the oldest leaves early, and the cache never holds more.
	for i := range 10 {
		c.use([]byte{byte(i)}, a, 2*skew+2)
		if c.len() > 4 {
			t.Fatalf("cache holds %d entries, bound 4", c.len())
		}
	}
	if !c.use(sig, a, 2*skew+3) || c.len() != 4 {
		t.Fatalf("evicted entry still present, or len %d", c.len())
	}
	if c.use([]byte{9}, b, 2*skew+3) {
		t.Fatal("a recent entry was evicted before the oldest")
	}
}
