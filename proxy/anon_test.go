package proxy_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/clock"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/book"
	"github.com/i3net/i3net/proxy/proxytest"
	"github.com/i3net/i3net/server"
)

// anonPair starts home (its book empty: it accepts unknown hosts, and
// anonymous ones unless modHome says otherwise) and laptop, whose book names
// home with anonymous = true; both run on clk.
func anonPair(t *testing.T, clk *clock.Fake, modHome func(*proxy.Config)) (laptop, home *host) {
	t.Helper()
	o := newOverlayWith(t, func(c *server.Config) { c.SignatureSkew = 10 * time.Minute })
	laptop, home = o.host("laptop"), o.host("home")
	e := book.NewEntry("home", home.Ident.Public())
	e.Anonymous = true
	laptop.WriteEntries(t, e)
	home.WriteEntries(t)
	o.start(home, func(c *proxy.Config) {
		c.Clock = clk
		if modHome != nil {
			modHome(c)
		}
	})
	o.start(laptop, func(c *proxy.Config) { c.Clock = clk; c.AnonRotate = time.Minute })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("laptop:\n%s\nhome:\n%s", laptop.Log, home.Log)
		}
	})
	return laptop, home
}

// anonView is laptop's status of home: its anonymous session.
func anonView(t *testing.T, laptop *host) proxy.PeerStatus {
	t.Helper()
	st := laptop.PX.Status()
	if len(st.Peers) != 1 || !st.Peers[0].Anonymous {
		t.Fatalf("laptop's peers: %+v, want home, anonymous", st.Peers)
	}
	return st.Peers[0]
}

// TestAnonymousPeer: laptop reaches home anonymously; home sees an ephemeral
// key and an address derived from it, never laptop's; replies reach
// laptop's own address; the session is rotated after AnonRotate at a pause
// only; nothing of it is saved.
func TestAnonymousPeer(t *testing.T) {
	clk := clock.NewFake()
	clk.Advance(time.Since(clk.Now()))
	laptop, home := anonPair(t, clk, nil)
	l4, _ := laptop.Self()
	h4, _ := home.Self()
	v4 := homeAddr4(t, laptop)

	laptop.Tun.Send(echo(t, l4, v4, 1))
	got := proxytest.Decode(t, home.Tun.Next(t))
	view := anonView(t, laptop)
	a1 := got.Src.Addr()
	if a1 == l4 || a1 != view.AnonAddr4 || got.Dst.Addr() != h4 {
		t.Fatalf("home got %v; laptop's own address %v, its anonymous one %v", got.String(), l4, view.AnonAddr4)
	}
	hs := home.PX.Status()
	if len(hs.Peers) != 1 || hs.Peers[0].Key != view.AnonKey || hs.Peers[0].Key == laptop.Ident.Public().String() ||
		!hs.Peers[0].Anonymous || hs.Peers[0].Addr4 != a1 {
		t.Fatalf("home's peers: %+v; laptop's ephemeral key %s", hs.Peers, view.AnonKey)
	}
	home.Tun.Send(echo(t, h4, a1, 1))
	back := proxytest.Decode(t, laptop.Tun.Next(t))
	if back.Src.Addr() != v4 || back.Dst.Addr() != l4 {
		t.Fatalf("laptop got %v, want %v → %v", back.String(), v4, l4)
	}

	// Past the rotation period but without a pause: the session stays.
	clk.Advance(59 * time.Second)
	laptop.Tun.Send(echo(t, l4, v4, 2))
	home.Tun.Next(t)
	home.Tun.Send(echo(t, h4, a1, 2)) // home answers the session's address
	laptop.Tun.Next(t)
	clk.Advance(1500 * time.Millisecond)
	laptop.Tun.Send(echo(t, l4, v4, 3))
	if got := proxytest.Decode(t, home.Tun.Next(t)); got.Src.Addr() != a1 {
		t.Fatalf("rotated without a pause: home got %v", got.String())
	}
	// After a pause: a new key and address.
	clk.Advance(anonQuietForTest)
	laptop.Tun.Send(echo(t, l4, v4, 4))
	got = proxytest.Decode(t, home.Tun.Next(t))
	view2 := anonView(t, laptop)
	if a2 := got.Src.Addr(); a2 == a1 || a2 == l4 || a2 != view2.AnonAddr4 || view2.AnonKey == view.AnonKey {
		t.Fatalf("after rotation home got %v (first session %v); keys %s, %s", got.String(), a1, view.AnonKey, view2.AnonKey)
	}
	if n := len(laptop.Log.Lines("anonymous session rotated")); n != 1 {
		t.Fatalf("laptop logged %d rotations, want 1", n)
	}
	if view2.SessionAge < 0 || view2.SessionAge > time.Minute || view2.NextRotation.IsZero() || !view2.Relay.IsValid() {
		t.Errorf("laptop's status of the session: %+v", view2)
	}

	laptop.Stop(t)
	state, err := os.ReadFile(laptop.Dir + "/state.json")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(state), home.Ident.Public().String()) {
		t.Errorf("the state file keeps the anonymous peer:\n%s", state)
	}
}

