package proxy_test

import (
	"encoding/base64"
	"net/netip"
	"os"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/internal/clock"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/packet"
	"github.com/i3net/i3net/proxy/proxytest"
	"github.com/i3net/i3net/proxy/vaddr"
	"github.com/i3net/i3net/server"
)

// host is one proxy of a test (proxytest.Host).
type host = proxytest.Host

// overlay is a server on loopback and the hosts using it.
type overlay struct {
	t       testing.TB
	srv     *server.Server
	servers []netip.AddrPort
}

func newOverlay(t testing.TB) *overlay { return newOverlayWith(t, nil) }

// newOverlayWith is newOverlay with the server's configuration changed by edit.
func newOverlayWith(t testing.TB, edit func(*server.Config)) *overlay {
	srv, _ := proxytest.StartServer(t, edit)
	return &overlay{t: t, srv: srv, servers: []netip.AddrPort{srv.Addr()}}
}

func (o *overlay) host(name string) *host { return proxytest.NewHost(o.t, name) }

// start runs h's proxy with cfg adjusted by mod.
func (o *overlay) start(h *host, mod func(*proxy.Config)) { h.Start(o.t, o.servers, mod) }

// names writes h's address book: each peer under its name.
func names(t testing.TB, h *host, peers map[string]*host, blocked ...string) {
	ids := make(map[string]*identity.Identity, len(peers))
	for n, p := range peers {
		ids[n] = p.Ident
	}
	h.WriteBook(t, ids, blocked...)
}

