package overlays

import (
	"context"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/packet"
	"github.com/i3net/i3net/proxy/proxytest"
)

// ring runs an in-process server on loopback until stop or the test's end.
func ring(t *testing.T) (addr netip.AddrPort, stop func()) {
	srv, stop := proxytest.StartServer(t, nil)
	return srv.Addr(), stop
}

// laptopConfig is one overlay of the laptop: its own identity and book
// naming peer as name.
func laptopConfig(t *testing.T, suffix, pool4 string, srv netip.AddrPort, name string, peer *identity.Identity) proxy.Config {
	ident, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	h := &proxytest.Host{Dir: t.TempDir()}
	h.WriteBook(t, map[string]*identity.Identity{name: peer})
	c := proxy.DefaultConfig()
	c.Identity, c.BookPath, c.Servers, c.Suffix = ident, h.BookPath(), []netip.AddrPort{srv}, suffix
	c.StatePath = filepath.Join(h.Dir, "state.json")
	c.Pool4, c.Pool6 = netip.MustParsePrefix(pool4), netip.Prefix{}
	c.ListenAddr, c.ResolvConf = netip.MustParseAddrPort("127.0.0.1:0"), ""
	c.Logger = slog.New(slog.DiscardHandler)
	return c
}

// resolveThroughTun asks the primary's DNS service address for name, as a
// program would, and returns the A record.
func resolveThroughTun(t *testing.T, dev *proxytest.Tun, self, dns netip.Addr, name string) netip.Addr {
	t.Helper()
	q := new(mdns.Msg)
	q.SetQuestion(name, mdns.TypeA)
	qb, _ := q.Pack()
	pkt, err := packet.Build(packet.Header{Src: netip.AddrPortFrom(self, 5353), Dst: netip.AddrPortFrom(dns, 53), Proto: packet.ProtoUDP}, qb)
	if err != nil {
		t.Fatal(err)
	}
	dev.Send(pkt)
	resp := dev.Next(t)
	pp := proxytest.Decode(t, resp)
	var m mdns.Msg
	if err := m.Unpack(pp.Payload(resp)); err != nil || len(m.Answer) != 1 {
		t.Fatalf("%s: answer %v (%v)", name, m.Answer, err)
	}
	a, _ := netip.AddrFromSlice(m.Answer[0].(*mdns.A).A)
	return a.Unmap()
}

// TestGroupTwoRings: a laptop in two overlays on one device resolves and
// reaches build.lab through the primary's DNS, and keeps reaching it when
// the other overlay's server is gone.
func TestGroupTwoRings(t *testing.T) {
	srvA, stopA := ring(t)
	srvB, _ := ring(t)
	home, build := proxytest.NewHost(t, "home"), proxytest.NewHost(t, "build")
	i3 := laptopConfig(t, "i3", "100.64.0.0/12", srvA, "home", home.Ident)
	lab := laptopConfig(t, "lab", "100.96.0.0/12", srvB, "build", build.Ident)
	home.Start(t, []netip.AddrPort{srvA}, nil)
	build.Start(t, []netip.AddrPort{srvB}, func(c *proxy.Config) { c.Pool4 = lab.Pool4; c.Pool6 = netip.Prefix{} })

	dev := proxytest.NewTun()
	g, err := openOn(dev, []proxy.Config{i3, lab}, []Route{{Pool4: i3.Pool4}, {Pool4: lab.Pool4}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Run(context.Background()) }()
	st := g.Primary().Status()
	if len(st.Overlays) != 1 || st.Overlays[0].Self.Suffix != "lab" || !lab.Pool4.Contains(st.Overlays[0].Self.Addr4) {
		t.Fatalf("status overlays %+v: want lab's, in its pool", st.Overlays)
	}
	labSelf := st.Overlays[0].Self.Addr4
	buildAddr := resolveThroughTun(t, dev, st.Self.Addr4, st.Self.DNS, "build.lab.")
	if !lab.Pool4.Contains(buildAddr) {
		t.Fatalf("build.lab = %v: not in lab's pool %v", buildAddr, lab.Pool4)
	}
	if a := resolveThroughTun(t, dev, st.Self.Addr4, st.Self.DNS, "home.i3."); !i3.Pool4.Contains(a) {
		t.Fatalf("home.i3 = %v: not in i3's pool", a)
	}
	ping := func(seq uint16) {
		t.Helper()
		b, _ := packet.Build(packet.Header{Src: netip.AddrPortFrom(labSelf, 0), Dst: netip.AddrPortFrom(buildAddr, 0),
			Proto: packet.ProtoICMPv4, ICMPType: 8, ICMPID: 7, ICMPSeq: seq}, []byte("ping"))
		dev.Send(b)
		pp := proxytest.Decode(t, build.Tun.Next(t))
		if pp.Dst.Addr() != build.Addr() {
			t.Fatalf("build got a packet to %v", pp.Dst.Addr())
		}
	}
	ping(1)
	stopA()
	for seq := uint16(2); seq < 6; seq++ {
		ping(seq)
	}
	testwait.For(t, "lab's session in the primary's status", func() bool {
		o := g.Primary().Status().Overlays[0]
		return len(o.Peers) == 1 && o.Peers[0].Name == "build" && o.Peers[0].TxPackets >= 5
	})
	// A packet to no overlay's pool is dropped and counted in the primary's
	// status; each overlay shows its own queue's drops.
	stray, _ := packet.Build(packet.Header{Src: netip.AddrPortFrom(labSelf, 9), Dst: netip.MustParseAddrPort("192.0.2.1:9"),
		Proto: packet.ProtoUDP}, []byte("stray"))
	dev.Send(stray)
	testwait.For(t, "the stray packet counted as dispatch_no_route", func() bool {
		return g.Primary().Status().Counters["dispatch_no_route"] == 1
	})
	if _, ok := g.Primary().Status().Overlays[0].Counters["dispatch_queue_full"]; !ok {
		t.Errorf("lab's status has no dispatch_queue_full counter: %v", g.Primary().Status().Overlays[0].Counters)
	}
	g.Close()
	if err := <-done; err != nil {
		t.Errorf("Run after Close: %v", err)
	}
	if !dev.IsClosed() {
		t.Error("the device is still open after Close")
	}
}

// An overlay that cannot open undoes the group: the others are closed, the
// device too, and the error names the overlay.
func TestOpenFailsCleanly(t *testing.T) {
	srv, _ := ring(t)
	peer, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	i3 := laptopConfig(t, "i3", "100.64.0.0/12", srv, "home", peer)
	lab := laptopConfig(t, "lab", "100.96.0.0/12", srv, "build", peer)
	lab.ListenAddr = netip.MustParseAddrPort("192.0.2.1:0") // TEST-NET-1: never local, so lab's client cannot open
	dev := proxytest.NewTun()
	g, err := openOn(dev, []proxy.Config{i3, lab}, []Route{{Pool4: i3.Pool4}, {Pool4: lab.Pool4}})
	if err == nil {
		g.Close()
		t.Fatal("a group opened with an overlay whose client cannot open")
	}
	if !strings.Contains(err.Error(), `overlay "lab"`) {
		t.Errorf("error %q does not name the overlay", err)
	}
	if !dev.IsClosed() {
		t.Error("the device is still open")
	}
}
