package proxy_test

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/middlebox/pass"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/book"
	"github.com/i3net/i3net/proxy/proxytest"
	"github.com/i3net/i3net/proxy/session"
)

// fakeMiddlebox stands for i3net middlebox: it forwards what arrives on its
// trigger for host to the rest of the stack, with the pass tag (or, when
// forge is set, with a wrong one: as if the frame skipped it).
type fakeMiddlebox struct {
	ident     *identity.Identity
	c         *client.Client
	key       pass.Key
	tagger    *pass.Tagger // the receive goroutine's
	forge     atomic.Bool
	plaintext atomic.Uint64 // plaintext frames seen
	mu        sync.Mutex
	forwarded int
}

func startFakeMiddlebox(t *testing.T, o *overlay, host identity.PublicKey) *fakeMiddlebox {
	t.Helper()
	ident, _ := identity.Generate()
	return startMember(t, o, ident, host, 0)
}

// startMember starts a fake middlebox of identity ident, anycast member byte
// member.
func startMember(t *testing.T, o *overlay, ident *identity.Identity, host identity.PublicKey, member byte) *fakeMiddlebox {
	t.Helper()
	k, err := pass.NewKey(ident, host)
	if err != nil {
		t.Fatal(err)
	}
	mb := &fakeMiddlebox{ident: ident, key: k, tagger: pass.NewTagger(k)}
	cfg := client.DefaultConfig()
	cfg.Servers = o.servers
	cfg.LocalAddr = netip.MustParseAddrPort("127.0.0.1:0")
	cfg.Identity = ident.PrivateKey()
	cfg.Handler = mb.forward
	if mb.c, err = client.New(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mb.c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := mb.c.Insert(ctx, client.Trigger{ID: pass.HostTrigger(ident.ID(), host, member), PrefixLen: 248}); err != nil {
		t.Fatal(err)
	}
	return mb
}

func (mb *fakeMiddlebox) forward(d client.Delivery) {
	if len(d.Rest) == 0 {
		return
	}
	if session.TypeOf(d.Payload) == session.TypePlaintext {
		mb.plaintext.Add(1)
	}
	out := mb.tagger.Append(nil, d.Payload)
	if mb.forge.Load() {
		out[len(out)-1] ^= 1
	}
	mb.mu.Lock()
	mb.forwarded++
	mb.mu.Unlock()
	mb.c.Send(append([]id.ID(nil), d.Rest...), out)
}

// Home imposes a middlebox on everyone who contacts it: the laptop's
// packets and home's answers go through it, in clear (its IDS reads them);
// frames without its pass tag are dropped and counted; its alerts reach
// home's status.
func TestMiddleboxImposedByHost(t *testing.T) {
	o := newOverlay(t)
	laptop, home := o.host("laptop"), o.host("home")
	names(t, laptop, map[string]*host{"home": home})
	mb := startFakeMiddlebox(t, o, home.Ident.Public())
	home.WriteEntries(t, book.NewEntry("laptop", laptop.Ident.Public()), book.NewEntry("ids-mb", mb.ident.Public()))
	o.start(home, func(c *proxy.Config) { c.Middlebox = "ids-mb" })
	o.start(laptop, nil)

	l4, v4 := sessionUp(t, laptop, home)
	pingPong(t, laptop, home, l4, v4, 2)
	if mb.plaintext.Load() == 0 {
		t.Fatal("the middlebox saw no plaintext frame: its IDS could not read the session")
	}
	st := home.PX.Status()
	if len(st.Peers) == 0 || st.Peers[0].Middlebox != "ids-mb" || st.Peers[0].Mode != "plaintext" {
		t.Fatalf("home's status of laptop: %+v", st.Peers)
	}

	mb.forge.Store(true) // frames now arrive without a valid pass
	laptop.Tun.Send(echo(t, l4, v4, 3))
	testwait.For(t, "home drops and counts the frame that did not pass the middlebox", func() bool {
		return home.Counter("drop_bypassed") > 0
	})
	if p, ok := home.Tun.TryNext(); ok {
		t.Fatalf("home delivered a frame that skipped the middlebox: %x", p)
	}
	mb.forge.Store(false)

	alert := []byte(`{"event_type":"alert","src_ip":"100.64.0.1","src_port":4000,"dest_ip":"100.64.0.2","dest_port":21,"proto":"TCP","alert":{"signature":"eggdrop upload","severity":1}}`)
	mb.c.SendTo(home.Ident.ID(), pass.NewTagger(mb.key).AppendAlert(nil, alert))
	testwait.For(t, "the alert shows in home's status", func() bool {
		as := home.PX.Status().Alerts
		return len(as) == 1 && as[0].Signature == "eggdrop upload" && as[0].Middlebox == "ids-mb" && as[0].Dst == "100.64.0.2:21"
	})
	before := home.Counter("drop_auth")
	if err := mb.c.SendTo(home.Ident.ID(), pass.NewTagger(pass.Key{}).AppendAlert(nil, alert)); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "home drops an alert its middlebox did not make", func() bool { return home.Counter("drop_auth") > before })
	if n := len(home.PX.Status().Alerts); n != 1 {
		t.Fatalf("home shows %d alerts, want 1", n)
	}
}

