package client

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/i3net/i3net/id"
)

// TestSendBatchSocketError: when the socket refuses the whole batch (sendmmsg
// returns -1: here a destination port 0, EINVAL; in the field "network is
// unreachable" after a host moved), SendBatch returns the error for the first
// message instead of panicking on the count, for one message (a plain
// sendmmsg) and for two to one address (a coalesced send where the platform
// offers it).
func TestSendBatchSocketError(t *testing.T) {
	checkLeaks(t)
	// The server is never reached: the background work is off and the
	// batch goes where the cache points.
	c, _ := newClient(t, netip.MustParseAddrPort("127.0.0.1:9"), func(c *Config) {
		c.ListInterval, c.ProbeInterval, c.FailoverAfter, c.AddrCheckInterval = 0, 0, 0, 0
	})
	x := id.Random()
	c.cache.put(x, netip.MustParseAddrPort("127.0.0.1:0"), c.clock.Now())
	for _, count := range []int{1, 2} {
		t.Run(fmt.Sprint(count), func(t *testing.T) {
			var ms []Message
			for i := range count {
				ms = append(ms, Message{Stack: []id.ID{x}, Payload: []byte{byte('a' + i)}})
			}
			n, err := c.SendBatch(ms)
			if err == nil || n != 0 {
				t.Fatalf("SendBatch to port 0: sent %d, error %v; want 0 and an error", n, err)
			}
		})
	}
}
