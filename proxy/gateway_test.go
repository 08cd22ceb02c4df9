package proxy_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/packet"
	"github.com/i3net/i3net/proxy/proxytest"
	"github.com/i3net/i3net/proxy/rules"
)

// intranet is what the fake gateway resolver knows.
var intranet = map[string]netip.Addr{
	"wiki.corp.example.": netip.MustParseAddr("10.1.0.10"),
	"git.corp.example.":  netip.MustParseAddr("10.1.0.11"),
	// outside the served range: the real resolver of a gateway
	// (gateway/names) refuses it; this fake passes it, so that the
	// gateway's data path is seen to refuse it too
	"outside.corp.example.": netip.MustParseAddr("192.0.2.1"),
}

// fakeAnswer stands for gateway/names: the intranet's names, NXDOMAIN for
// the rest.
func fakeAnswer(_ context.Context, query []byte) []byte {
	var q mdns.Msg
	if q.Unpack(query) != nil || len(q.Question) != 1 {
		return nil
	}
	m := new(mdns.Msg)
	m.SetReply(&q)
	a, ok := intranet[strings.ToLower(q.Question[0].Name)]
	if !ok {
		m.Rcode = mdns.RcodeNameError
	} else if q.Question[0].Qtype == mdns.TypeA {
		m.Answer = append(m.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: q.Question[0].Name, Rrtype: mdns.TypeA,
			Class: mdns.ClassINET, Ttl: 60}, A: a.AsSlice()})
	}
	b, _ := m.Pack()
	return b
}

var servedNet = netip.MustParsePrefix("10.1.0.0/24")

// gatewayPair starts a gateway (fake resolver, serving servedNet) and a
// laptop whose rules send *.corp.example to it; allowed says whether the
// gateway's book (its allowlist) names the laptop.
func gatewayPair(t *testing.T, allowed bool) (laptop, gw *host) {
	o := newOverlay(t)
	laptop, gw = o.host("laptop"), o.host("gw")
	names(t, laptop, map[string]*host{"office-gw": gw})
	if allowed {
		names(t, gw, map[string]*host{"laptop": laptop})
	} else {
		names(t, gw, map[string]*host{})
	}
	o.start(gw, func(c *proxy.Config) {
		c.AcceptUnknown = false
		c.Gateway = &proxy.GatewayMode{Serve: []netip.Prefix{servedNet}, Answer: fakeAnswer}
	})
	rs, err := rules.Compile([]rules.RuleConfig{{Match: "*.corp.example", Via: "office-gw"}})
	if err != nil {
		t.Fatal(err)
	}
	o.start(laptop, func(c *proxy.Config) { c.Rules = rs })
	return laptop, gw
}

// resolveA asks h for name's A record and returns the address, or the rcode.
func resolveA(t *testing.T, h *host, name string) (netip.Addr, int) {
	t.Helper()
	m, _ := askUDP(t, h, question(11, name, mdns.TypeA))
	for _, rr := range m.Answer {
		if a, ok := rr.(*mdns.A); ok {
			addr, _ := netip.AddrFromSlice(a.A)
			return addr, m.Rcode
		}
	}
	return netip.Addr{}, m.Rcode
}

