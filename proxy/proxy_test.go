package proxy

import (
	"context"
	"log/slog"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/proxy/book"
	"github.com/i3net/i3net/proxy/packet"
	"github.com/i3net/i3net/proxy/vaddr"
	"github.com/i3net/i3net/server"
)

// host is one proxy of a test: its identity, book, tun and state.
type host struct {
	name  string
	ident *identity.Identity
	dir   string
	tun   *fakeTun
	px    *Proxy
	done  chan error
}

// overlay is a server on loopback and the hosts using it.
type overlay struct {
	t   testing.TB
	srv *server.Server
}

func newOverlay(t testing.TB) *overlay {
	cfg := server.TestConfig()
	cfg.Logger = slog.New(slog.DiscardHandler)
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); srv.Close(); <-done })
	return &overlay{t: t, srv: srv}
}

func (o *overlay) host(name string) *host {
	ident, err := identity.Generate()
	if err != nil {
		o.t.Fatal(err)
	}
	return &host{name: name, ident: ident, dir: o.t.TempDir()}
}

// names writes h's address book: each peer under its name.
func (h *host) names(t testing.TB, peers map[string]*host, blocked ...string) {
	var es []book.Entry
	for n, p := range peers {
		e := book.NewEntry(n, p.ident.Public())
		for _, b := range blocked {
			e.Blocked = e.Blocked || b == n
		}
		es = append(es, e)
	}
	b, err := book.New(es...)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Save(filepath.Join(h.dir, "book.toml")); err != nil {
		t.Fatal(err)
	}
}

// start runs h's proxy with cfg adjusted by mod.
func (o *overlay) start(h *host, mod func(*Config)) {
	t := o.t
	cfg := DefaultConfig()
	cfg.Identity = h.ident
	cfg.BookPath = filepath.Join(h.dir, "book.toml")
	cfg.StatePath = filepath.Join(h.dir, "state.json")
	cfg.Servers = []netip.AddrPort{o.srv.Addr()}
	cfg.ListenAddr = netip.MustParseAddrPort("127.0.0.1:0")
	cfg.ResolvConf = ""
	cfg.HandshakeTimeout = 3 * time.Second
	cfg.Logger = slog.New(slog.DiscardHandler)
	h.tun = newFakeTun()
	cfg.Tun = h.tun
	if mod != nil {
		mod(&cfg)
	}
	px, err := New(cfg)
	if err != nil {
		t.Fatalf("%s: %v", h.name, err)
	}
	h.px = px
	h.done = make(chan error, 1)
	go func() { h.done <- px.Run(context.Background()) }()
	waitFor(t, "public trigger of "+h.name, func() bool { return px.publicTriggerUp() })
	t.Cleanup(func() { h.stop(t) })
}

func (h *host) stop(t testing.TB) {
	if h.px == nil {
		return
	}
	h.px.Close()
	select {
	case <-h.done:
	case <-time.After(5 * time.Second):
		t.Errorf("%s: Run did not return after Close", h.name)
	}
	h.px = nil
}

func (h *host) self() (v4, v6 netip.Addr) { st := h.px.Status(); return st.Self.Addr4, st.Self.Addr6 }