func echo(t testing.TB, src, dst netip.Addr, seq uint16) []byte {
	typ := packet.ICMPv4EchoRequest
	proto := packet.ProtoICMPv4
	if src.Is6() {
		typ, proto = packet.ICMPv6EchoRequest, packet.ProtoICMPv6
	}
	b, err := packet.Build(packet.Header{Src: netip.AddrPortFrom(src, 0), Dst: netip.AddrPortFrom(dst, 0), Proto: proto,
		ICMPType: uint8(typ), ICMPID: 7, ICMPSeq: seq}, []byte("ping payload"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// homeAddr4 is the IPv4 address laptop maps the name "home" to; the test
// fails if the name does not resolve.
func homeAddr4(t testing.TB, laptop *host) netip.Addr {
	t.Helper()
	v4, _, ok := laptop.PX.ResolveOverlay("home")
	if !ok {
		t.Fatal("home does not resolve")
	}
	return v4
}

// sessionUp sends one echo from laptop to home and waits until it reaches
// home's programs; it returns laptop's own IPv4 address and home's mapped one.
func sessionUp(t testing.TB, laptop, home *host) (l4, v4 netip.Addr) {
	t.Helper()
	l4, _ = laptop.Self()
	v4 = homeAddr4(t, laptop)
	laptop.Tun.Send(echo(t, l4, v4, 1))
	home.Tun.Next(t)
	return l4, v4
}

// pingPong sends an echo with sequence number seq from laptop (l4) to home
// (v4, as laptop maps it) and one back, and waits for each to arrive.
func pingPong(t testing.TB, laptop, home *host, l4, v4 netip.Addr, seq uint16) {
	t.Helper()
	laptop.Tun.Send(echo(t, l4, v4, seq))
	home.Tun.Next(t)
	home.Tun.Send(echo(t, v4, l4, seq))
	laptop.Tun.Next(t)
}

// pair starts laptop and home, each naming the other.
func pair(t testing.TB, modLaptop, modHome func(*proxy.Config)) (o *overlay, laptop, home *host) {
	o = newOverlay(t)
	laptop, home = o.host("laptop"), o.host("home")
	names(t, laptop, map[string]*host{"home": home})
	names(t, home, map[string]*host{"laptop": laptop})
	o.start(home, modHome)
	o.start(laptop, modLaptop)
	return o, laptop, home
}

func TestPacketsBothWaysHeadersPreserved(t *testing.T) {
	_, laptop, home := pair(t, nil, nil)
	for _, fam := range []string{"v4", "v6"} {
		t.Run(fam, func(t *testing.T) {
			l4, l6 := laptop.Self()
			h4, h6 := home.Self()
			v4, v6, ok := laptop.PX.ResolveOverlay("home")
			if !ok {
				t.Fatal("home does not resolve")
			}
			src, dst, hself := l4, v4, h4
			if fam == "v6" {
				src, dst, hself = l6, v6, h6
			}
			if dst != hself {
				t.Fatalf("laptop's address for home %v differs from home's own %v: headers not preserved", dst, hself)
			}
			out := echo(t, src, dst, 1)
			laptop.Tun.Send(out)
			got := home.Tun.Next(t)
			pp := proxytest.Decode(t, got)
			if pp.Src.Addr() != src || pp.Dst.Addr() != hself || string(got) != string(out) {
				t.Fatalf("home got %v, want the packet unchanged %v → %v", pp.String(), src, hself)
			}
			home.Tun.Send(echo(t, hself, src, 2))
			back := proxytest.Decode(t, laptop.Tun.Next(t))
			if back.Src.Addr() != dst || back.Dst.Addr() != src {
				t.Fatalf("laptop got %v", back.String())
			}
		})
	}
	st := laptop.PX.Status()
	if len(st.Peers) != 1 || st.Peers[0].Name != "home" || st.Peers[0].State != "active" || st.Peers[0].Mode != "encrypted" ||
		st.Peers[0].TxPackets == 0 || st.Peers[0].RxPackets == 0 || !st.Peers[0].Preserved {
		t.Fatalf("status: %+v", st.Peers)
	}
}

func TestDNSThroughTun(t *testing.T) {
	_, laptop, home := pair(t, nil, nil)
	l4, _ := laptop.Self()
	h4, _ := home.Self()
	dnsAddr := laptop.PX.Status().Self.DNS
	ask := func(name string, qtype uint16) *mdns.Msg {
		q := new(mdns.Msg)
		q.SetQuestion(name, qtype)
		qb, _ := q.Pack()
		pkt, err := packet.Build(packet.Header{Src: netip.AddrPortFrom(l4, 40000), Dst: netip.AddrPortFrom(dnsAddr, 53), Proto: packet.ProtoUDP}, qb)
		if err != nil {
			t.Fatal(err)
		}
		laptop.Tun.Send(pkt)
		resp := laptop.Tun.Next(t)
		pp := proxytest.Decode(t, resp)
		if pp.Src != netip.AddrPortFrom(dnsAddr, 53) || pp.Dst != netip.AddrPortFrom(l4, 40000) {
			t.Fatalf("DNS answer %v", pp.String())
		}
		var m mdns.Msg
		if err := m.Unpack(pp.Payload(resp)); err != nil || m.Id != q.Id {
			t.Fatalf("answer: %v", err)
		}
		return &m
	}
	m := ask("home.i3.", mdns.TypeA)
	if len(m.Answer) != 1 || m.Answer[0].(*mdns.A).A.String() != h4.String() || m.Answer[0].Header().Ttl != 0 {
		t.Fatalf("home.i3 A: %v", m.Answer)
	}
	if m := ask("nosuch.i3.", mdns.TypeA); m.Rcode != mdns.RcodeNameError {
		t.Fatalf("nosuch.i3: rcode %d", m.Rcode)
	}
	rev, _ := mdns.ReverseAddr(h4.String())
	if m := ask(rev, mdns.TypePTR); len(m.Answer) != 1 || m.Answer[0].(*mdns.PTR).Ptr != "home.i3." {
		t.Fatalf("PTR: %v", m.Answer)
	}
	if m := ask("example.org.", mdns.TypeA); m.Rcode != mdns.RcodeServerFailure {
		t.Fatalf("example.org without upstream: rcode %d, want SERVFAIL at once", m.Rcode)
	}
}

func TestCollisionRewrites(t *testing.T) {
	o := newOverlay(t)
	laptop, home := o.host("laptop"), o.host("home")
	names(t, laptop, map[string]*host{"home": home})
	names(t, home, map[string]*host{"laptop": laptop})
	derived := vaddr.Derive(vaddr.DefaultPool4, home.Ident.ID())
	o.start(home, nil)
	o.start(laptop, func(c *proxy.Config) { c.Reserved = []netip.Addr{derived} })
	l4, _ := laptop.Self()
	h4, _ := home.Self()
	v4, _, ok := laptop.PX.ResolveOverlay("home")
	if !ok || v4 == h4 || !vaddr.DefaultPool4.Contains(v4) {
		t.Fatalf("forced collision: home mapped at %v (its own %v)", v4, h4)
	}
	laptop.Tun.Send(echo(t, l4, v4, 1))
	pp := proxytest.Decode(t, home.Tun.Next(t))
	if pp.Dst.Addr() != h4 || pp.Src.Addr() != l4 {
		t.Fatalf("home got %v, want %v → %v (rewritten to home's own address)", pp.String(), l4, h4)
	}
	home.Tun.Send(echo(t, h4, l4, 2))
	back := proxytest.Decode(t, laptop.Tun.Next(t))
	if back.Src.Addr() != v4 {
		t.Fatalf("laptop got %v, want the source rewritten to %v", back.String(), v4)
	}
	if laptop.PX.Status().Peers[0].Preserved {
		t.Fatal("status says headers preserved")
	}
}

func TestSpoofedSourceDropped(t *testing.T) {
	_, laptop, home := pair(t, nil, nil)
	l4, _ := sessionUp(t, laptop, home)
	h4, _ := home.Self()
	other := netip.MustParseAddr("100.64.0.9")
	home.Tun.Send(echo(t, other, l4, 2)) // home claims another host's address
	home.Tun.Send(echo(t, h4, l4, 3))
	pp := proxytest.Decode(t, laptop.Tun.Next(t))
	if pp.Src.Addr() != h4 {
		t.Fatalf("laptop got %v", pp.String())
	}
	if n := laptop.PX.Status().Counters["drop_spoofed"]; n != 1 {
		t.Fatalf("drop_spoofed = %d, want 1", n)
	}
}

func TestRestartKeepsAddressesAndReconnects(t *testing.T) {
	o, laptop, home := pair(t, nil, nil)
	l4, v4 := sessionUp(t, laptop, home)
	h4, _ := home.Self()

	laptop.Stop(t)
	o.start(laptop, nil)
	if st := laptop.PX.Status(); len(st.Peers) != 1 || st.Peers[0].Addr4 != v4 {
		t.Fatalf("after restart: %+v", st.Peers)
	}
	// home still has its session with the old laptop: its packets make the
	// new laptop send a reset, and laptop's own packets handshake again.
	home.Tun.Send(echo(t, h4, l4, 2))
	laptop.Tun.Send(echo(t, l4, v4, 3))
	testwait.For(t, "packets both ways after the restart", func() bool {
		if _, ok := home.Tun.TryNext(); ok {
			return true
		}
		laptop.Tun.Send(echo(t, l4, v4, 4))
		time.Sleep(20 * time.Millisecond)
		return false
	})
	home.Tun.Send(echo(t, h4, l4, 5))
	testwait.For(t, "home's packet at the restarted laptop", func() bool {
		for {
			p, ok := laptop.Tun.TryNext()
			if !ok {
				home.Tun.Send(echo(t, h4, l4, 6))
				time.Sleep(20 * time.Millisecond)
				return false
			}
			if pp := proxytest.Decode(t, p); pp.Src.Addr() == v4 {
				return true
			}
		}
	})
}

func TestBlockedPeerRefused(t *testing.T) {
	o := newOverlay(t)
	laptop, home := o.host("laptop"), o.host("home")
	names(t, laptop, map[string]*host{"home": home})
	names(t, home, map[string]*host{"laptop": laptop}, "laptop")
	o.start(home, nil)
	o.start(laptop, func(c *proxy.Config) { c.HandshakeTimeout = time.Second })
	l4, _ := laptop.Self()
	v4, _, _ := laptop.PX.ResolveOverlay("home")
	laptop.Tun.Send(echo(t, l4, v4, 1))
	testwait.For(t, "laptop to give up", func() bool { return laptop.PX.Status().Counters["handshakes_failed"] > 0 })
	if home.PX.Status().Counters["peers_refused"] == 0 {
		t.Fatal("home did not count the refusal")
	}
	if p, ok := home.Tun.TryNext(); ok {
		t.Fatalf("a blocked peer's packet reached home: %x", p)
	}
	// The mapping stays, the peer marked unreachable: only TO without use
	// forgets it, so that the flow resumes once home unblocks laptop (bug 6).
	if st := laptop.PX.Status(); len(st.Peers) != 1 || st.Peers[0].State != "unreachable" {
		t.Fatalf("the failed peer: %+v; want its mapping kept, unreachable", st.Peers)
	}
}

func TestUnknownNames(t *testing.T) {
	_, laptop, _ := pair(t, nil, nil)
	if _, _, ok := laptop.PX.ResolveOverlay("nosuch"); ok {
		t.Fatal("unknown name resolved")
	}
}

// A book that names a host by a key in the old form (no checksum) still
// works, and the proxy says so in its log, with the form to write instead,
// at start and when the book is reloaded.
func TestOldKeyFormWarned(t *testing.T) {
	o := newOverlay(t)
	laptop, home := o.host("laptop"), o.host("home")
	k := home.Ident.Public()
	old := identity.LegacyKeyPrefix + base64.RawURLEncoding.EncodeToString(k[:])
	if err := os.WriteFile(laptop.BookPath(), []byte("[hosts.home]\nkey = \""+old+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o.start(laptop, nil)
	if _, _, ok := laptop.PX.ResolveOverlay("home"); !ok {
		t.Fatal("home, named by an old-form key, does not resolve")
	}
	lines := laptop.Log.Lines("address book", k.String())
	if len(lines) == 0 {
		t.Fatalf("no warning naming the key's new form %s:\n%s", k, laptop.Log)
	}
	t.Logf("logged: %s", lines[0])
}

// Bug 1: packets did not keep a mapping alive (only DNS answers did), so a
// flow that never looked its name up again was cut after TO. Both proxies run
// on one fake clock (their handshakes carry its time): 40 s of it pass, in
// steps of 250 ms with a packet each way at every step, with a TO of 1.5 s
// (the old table swept every 30 s). Then, with no packets, the mapping must
// go.
func TestMappingInUseStays(t *testing.T) {
	clk := clock.NewFake()
	clk.Advance(time.Since(clk.Now())) // to now: signatures carry the time
	// The server keeps the real clock; the proxies' runs up to a minute ahead.
	o := newOverlayWith(t, func(c *server.Config) { c.SignatureSkew = 10 * time.Minute })
	laptop, home := o.host("laptop"), o.host("home")
	names(t, laptop, map[string]*host{"home": home})
	names(t, home, map[string]*host{"laptop": laptop})
	mod := func(c *proxy.Config) { c.Clock = clk; c.MappingTimeout = 1500 * time.Millisecond }
	o.start(home, mod)
	o.start(laptop, mod)
	l4, _ := laptop.Self()
	v4 := homeAddr4(t, laptop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("laptop:\n%s\nhome:\n%s", laptop.Log, home.Log)
		}
	})
	for i := range 160 {
		pingPong(t, laptop, home, l4, v4, uint16(i))
		clk.Advance(250 * time.Millisecond)
		if st := laptop.PX.Status(); len(st.Peers) != 1 {
			t.Fatalf("after %v of steady packets the mapping of home is gone (TO 1.5s)", time.Duration(i+1)*250*time.Millisecond)
		}
	}
	testwait.For(t, "the unused mapping to expire", func() bool {
		clk.Advance(250 * time.Millisecond)
		// The log line follows the removal: wait for both.
		return len(laptop.PX.Status().Peers) == 0 && len(laptop.Log.Lines("mappings unused for the mapping timeout")) > 0
	})
	if lines := laptop.Log.Lines("mappings unused for the mapping timeout"); len(lines) != 1 {
		t.Fatalf("laptop logged %d expiries:\n%s", len(lines), laptop.Log)
	}
}