// A name behind the gateway resolves to a virtual address of the laptop's
// pool; packets to it reach the gateway's tun with the real destination and
// the laptop's own address as source, and the reply comes back from the
// virtual address.
func TestGatewayCarriesNamedHost(t *testing.T) {
	laptop, gw := gatewayPair(t, true)
	v, rcode := resolveA(t, laptop, "wiki.corp.example.")
	pool := laptop.PX.Status().Self.Addr4
	if rcode != mdns.RcodeSuccess || !v.IsValid() || v == intranet["wiki.corp.example."] ||
		!netip.MustParsePrefix("100.64.0.0/10").Contains(v) || v == pool {
		t.Fatalf("wiki.corp.example: %v rcode %d; want a virtual address of the laptop's pool", v, rcode)
	}
	l4, _ := laptop.Self()
	laptop.Tun.Send(echo(t, l4, v, 1))
	got := proxytest.Decode(t, gw.Tun.Next(t))
	if got.Dst.Addr() != intranet["wiki.corp.example."] || got.Src.Addr() != l4 {
		t.Fatalf("the gateway's tun got %v, want %v → %v", got.String(), l4, intranet["wiki.corp.example."])
	}
	gw.Tun.Send(echo(t, intranet["wiki.corp.example."], l4, 2))
	back := proxytest.Decode(t, laptop.Tun.Next(t))
	if back.Src.Addr() != v || back.Dst.Addr() != l4 {
		t.Fatalf("the laptop got %v, want %v → %v", back.String(), v, l4)
	}
	// The virtual address names the host (ping, ssh and servers' logs look
	// their peer up): its real name, not under the overlay's suffix.
	rev, _ := mdns.ReverseAddr(v.String())
	m, _ := askUDP(t, laptop, question(12, rev, mdns.TypePTR))
	if len(m.Answer) != 1 || m.Answer[0].(*mdns.PTR).Ptr != "wiki.corp.example." {
		t.Fatalf("PTR of %v: rcode %d, %v; want wiki.corp.example.", v, m.Rcode, m.Answer)
	}
	st := laptop.PX.Status()
	if len(st.Rules) != 1 || st.Rules[0].State != "active" || st.Rules[0].Flows != 1 {
		t.Fatalf("rules in status: %+v", st.Rules)
	}
}

// A name the gateway's resolver does not know is NXDOMAIN to the program; a
// packet to an address the gateway does not serve never reaches its tun.
func TestGatewayNXDomainAndNotServed(t *testing.T) {
	laptop, gw := gatewayPair(t, true)
	if _, rcode := resolveA(t, laptop, "nope.corp.example."); rcode != mdns.RcodeNameError {
		t.Fatalf("nope.corp.example: rcode %d, want NXDOMAIN", rcode)
	}
	v, _ := resolveA(t, laptop, "outside.corp.example.")
	l4, _ := laptop.Self()
	laptop.Tun.Send(echo(t, l4, v, 1))
	testwait.For(t, "the gateway counts the packet to an address it does not serve", func() bool {
		return gw.Counter("drop_not_served") > 0
	})
	if p, ok := gw.Tun.TryNext(); ok {
		pp := proxytest.Decode(t, p)
		t.Fatalf("the gateway's tun got %v", pp.String())
	}
}

// A laptop the gateway's allowlist does not name is refused at once: the
// program gets REFUSED (not a time-out) and the status says why.
func TestGatewayRefusesUnlisted(t *testing.T) {
	laptop, gw := gatewayPair(t, false)
	start := time.Now()
	if _, rcode := resolveA(t, laptop, "wiki.corp.example."); rcode != mdns.RcodeRefused {
		t.Fatalf("rcode %d, want REFUSED", rcode)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Logf("refusal took %v", d)
	}
	st := laptop.PX.Status()
	if len(st.Rules) != 1 || st.Rules[0].State != "refused" || !strings.Contains(st.Rules[0].Error, "allowlist") {
		t.Fatalf("rules in status: %+v", st.Rules)
	}
	if gw.Counter("peers_refused") == 0 {
		t.Fatal("the gateway did not count the refusal")
	}
	if p, ok := gw.Tun.TryNext(); ok {
		pp := proxytest.Decode(t, p)
		t.Fatalf("the gateway's tun got %v from a refused laptop", pp.String())
	}
}

