package client

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/i3net/i3net/id"
)

// TestSendBatchError: when sendmmsg itself fails (it then reports -1
// messages sent), SendBatch returns the error and 0 sent, and does not panic,
// for one message (a plain sendmmsg) and for two to one server (a coalesced
// send where the platform offers it). A socket bound to 127.0.0.1 cannot send
// to a documentation address: the kernel refuses the loopback source (EINVAL)
// before any packet leaves.
func TestSendBatchError(t *testing.T) {
	cfg := TestConfig()
	cfg.Servers = []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:5610")}
	cfg.LocalAddr = netip.MustParseAddrPort("127.0.0.1:0")
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, count := range []int{1, 2} {
		t.Run(fmt.Sprint(count), func(t *testing.T) {
			var ms []Message
			for range count {
				ms = append(ms, Message{Stack: []id.ID{id.Random()}, Payload: []byte("x")})
			}
			n, err := c.SendBatch(ms)
			if err == nil || n != 0 {
				t.Fatalf("SendBatch from loopback to 192.0.2.1 = %d, %v; want 0 and an error", n, err)
			}
		})
	}
}
