package proxy_test

import (
	"testing"
	"time"

	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/proxytest"
)

// Bug 6: after home blocked laptop and unblocked it, a flow laptop's program
// kept sending never resumed: the failed handshake had forgotten the mapping,
// so laptop dropped the packets as having none. A failed handshake now keeps
// the mapping, and the next packet after the retry back-off handshakes again.
// The program here looks the name up once, at the start.
func TestFlowResumesAfterUnblock(t *testing.T) {
	o := newOverlay(t)
	laptop, home := o.host("laptop"), o.host("home")
	names(t, laptop, map[string]*host{"home": home})
	book := map[string]*identity.Identity{"laptop": laptop.Ident}
	home.WriteBook(t, book)
	o.start(home, nil)
	o.start(laptop, func(c *proxy.Config) { c.HandshakeTimeout = time.Second })
	l4, _ := laptop.Self()
	v4 := homeAddr4(t, laptop)
	var seq uint16
	// flowing sends a packet every 50 ms until one reaches home, or fails
	// the test after within.
	flowing := func(what string, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for time.Now().Before(deadline) {
			seq++
			laptop.Tun.Send(echo(t, l4, v4, seq))
			time.Sleep(50 * time.Millisecond)
			for p, ok := home.Tun.TryNext(); ok; p, ok = home.Tun.TryNext() {
				if proxytest.Decode(t, p).Src.Addr() == l4 {
					return
				}
			}
		}
		t.Fatalf("%s: no packet of laptop reached home within %v\nlaptop:\n%s", what, within, laptop.Log)
	}
	flowing("before the block", 5*time.Second)

	home.WriteBook(t, book, "laptop")
	testwait.For(t, "laptop's handshake to be refused", func() bool {
		seq++
		laptop.Tun.Send(echo(t, l4, v4, seq))
		time.Sleep(50 * time.Millisecond)
		return laptop.PX.Status().Counters["handshakes_failed"] > 0
	})
	for _, ok := home.Tun.TryNext(); ok; _, ok = home.Tun.TryNext() {
	}
	home.WriteBook(t, book)
	// The book is read every 2 s; a failed peer is tried again 2 s after.
	flowing("after the unblock", 15*time.Second)
}