// Two gateways sharing one identity (an anycast group, members "a" and "b"):
// when the one carrying the laptop's packets stops, the laptop's probe goes
// unanswered, it handshakes again, and the other member carries them.
func TestGatewayAnycastFailover(t *testing.T) {
	o := newOverlay(t)
	laptop, gwA, gwB := o.host("laptop"), o.host("gw-a"), o.host("gw-b")
	gwB.Ident = gwA.Ident
	names(t, laptop, map[string]*host{"office-gw": gwA})
	for _, g := range []*host{gwA, gwB} {
		names(t, g, map[string]*host{"laptop": laptop})
		member := g.Name
		o.start(g, func(c *proxy.Config) {
			c.AcceptUnknown = false
			c.Gateway = &proxy.GatewayMode{Serve: []netip.Prefix{servedNet}, Answer: fakeAnswer, Anycast: member}
		})
	}
	rs, _ := rules.Compile([]rules.RuleConfig{{Match: "*.corp.example", Via: "office-gw"}})
	o.start(laptop, func(c *proxy.Config) { c.Rules = rs })

	v, _ := resolveA(t, laptop, "wiki.corp.example.")
	l4, _ := laptop.Self()
	laptop.Tun.Send(echo(t, l4, v, 1))
	var used, other *host
	testwait.For(t, "one gateway gets the laptop's packet", func() bool {
		if _, ok := gwA.Tun.TryNext(); ok {
			used, other = gwA, gwB
		} else if _, ok := gwB.Tun.TryNext(); ok {
			used, other = gwB, gwA
		}
		return used != nil
	})
	used.Stop(t)
	seq := uint16(2)
	testwait.For(t, "the other member of the anycast group carries the laptop's packets", func() bool {
		laptop.Tun.Send(echo(t, l4, v, seq))
		seq++
		_, ok := other.Tun.TryNext()
		return ok
	})
	if laptop.Counter("gateway_failovers") == 0 {
		t.Fatal("the laptop counted no failover")
	}
}

// A packet larger than the tunnel carries (the tun MTU) is answered with
// ICMPv6 "packet too big" naming the MTU, so the program's path-MTU
// discovery shrinks its packets, rather than dropped in silence.
func TestTooBigAnsweredWithICMP(t *testing.T) {
	_, laptop, home := pair(t, nil, nil)
	_, l6 := laptop.Self()
	_, v6, _ := laptop.PX.ResolveOverlay("home")
	big, err := packet.Build(packet.Header{Src: netip.AddrPortFrom(l6, 1000), Dst: netip.AddrPortFrom(v6, 2000), Proto: packet.ProtoUDP}, make([]byte, 1400))
	if err != nil {
		t.Fatal(err)
	}
	laptop.Tun.Send(big)
	got := proxytest.Decode(t, laptop.Tun.Next(t))
	if got.IPProto != packet.ProtoICMPv6 || got.Src.Addr() != v6 || got.Dst.Addr() != l6 {
		t.Fatalf("laptop got %v, want ICMPv6 from %v to %v", got.String(), v6, l6)
	}
	if laptop.Counter("icmp_too_big") != 1 {
		t.Fatalf("icmp_too_big %d", laptop.Counter("icmp_too_big"))
	}
	if p, ok := home.Tun.TryNext(); ok {
		t.Fatalf("home got the oversized packet: %d bytes", len(p))
	}
}

// A host behind a gateway keeps its virtual address across a restart of the
// laptop's proxy (its state file), so a program that holds it goes on
// without a new lookup.
func TestGatewayTargetSurvivesRestart(t *testing.T) {
	o := newOverlay(t)
	laptop, gw := o.host("laptop"), o.host("gw")
	names(t, laptop, map[string]*host{"office-gw": gw})
	names(t, gw, map[string]*host{"laptop": laptop})
	o.start(gw, func(c *proxy.Config) {
		c.AcceptUnknown = false
		c.Gateway = &proxy.GatewayMode{Serve: []netip.Prefix{servedNet}, Answer: fakeAnswer}
	})
	rs, _ := rules.Compile([]rules.RuleConfig{{Match: "*.corp.example", Via: "office-gw"}})
	withRules := func(c *proxy.Config) { c.Rules = rs }
	o.start(laptop, withRules)
	v, _ := resolveA(t, laptop, "wiki.corp.example.")
	laptop.Stop(t)
	o.start(laptop, withRules)
	l4, _ := laptop.Self()
	laptop.Tun.Send(echo(t, l4, v, 1))
	got := proxytest.Decode(t, gw.Tun.Next(t))
	if got.Dst.Addr() != intranet["wiki.corp.example."] {
		t.Fatalf("after the laptop's restart, %v reached the gateway as %v, want %v", v, got.String(), intranet["wiki.corp.example."])
	}
}
