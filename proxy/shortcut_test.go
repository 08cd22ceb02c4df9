package proxy_test

import (
	"testing"
	"time"

	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/book"
)

// TestShortcutBetweenProxies: when both address books mark the other host
// `shortcut`, the private triggers allow shortcuts and the packets do too, so
// after the first probe they go straight from proxy to proxy (paper §5.2);
// without the mark every packet goes through the server. Packets arrive
// either way.
func TestShortcutBetweenProxies(t *testing.T) {
	for _, marked := range []bool{false, true} {
		name := "plain"
		if marked {
			name = "shortcut"
		}
		t.Run(name, func(t *testing.T) {
			o := newOverlay(t)
			laptop, home := o.host("laptop"), o.host("home")
			writeBook(t, laptop, "home", home, marked)
			writeBook(t, home, "laptop", laptop, marked)
			o.start(home, nil)
			o.start(laptop, nil)
			l4, _ := laptop.Self()
			v4 := homeAddr4(t, laptop)
			for i := range 40 {
				pingPong(t, laptop, home, l4, v4, uint16(i))
				time.Sleep(2 * time.Millisecond)
			}
			ls, hs := proxy.ClientStats(laptop.PX), proxy.ClientStats(home.PX)
			t.Logf("laptop sent %d of %d straight, home %d of %d", ls.ShortcutSent, ls.Sent, hs.ShortcutSent, hs.Sent)
			if used := ls.ShortcutSent > 0 && hs.ShortcutSent > 0 && ls.DirectReceived > 0 && hs.DirectReceived > 0; used != marked {
				t.Errorf("shortcut used %v, want %v: laptop %+v, home %+v", used, marked, ls, hs)
			}
			if c := laptop.PX.Status().Counters; marked && c["client_shortcut_sent"] == 0 {
				t.Errorf("status counters %v", c)
			}
		})
	}
}

// writeBook writes h's address book: peer under name, marked shortcut or not.
func writeBook(t *testing.T, h *host, name string, peer *host, shortcut bool) {
	t.Helper()
	e := book.NewEntry(name, peer.Ident.Public())
	e.Shortcut = shortcut
	h.WriteEntries(t, e)
}