// The laptop imposes a middlebox on its sessions with home (its book entry
// for home names it): home learns it in the handshake and answers through it.
func TestMiddleboxImposedByClient(t *testing.T) {
	o := newOverlay(t)
	laptop, home := o.host("laptop"), o.host("home")
	names(t, home, map[string]*host{"laptop": laptop})
	mb := startFakeMiddlebox(t, o, laptop.Ident.Public())
	e := book.NewEntry("home", home.Ident.Public())
	e.Middlebox = "ids-mb"
	laptop.WriteEntries(t, e, book.NewEntry("ids-mb", mb.ident.Public()))
	o.start(home, nil)
	o.start(laptop, nil)

	l4, v4 := sessionUp(t, laptop, home)
	pingPong(t, laptop, home, l4, v4, 2)
	mb.mu.Lock()
	n := mb.forwarded
	mb.mu.Unlock()
	if n < 4 || mb.plaintext.Load() == 0 {
		t.Fatalf("the middlebox forwarded %d frames (%d plaintext); want both ways, in clear", n, mb.plaintext.Load())
	}
	if st := home.PX.Status(); st.Peers[0].Middlebox == "" || st.Peers[0].Mode != "plaintext" {
		t.Fatalf("home's status of laptop: %+v", st.Peers[0])
	}
}

// Two members of a middlebox's anycast group whose member bytes share their
// top bit (the overlay gives ties to the smaller id, so random bytes reach
// one of them only 1 time in 8): when the one in use stops, both hosts find
// the other by probing through 16 member bytes at once, and the ping goes on.
func TestMiddleboxAnycastFailover(t *testing.T) {
	o := newOverlay(t)
	laptop, home := o.host("laptop"), o.host("home")
	names(t, laptop, map[string]*host{"home": home})
	ident, _ := identity.Generate()
	a := startMember(t, o, ident, home.Ident.Public(), 0x62)
	b := startMember(t, o, ident, home.Ident.Public(), 0x41)
	home.WriteEntries(t, book.NewEntry("laptop", laptop.Ident.Public()), book.NewEntry("ids-mb", ident.Public()))
	o.start(home, func(c *proxy.Config) { c.Middlebox = "ids-mb" })
	o.start(laptop, nil)

	l4, v4 := sessionUp(t, laptop, home)
	pingPong(t, laptop, home, l4, v4, 2)
	used, other := a, b
	if b.plaintext.Load() > a.plaintext.Load() {
		used, other = b, a
	}
	used.c.Close()
	before := other.plaintext.Load()
	seq := uint16(3)
	testwait.For(t, "the surviving member carries the ping both ways", func() bool {
		laptop.Tun.Send(echo(t, l4, v4, seq))
		seq++
		if _, ok := home.Tun.TryNext(); ok {
			home.Tun.Send(echo(t, v4, l4, seq))
		}
		_, back := laptop.Tun.TryNext()
		return back && other.plaintext.Load() > before
	})
}

// A host that imposes a middlebox its book does not name refuses to start,
// rather than let sessions go around it.
func TestMiddleboxNotInBook(t *testing.T) {
	o := newOverlay(t)
	home := o.host("home")
	names(t, home, map[string]*host{})
	cfg := proxy.DefaultConfig()
	cfg.Identity, cfg.BookPath, cfg.Servers, cfg.Tun, cfg.ResolvConf = home.Ident, home.BookPath(), o.servers, proxytest.NewTun(), ""
	cfg.Middlebox = "ids-mb"
	if px, err := proxy.New(cfg); err == nil || !strings.Contains(err.Error(), `the middlebox "ids-mb" this host imposes is not in the address book`) {
		if px != nil {
			px.Close()
		}
		t.Fatalf("New: %v", err)
	}
}