// anonQuietForTest is more than the pause a rotation waits for (2 s).
const anonQuietForTest = 2100 * time.Millisecond

// TestAnonymousRefused: a host with AcceptAnonymous false refuses an
// anonymous session at once, and laptop's status says why.
func TestAnonymousRefused(t *testing.T) {
	clk := clock.NewFake()
	clk.Advance(time.Since(clk.Now()))
	laptop, home := anonPair(t, clk, func(c *proxy.Config) { c.AcceptAnonymous = false })
	l4, _ := laptop.Self()
	laptop.Tun.Send(echo(t, l4, homeAddr4(t, laptop), 1))
	testwait.For(t, "laptop to learn home refuses", func() bool {
		st := laptop.PX.Status()
		return len(st.Peers) == 1 && st.Peers[0].State == "refused" && strings.Contains(st.Peers[0].Error, "accepts no anonymous session")
	})
	if n := len(home.PX.Status().Peers); n != 0 {
		t.Fatalf("home keeps %d peers after refusing", n)
	}
	if !strings.Contains(home.Log.String(), "announces an anonymous session, and this host accepts none") {
		t.Errorf("home did not log the refusal")
	}
}

// TestAnonymousAfterBookChange: a host reached identified, then marked
// anonymous in the book, is never reached as this host again: not after a
// restart that reads the saved state (it would restore the identified
// peer), nor while running (the next DNS answer ends the old session).
func TestAnonymousAfterBookChange(t *testing.T) {
	for _, restart := range []bool{true, false} {
		t.Run(map[bool]string{true: "restart", false: "running"}[restart], func(t *testing.T) {
			o := newOverlay(t)
			laptop, home := o.host("laptop"), o.host("home")
			laptop.WriteEntries(t, book.NewEntry("home", home.Ident.Public()))
			home.WriteEntries(t)
			o.start(home, nil)
			o.start(laptop, nil)
			l4, v4 := sessionUp(t, laptop, home)
			e := book.NewEntry("home", home.Ident.Public())
			e.Anonymous = true
			laptop.WriteEntries(t, e)
			if restart {
				laptop.Stop(t)
				o.start(laptop, nil)
				if st := laptop.PX.Status(); len(st.Peers) != 0 {
					t.Fatalf("the identified peer was restored: %+v", st.Peers)
				}
			}
			testwait.For(t, "laptop to resolve home as an anonymous peer", func() bool {
				homeAddr4(t, laptop)
				st := laptop.PX.Status()
				return len(st.Peers) == 1 && st.Peers[0].Anonymous
			})
			laptop.Tun.Send(echo(t, l4, v4, 9))
			testwait.For(t, "home to get the packet from an anonymous address", func() bool {
				p, ok := home.Tun.TryNext()
				if !ok {
					return false
				}
				src := proxytest.Decode(t, p).Src.Addr()
				if src == l4 {
					t.Fatalf("home got a packet from laptop's own address %v after the book made it anonymous", l4)
				}
				return true
			})
		})
	}
}
