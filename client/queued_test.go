//go:build linux

package client

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/server/servertest"
	"golang.org/x/sys/unix"
)

// TestDeliveryQueued (Linux, where arrival stamps are read): a datagram
// that arrived while the handler was busy reports how long it waited in the
// socket (the kernel's arrival stamp), so a receiver can tell a standing
// queue; one read at once reports little. The kernel turns arrival stamping
// on in the background once a socket asks for it; until then it stamps a
// datagram when it is read, so an exchange that shows no wait at all is
// tried again (at most 5 times).
func TestDeliveryQueued(t *testing.T) {
	checkLeaks(t)
	srv := servertest.Start(t, nil)
	release := make(chan struct{})
	got := make(chan Delivery, 2)
	recv, _ := newClient(t, srv.Addr(), func(c *Config) {
		c.Handler = func(d Delivery) {
			got <- Delivery{Payload: append([]byte(nil), d.Payload...), Queued: d.Queued}
			if strings.HasPrefix(string(d.Payload), "first") {
				<-release // busy: the next datagram waits in the socket
			}
		}
	})
	send, _ := newClient(t, srv.Addr(), nil)
	x := id.Random()
	insert(t, recv, Trigger{ID: x})
	const hold = 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		first, second, held := queuedExchange(t, send, recv, x, attempt, hold, release, got)
		if first.Queued > hold {
			t.Errorf("the first datagram, read at once, waited %v", first.Queued)
		}
		switch {
		case second.Queued >= hold && second.Queued <= held+time.Second:
			return // it arrived before the hold began and was read after it ended
		case second.Queued < time.Millisecond && attempt < 5:
			t.Logf("attempt %d: the second datagram shows %v queued: stamped when read (arrival stamping not on yet)", attempt, second.Queued)
		default:
			t.Fatalf("the second datagram waited %v; the handler was busy %v after it was in the socket (%v in all)", second.Queued, hold, held)
		}
	}
}

// queuedExchange sends two datagrams from send to x at recv, the second once
// recv's handler is busy with the first; it holds the handler hold after the
// second is in the socket, and returns both deliveries and the time from
// then until the second was delivered.
func queuedExchange(t *testing.T, send, recv *Client, x id.ID, attempt int, hold time.Duration,
	release chan struct{}, got chan Delivery) (first, second Delivery, held time.Duration) {
	t.Helper()
	if err := send.SendTo(x, payload(fmt.Sprint("first ", attempt))); err != nil {
		t.Fatal(err)
	}
	first = <-got
	if err := send.SendTo(x, payload(fmt.Sprint("second ", attempt))); err != nil {
		t.Fatal(err)
	}
	// Hold the handler a known time once the second is in the receiver's
	// socket (its queue holds bytes): the server counts a delivery before
	// it sends, and a busy machine may run the send much later.
	testwait.For(t, "the second datagram to wait in the receiver's socket", func() bool { return queuedBytes(t, recv) > 0 })
	sent := time.Now()
	time.Sleep(hold) // the input of the test: how long the receiver is busy
	release <- struct{}{}
	select {
	case second = <-got:
	case <-time.After(waitLong):
		t.Fatal("second datagram not delivered")
	}
	return first, second, time.Since(sent)
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
