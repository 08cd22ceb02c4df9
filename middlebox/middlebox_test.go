package middlebox

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/middlebox/pass"
	"github.com/i3net/i3net/proxy/packet"
	"github.com/i3net/i3net/proxy/proxytest"
	"github.com/i3net/i3net/proxy/session"
	"github.com/i3net/i3net/server"
	"github.com/i3net/i3net/server/servertest"
)

func TestMain(m *testing.M) { testwait.Main(m) }

// startServer runs an overlay server for the test.
func startServer(t testing.TB) []netip.AddrPort {
	t.Helper()
	return servertest.Addrs(servertest.Start(t, func(c *server.Config) { c.Logger = slog.New(slog.DiscardHandler) }))
}

// endHost is a host of a test, a native client: it sends frames and keeps
// what the overlay delivers to it.
type endHost struct {
	ident *identity.Identity
	c     *client.Client
	mu    sync.Mutex
	got   []client.Delivery // copies
}

func newEndHost(t testing.TB, servers []netip.AddrPort) *endHost {
	t.Helper()
	ident, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	h := &endHost{ident: ident}
	cfg := client.TestConfig()
	cfg.Servers = servers
	cfg.Identity = ident.PrivateKey()
	cfg.Handler = func(d client.Delivery) {
		h.mu.Lock()
		h.got = append(h.got, client.Delivery{ID: d.ID, Payload: bytes.Clone(d.Payload)})
		h.mu.Unlock()
	}
	if h.c, err = client.New(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.c.Close() })
	return h
}

// listen inserts a trigger on x for h.
func (h *endHost) listen(t testing.TB, x id.ID) {
	t.Helper()
	if _, err := h.c.Insert(t.Context(), client.Trigger{ID: x}); err != nil {
		t.Fatal(err)
	}
}

// next waits for the n-th delivery (from 0) and returns it.
func (h *endHost) next(t testing.TB, n int) client.Delivery {
	t.Helper()
	testwait.For(t, "a delivery", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.got) > n
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.got[n]
}

// world is a server, a middlebox serving host a, and host b, the peer.
type world struct {
	servers []netip.AddrPort
	mbIdent *identity.Identity
	mb      *Middlebox
	ids     *proxytest.Tun
	a, b    *endHost
	bID     id.ID // b's private id
}

// newWorld starts it; edit changes the middlebox's file.
func newWorld(t *testing.T, edit func(*Config)) *world {
	w := &world{servers: startServer(t)}
	var err error
	if w.mbIdent, err = identity.Generate(); err != nil {
		t.Fatal(err)
	}
	w.a, w.b = newEndHost(t, w.servers), newEndHost(t, w.servers)
	w.bID = id.Random()
	w.b.listen(t, w.bID)
	cfg := DefaultConfig()
	cfg.Servers = w.servers
	cfg.Hosts = []HostConfig{{Name: "a", Key: w.a.ident.Public()}}
	if edit != nil {
		edit(&cfg)
	}
	w.mb, w.ids = startMiddlebox(t, cfg, w.mbIdent)
	return w
}

// startMiddlebox runs a middlebox with an in-memory IDS device until the
// end of the test and waits for its triggers.
func startMiddlebox(t *testing.T, cfg Config, ident *identity.Identity) (*Middlebox, *proxytest.Tun) {
	t.Helper()
	ccfg := client.TestConfig()
	ids := proxytest.NewTun()
	mb, err := New(cfg, Options{Identity: ident, ControlPath: filepath.Join(t.TempDir(), "proxy.sock"),
		Logger: slog.New(slog.DiscardHandler), Client: &ccfg, IDS: ids})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mb.Run(context.Background()) }()
	t.Cleanup(func() { mb.Close(); <-done })
	testwait.For(t, "the middlebox's triggers", func() bool {
		select {
		case <-mb.Up():
			return true
		default:
			return false
		}
	})
	return mb, ids
}

// hostTrigger is where a sends the frames of its sessions through the
// middlebox: its trigger for a, with member byte member.
func (w *world) hostTrigger(member byte) id.ID {
	return pass.HostTrigger(w.mbIdent.ID(), w.a.ident.Public(), member)
}

