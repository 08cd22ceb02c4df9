//go:build linux

package client

import (
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/server/servertest"
	"golang.org/x/sys/unix"
)

// TestDeliveryQueued (Linux: arrival stamps are read there only): a datagram that arrived while the handler was busy
// reports how long it waited in the socket (the kernel's arrival stamp), so
// a receiver can tell a standing queue; one read at once reports little.
func TestDeliveryQueued(t *testing.T) {
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
	// Hold the handler a known time once the second is in the receiver's
	// socket (its queue holds bytes): the server counts a delivery before
	// it sends, and a busy machine may run the send much later.
	testwait.For(t, "the second datagram to wait in the receiver's socket", func() bool { return queuedBytes(t, recv) > 0 })
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
	// It arrived before the hold began and was read after it ended.
	if second.Queued < hold || second.Queued > held+time.Second {
		t.Errorf("the second datagram waited %v; the handler was busy %v after its send (%v in all)", second.Queued, hold, held)
	}
}

// queuedBytes returns the bytes waiting in c's socket (SIOCINQ).
func queuedBytes(t *testing.T, c *Client) int {
	t.Helper()
	rc, err := c.conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := rc.Control(func(fd uintptr) { n, err = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatalf("SIOCINQ: %v", err)
	}
	return n
}