// waitFor polls cond every 10 ms for up to 5 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recv returns the next packet h's proxy writes into its tun device.
func (h *host) recv(t testing.TB) []byte {
	t.Helper()
	select {
	case p := <-h.tun.fromProxy:
		return p
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no packet from the proxy within 5s", h.name)
		return nil
	}
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

func decode(t testing.TB, b []byte) packet.Parsed {
	t.Helper()
	var pp packet.Parsed
	if err := pp.Decode(b); err != nil {
		t.Fatalf("decode %x: %v", b, err)
	}
	if err := packet.VerifyChecksums(b); err != nil {
		t.Fatalf("checksums: %v", err)
	}
	return pp
}

// pair starts laptop and home, each naming the other.
func pair(t testing.TB, modLaptop, modHome func(*Config)) (o *overlay, laptop, home *host) {
	o = newOverlay(t)
	laptop, home = o.host("laptop"), o.host("home")
	laptop.names(t, map[string]*host{"home": home})
	home.names(t, map[string]*host{"laptop": laptop})
	o.start(home, modHome)
	o.start(laptop, modLaptop)
	return o, laptop, home
}

func TestPacketsBothWaysHeadersPreserved(t *testing.T) {
	_, laptop, home := pair(t, nil, nil)
	for _, fam := range []string{"v4", "v6"} {
		t.Run(fam, func(t *testing.T) {
			l4, l6 := laptop.self()
			h4, h6 := home.self()
			v4, v6, ok := laptop.px.ResolveOverlay("home")
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
			laptop.tun.toProxy <- out
			got := home.recv(t)
			pp := decode(t, got)
			if pp.Src.Addr() != src || pp.Dst.Addr() != hself || string(got) != string(out) {
				t.Fatalf("home got %v, want the packet unchanged %v → %v", pp.String(), src, hself)
			}
			home.tun.toProxy <- echo(t, hself, src, 2)
			back := decode(t, laptop.recv(t))
			if back.Src.Addr() != dst || back.Dst.Addr() != src {
				t.Fatalf("laptop got %v", back.String())
			}
		})
	}
	st := laptop.px.Status()
	if len(st.Peers) != 1 || st.Peers[0].Name != "home" || st.Peers[0].State != "active" || st.Peers[0].Mode != "encrypted" ||
		st.Peers[0].TxPackets == 0 || st.Peers[0].RxPackets == 0 || !st.Peers[0].Preserved {
		t.Fatalf("status: %+v", st.Peers)
	}
}

func TestDNSThroughTun(t *testing.T) {
	_, laptop, home := pair(t, nil, nil)
	l4, _ := laptop.self()
	h4, _ := home.self()
	dnsAddr := laptop.px.Status().Self.DNS
	ask := func(name string, qtype uint16) *mdns.Msg {
		q := new(mdns.Msg)
		q.SetQuestion(name, qtype)
		qb, _ := q.Pack()
		pkt, err := packet.Build(packet.Header{Src: netip.AddrPortFrom(l4, 40000), Dst: netip.AddrPortFrom(dnsAddr, 53), Proto: packet.ProtoUDP}, qb)
		if err != nil {
			t.Fatal(err)
		}
		laptop.tun.toProxy <- pkt
		resp := laptop.recv(t)
		pp := decode(t, resp)
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
	laptop.names(t, map[string]*host{"home": home})
	home.names(t, map[string]*host{"laptop": laptop})
	derived := vaddr.Derive(vaddr.DefaultPool4, home.ident.ID())
	o.start(home, nil)
	o.start(laptop, func(c *Config) { c.Reserved = []netip.Addr{derived} })
	l4, _ := laptop.self()
	h4, _ := home.self()
	v4, _, ok := laptop.px.ResolveOverlay("home")
	if !ok || v4 == h4 || !vaddr.DefaultPool4.Contains(v4) {
		t.Fatalf("forced collision: home mapped at %v (its own %v)", v4, h4)
	}
	laptop.tun.toProxy <- echo(t, l4, v4, 1)
	pp := decode(t, home.recv(t))
	if pp.Dst.Addr() != h4 || pp.Src.Addr() != l4 {
		t.Fatalf("home got %v, want %v → %v (rewritten to home's own address)", pp.String(), l4, h4)
	}
	home.tun.toProxy <- echo(t, h4, l4, 2)
	back := decode(t, laptop.recv(t))
	if back.Src.Addr() != v4 {
		t.Fatalf("laptop got %v, want the source rewritten to %v", back.String(), v4)
	}
	if laptop.px.Status().Peers[0].Preserved {
		t.Fatal("status says headers preserved")
	}
}

func TestSpoofedSourceDropped(t *testing.T) {
	_, laptop, home := pair(t, nil, nil)
	l4, _ := laptop.self()
	h4, _ := home.self()
	v4, _, _ := laptop.px.ResolveOverlay("home")
	laptop.tun.toProxy <- echo(t, l4, v4, 1)
	home.recv(t) // session up
	other := netip.MustParseAddr("100.64.0.9")
	home.tun.toProxy <- echo(t, other, l4, 2) // home claims another host's address
	home.tun.toProxy <- echo(t, h4, l4, 3)
	pp := decode(t, laptop.recv(t))
	if pp.Src.Addr() != h4 {
		t.Fatalf("laptop got %v", pp.String())
	}
	if n := laptop.px.Status().Counters["drop_spoofed"]; n != 1 {
		t.Fatalf("drop_spoofed = %d, want 1", n)
	}
}

func TestRestartKeepsAddressesAndReconnects(t *testing.T) {
	o, laptop, home := pair(t, nil, nil)
	l4, _ := laptop.self()
	h4, _ := home.self()
	v4, _, _ := laptop.px.ResolveOverlay("home")
	laptop.tun.toProxy <- echo(t, l4, v4, 1)
	home.recv(t)

	laptop.stop(t)
	o.start(laptop, nil)
	if st := laptop.px.Status(); len(st.Peers) != 1 || st.Peers[0].Addr4 != v4 {
		t.Fatalf("after restart: %+v", st.Peers)
	}
	// home still has its session with the old laptop: its packets make the
	// new laptop send a reset, and laptop's own packets handshake again.
	home.tun.toProxy <- echo(t, h4, l4, 2)
	laptop.tun.toProxy <- echo(t, l4, v4, 3)
	waitFor(t, "packets both ways after the restart", func() bool {
		select {
		case <-home.tun.fromProxy:
			return true
		default:
		}
		laptop.tun.toProxy <- echo(t, l4, v4, 4)
		time.Sleep(20 * time.Millisecond)
		return false
	})
	home.tun.toProxy <- echo(t, h4, l4, 5)
	waitFor(t, "home's packet at the restarted laptop", func() bool {
		for {
			select {
			case p := <-laptop.tun.fromProxy:
				if pp := decode(t, p); pp.Src.Addr() == v4 {
					return true
				}
			default:
				home.tun.toProxy <- echo(t, h4, l4, 6)
				time.Sleep(20 * time.Millisecond)
				return false
			}
		}
	})
}

func TestBlockedPeerRefused(t *testing.T) {
	o := newOverlay(t)
	laptop, home := o.host("laptop"), o.host("home")
	laptop.names(t, map[string]*host{"home": home})
	home.names(t, map[string]*host{"laptop": laptop}, "laptop")
	o.start(home, nil)
	o.start(laptop, func(c *Config) { c.HandshakeTimeout = time.Second })
	l4, _ := laptop.self()
	v4, _, _ := laptop.px.ResolveOverlay("home")
	laptop.tun.toProxy <- echo(t, l4, v4, 1)
	waitFor(t, "laptop to give up", func() bool { return laptop.px.Status().Counters["handshakes_failed"] > 0 })
	if home.px.Status().Counters["peers_refused"] == 0 {
		t.Fatal("home did not count the refusal")
	}
	select {
	case p := <-home.tun.fromProxy:
		t.Fatalf("a blocked peer's packet reached home: %x", p)
	default:
	}
	if len(laptop.px.Status().Peers) != 0 {
		t.Fatal("the failed peer's mapping was not expired")
	}
}

func TestUnknownNames(t *testing.T) {
	_, laptop, _ := pair(t, nil, nil)
	if _, _, ok := laptop.px.ResolveOverlay("nosuch"); ok {
		t.Fatal("unknown name resolved")
	}
}

// BenchmarkOutboundPacket is the proxy's per-packet cost on the send side:
// parse, look up the peer, seal (1400-byte packet); no syscall.
func BenchmarkOutboundPacket(b *testing.B) {
	_, laptop, home := pair(b, nil, nil)
	home.tun.keep = false
	l4, _ := laptop.self()
	v4, _, _ := laptop.px.ResolveOverlay("home")
	laptop.tun.toProxy <- echo(b, l4, v4, 1)
	waitFor(b, "session", func() bool { return home.tun.written.Load() > 0 })
	pkt, _ := packet.Build(packet.Header{Src: netip.AddrPortFrom(l4, 1000), Dst: netip.AddrPortFrom(v4, 2000), Proto: packet.ProtoUDP}, make([]byte, 1400-28))
	buf := make([]byte, len(pkt))
	frame := make([]byte, 0, 2048)
	var pp packet.Parsed
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		copy(buf, pkt)
		if _, _, _, ok := laptop.px.outboundPacket(buf, &pp, frame[:0], 1); !ok {
			b.Fatal("not sent")
		}
	}
}

// BenchmarkInboundPacket is the per-packet cost on the receive side: open,
// check, queue for the tun write (batched, to an in-memory device).
func BenchmarkInboundPacket(b *testing.B) {
	_, laptop, home := pair(b, nil, nil)
	home.tun.keep = false
	l4, _ := laptop.self()
	h4, _ := home.self()
	v4, _, _ := laptop.px.ResolveOverlay("home")
	laptop.tun.toProxy <- echo(b, l4, v4, 1)
	waitFor(b, "session", func() bool { return home.tun.written.Load() > 0 })
	pkt, _ := packet.Build(packet.Header{Src: netip.AddrPortFrom(h4, 2000), Dst: netip.AddrPortFrom(l4, 1000), Proto: packet.ProtoUDP}, make([]byte, 1400-28))
	p := home.px.peerByKey(laptop.ident.Public())
	s := p.sess.Load()
	r, _ := p.remote()
	laptop.tun.keep = false
	const chunk = 4096
	frames := make([][]byte, chunk)
	for i := range frames {
		frames[i] = make([]byte, 0, 2048)
	}
	var pp packet.Parsed
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for i := 0; b.Loop(); i++ {
		if i%chunk == 0 {
			b.StopTimer()
			for j := range frames {
				frames[j], _ = s.Seal(frames[j][:0], pkt)
			}
			b.StartTimer()
		}
		_ = pp
		laptop.px.inbound(deliveryTo(r, frames[i%chunk]))
		if i%32 == 31 {
			laptop.px.flushInbound()
		}
	}
}

func deliveryTo(x id.ID, payload []byte) client.Delivery {
	return client.Delivery{ID: x, Payload: payload}
}
