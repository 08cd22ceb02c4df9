package ring

import (
	"log/slog"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/i3net/i3net/internal/testwait"
)

// Test helpers: real memberlist nodes on their own 127.0.0.x, port 0 (as
// memberlist's own tests do), and a check that no goroutine of the ring or of
// memberlist outlives the tests. Waits: internal/testwait.

// TestMain fails the package if a goroutine outlives its tests.
func TestMain(m *testing.M) { testwait.Main(m) }

// nextIP hands out 127.0.0.10, .11, …: each node its own loopback address.
var nextIP atomic.Uint32

func loopbackIP() netip.Addr {
	n := 10 + nextIP.Add(1)
	return netip.AddrFrom4([4]byte{127, 0, byte(n >> 8), byte(n)})
}

// testConfig is LANConfig on a fresh loopback address: data port 5610
// (nothing is bound there in these tests), gossip on port 0, quiet.
func testConfig() Config {
	ip := loopbackIP()
	c := LANConfig()
	c.DataAddr = netip.AddrPortFrom(ip, 5610)
	c.BindAddr = netip.AddrPortFrom(ip, 0)
	c.Logger = slog.New(slog.DiscardHandler)
	return c
}

// startRing creates a ring member that is shut down at the end of the test.
func startRing(t testing.TB, edit func(*Config)) *Ring {
	t.Helper()
	c := testConfig()
	if edit != nil {
		edit(&c)
	}
	r, err := New(c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { r.Shutdown() })
	return r
}

// key returns a Key128 whose first byte is b and the rest zero, or set to
// tail when given.
func key(b byte, tail ...byte) (k [16]byte) {
	k[0] = b
	copy(k[16-len(tail):], tail)
	return k
}

// member returns a member named name at position key(b).
func member(name string, b byte) Member {
	return Member{
		Name:     name,
		Data:     netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 0, b}), 5610),
		Position: key(b),
	}
}
