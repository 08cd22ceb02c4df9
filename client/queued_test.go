package client

import (
	"runtime"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/server/servertest"
)

// TestDeliveryQueued: a datagram that arrived while the handler was busy
// reports how long it waited in the socket (the kernel's arrival stamp), so
// a receiver can tell a standing queue; one read at once reports little.
func TestDeliveryQueued(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("arrival stamps are read on Linux only")
	}
	checkLeaks(t)
	srv := servertest.Start(t, nil)
	release := make(chan struct{})
	got := make(chan Delivery, 2)
	recv, _ := newClient(t, srv.Addr(), func(c *Config) {
		c.Handler = func(d Delivery) {
			got <- Delivery{Payload: append([]byte(nil), d.Payload...), Queued: d.Queued}
			if string(d.Payload) == "first" {
				<-release // busy: the next datagram waits in the socket
			}
		}
	})
	send, _ := newClient(t, srv.Addr(), nil)
	x := id.Random()
	insert(t, recv, Trigger{ID: x})

	if err := send.SendTo(x, payload("first")); err != nil {
		t.Fatal(err)
	}
	first := <-got
	if err := send.SendTo(x, payload("second")); err != nil {
		t.Fatal(err)
	}
	// The second is in the receiver's socket once the server delivered it
	// (loopback queues it within the server's send): hold the handler a
	// known time after that.
	testwait.For(t, "the server to deliver the second datagram", func() bool { return srv.Stats().Delivered >= 2 })
	sent := time.Now()
	const hold = 50 * time.Millisecond
	time.Sleep(hold) // the input of the test: how long the receiver is busy
	close(release)
	var second Delivery
	select {
	case second = <-got:
	case <-time.After(waitLong):
		t.Fatal("second datagram not delivered")
	}
	held := time.Since(sent)
	if first.Queued > hold {
		t.Errorf("the first datagram, read at once, waited %v", first.Queued)
	}
	// It arrived about when the hold began (the server counts a delivery
	// just before its batch goes out: hence hold/2) and was read after it
	// ended.
	if second.Queued < hold/2 || second.Queued > held+time.Second {
		t.Errorf("the second datagram waited %v; the handler was busy %v after its send (%v in all)", second.Queued, hold, held)
	}
}