// plaintextFrame returns a session plaintext frame carrying an ICMP echo
// from src to dst.
func plaintextFrame(t testing.TB, src, dst netip.Addr, seq uint16) (frame, pkt []byte) {
	t.Helper()
	pkt, err := packet.Build(packet.Header{Src: netip.AddrPortFrom(src, 0), Dst: netip.AddrPortFrom(dst, 0),
		Proto: packet.ProtoICMPv4, ICMPType: uint8(packet.ICMPv4EchoRequest), ICMPID: 7, ICMPSeq: seq}, []byte("eggdrop"))
	if err != nil {
		t.Fatal(err)
	}
	f := session.Frame{Type: session.TypePlaintext, Counter: uint64(seq), Body: pkt, Tag: make([]byte, 16)}
	return f.AppendTo(nil), pkt
}

// tagger returns the pass tagger of host x with the middlebox.
func (w *world) tagger(t testing.TB, x *identity.Identity) *pass.Tagger {
	t.Helper()
	k, err := pass.NewKey(x, w.mbIdent.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pass.NewTagger(k)
}

func counter(mb *Middlebox, name string) uint64 { return mb.Status().Counters[name] }

var (
	addrA = netip.MustParseAddr("100.64.0.1")
	addrB = netip.MustParseAddr("100.64.0.2")
)

// A frame host a sends to [the middlebox's trigger for a, b's id] reaches b
// with a pass tag of K(M, a); its IP packet is written into the IDS device;
// the status counts it.
func TestForwardTagsAndFeedsIDS(t *testing.T) {
	w := newWorld(t, nil)
	frame, pkt := plaintextFrame(t, addrA, addrB, 1)
	if err := w.a.c.Send([]id.ID{w.hostTrigger(pass.Member("")), w.bID}, frame); err != nil {
		t.Fatal(err)
	}
	d := w.b.next(t, 0)
	if d.ID != w.bID {
		t.Fatalf("delivered on %s, want b's id", d.ID.Short())
	}
	body, err := w.tagger(t, w.a.ident).Check(d.Payload)
	if err != nil || !bytes.Equal(body, frame) {
		t.Fatalf("b got %x (%v), want the frame with a valid pass tag", d.Payload, err)
	}
	if got := w.ids.Next(t); !bytes.Equal(got, pkt) {
		t.Fatalf("IDS got %x, want the frame's IP packet %x", got, pkt)
	}
	testwait.For(t, "the counters", func() bool { return counter(w.mb, "forwarded") == 1 && counter(w.mb, "to_ids") == 1 })
	hs := w.mb.Status().Middlebox.Hosts[0]
	if hs.Name != "a" || hs.State != "active" || hs.Counters["forwarded"] != 1 || hs.Counters["to_ids"] != 1 {
		t.Fatalf("host status %+v", hs)
	}
	if h := w.mb.flows.lookup(addrB, addrA); h == nil || h.cfg.Name != "a" {
		t.Fatalf("the pair %v–%v is not a's: %v", addrA, addrB, h)
	}
}

// A frame that is not plaintext is forwarded tagged but not shown to the
// IDS; a frame with nothing left on its stack is dropped and counted; a frame
// for a host the middlebox does not serve matches none of its triggers: the
// server pops that id and the frame reaches the next one untagged (which is
// why a host that requires the middlebox checks the tag).
func TestForwardDrops(t *testing.T) {
	w := newWorld(t, nil)
	unknown := pass.HostTrigger(w.mbIdent.ID(), newIdent(t).Public(), 0)
	bypass := []byte{byte(session.TypePlaintext), 1, 2, 3}
	if err := w.a.c.Send([]id.ID{unknown, w.bID}, bypass); err != nil {
		t.Fatal(err)
	}
	if d := w.b.next(t, 0); !bytes.Equal(d.Payload, bypass) {
		t.Fatalf("b got %x, want the frame for a host not served, untagged", d.Payload)
	}
	if err := w.a.c.SendTo(w.hostTrigger(0), []byte("nothing after me")); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "drop_malformed", func() bool { return counter(w.mb, "drop_malformed") == 1 })
	data := []byte{byte(session.TypeData), 0, 0, 0, 0, 0, 0, 0, 9, 0xde, 0xad}
	if err := w.a.c.Send([]id.ID{w.hostTrigger(200), w.bID}, data); err != nil {
		t.Fatal(err)
	}
	d := w.b.next(t, 1)
	if body, err := w.tagger(t, w.a.ident).Check(d.Payload); err != nil || !bytes.Equal(body, data) {
		t.Fatalf("b got %x (%v), want the data frame tagged", d.Payload, err)
	}
	if w.ids.Written() != 0 || counter(w.mb, "forwarded") != 1 || counter(w.mb, "drop_unknown_host") != 0 {
		t.Fatalf("IDS got %d packets, counters %v: want none and 1 forwarded", w.ids.Written(), w.mb.Status().Counters)
	}
}

// A delivery on a trigger that names no host served (a trigger left at the
// servers by an earlier run with another file) is dropped and counted, as
// pass.HostOf would say.
func TestForwardUnknownTrigger(t *testing.T) {
	mbIdent, a, stranger := newIdent(t), newIdent(t), newIdent(t)
	cfg := DefaultConfig()
	cfg.Servers = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1")}
	cfg.Hosts = []HostConfig{{Name: "a", Key: a.Public()}}
	m, err := newMiddlebox(cfg, Options{Identity: mbIdent, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	unknown := pass.HostTrigger(mbIdent.ID(), stranger.Public(), 3)
	keys := []identity.PublicKey{a.Public()}
	if _, ok := pass.HostOf(unknown, mbIdent.ID(), keys); ok || m.hostOf(unknown) != nil {
		t.Fatal("a stranger's trigger names a host")
	}
	mine := pass.HostTrigger(mbIdent.ID(), a.Public(), 77)
	if k, ok := pass.HostOf(mine, mbIdent.ID(), keys); !ok || m.hostOf(mine) == nil || m.hostOf(mine).cfg.Key != k {
		t.Fatal("hostOf and pass.HostOf disagree on a's trigger")
	}
	frame, _ := plaintextFrame(t, addrA, addrB, 1)
	m.forward(client.Delivery{ID: unknown, Rest: []id.ID{id.Random()}, Payload: frame})
	m.forward(client.Delivery{ID: mine, Payload: frame})
	if m.stats.dropUnknownHost.Load() != 1 || m.stats.dropMalformed.Load() != 1 || len(m.fwd.msgs) != 0 {
		t.Fatalf("unknown %d, malformed %d, queued %d: want 1, 1, 0",
			m.stats.dropUnknownHost.Load(), m.stats.dropMalformed.Load(), len(m.fwd.msgs))
	}
}

func newIdent(t testing.TB) *identity.Identity {
	t.Helper()
	x, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// Two members of an anycast group share the identity and differ in their
// triggers' member byte: a frame goes to the member whose byte is closest to
// the one the host picked; when a member stops, its frames go to the other.
func TestAnycastMembers(t *testing.T) {
	w := newWorld(t, func(c *Config) { c.Anycast = "mb-a" })
	cfgB := w.mb.cfg
	cfgB.Anycast = "mb-b"
	mbB, _ := startMiddlebox(t, cfgB, w.mbIdent)
	ma, mb := pass.Member("mb-a"), pass.Member("mb-b")
	if ma == mb || w.mb.hosts[0].trigger == mbB.hosts[0].trigger || w.mb.self != mbB.self {
		t.Fatalf("members a and b: bytes %d %d, triggers %s %s", ma, mb, w.mb.hosts[0].trigger, mbB.hosts[0].trigger)
	}
	send := func(member byte, n int) {
		t.Helper()
		frame, _ := plaintextFrame(t, addrA, addrB, uint16(n))
		if err := w.a.c.Send([]id.ID{w.hostTrigger(member), w.bID}, frame); err != nil {
			t.Fatal(err)
		}
		w.b.next(t, n)
	}
	send(ma, 0)
	send(mb, 1)
	if counter(w.mb, "forwarded") != 1 || counter(mbB, "forwarded") != 1 {
		t.Fatalf("forwarded by a %d, by b %d: want 1 each", counter(w.mb, "forwarded"), counter(mbB, "forwarded"))
	}
	w.mb.Close()
	send(ma, 2)
	if counter(mbB, "forwarded") != 2 {
		t.Fatalf("b forwarded %d, want a's frame too once a stopped", counter(mbB, "forwarded"))
	}
}
