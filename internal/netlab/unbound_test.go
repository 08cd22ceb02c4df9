package netlab_test

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
)

// childZone is a stand-in for the ingress: a miekg/dns authoritative server
// for i3.example.net answering home.i3.example.net with addr (TTL 0), SOA
// and NS at the apex, NXDOMAIN for any other name.
type childZone struct {
	self    netip.Addr
	addr    atomic.Pointer[netip.Addr]
	queries atomic.Int64
}

const childOrigin = "i3.example.net."

func (c *childZone) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	c.queries.Add(1)
	m := new(dns.Msg).SetReply(req)
	m.Authoritative = true
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	soa := &dns.SOA{Hdr: dns.RR_Header{Name: childOrigin, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 5},
		Ns: "ns1." + childOrigin, Mbox: "hostmaster." + childOrigin, Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: 5}
	switch {
	case name == childOrigin && q.Qtype == dns.TypeNS:
		m.Answer = append(m.Answer, &dns.NS{Hdr: dns.RR_Header{Name: childOrigin, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 3600}, Ns: "ns1." + childOrigin})
	case name == childOrigin && q.Qtype == dns.TypeSOA:
		m.Answer = append(m.Answer, soa)
	case name == "ns1."+childOrigin && q.Qtype == dns.TypeA:
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 3600}, A: c.self.AsSlice()})
	case name == "home."+childOrigin && q.Qtype == dns.TypeA:
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 0}, A: c.addr.Load().AsSlice()})
	case name == childOrigin || name == "ns1."+childOrigin || name == "home."+childOrigin:
		m.Ns = append(m.Ns, soa) // NODATA
	default:
		m.Rcode = dns.RcodeNameError
		m.Ns = append(m.Ns, soa)
	}
	w.WriteMsg(m)
}

// serveChild starts c on h's address, port 53 (UDP), until the test ends.
func serveChild(t *testing.T, h *netlab.Host, c *childZone) {
	t.Helper()
	pc, err := h.ListenPacket("udp", netip.AddrPortFrom(h.Addr4(), 53))
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: c}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
}

// TestUnboundDelegation: an unbound serving example.net authoritatively
// (parent) delegates i3.example.net to a stand-in server (child); an
// unbound resolver (resolver) with a stub zone example.net at parent, no
// root and no trust anchor, follows the referral: a client that uses it
// gets home.i3.example.net's address, NXDOMAIN for another name of the
// child, and at once the new address when the child changes it (TTL 0 is
// not cached).
func TestUnboundDelegation(t *testing.T) {
	needTool(t, "/usr/sbin/unbound")
	l := netlabtest.New(t)
	parent, child, resolver, client := l.Host("parent"), l.Host("child"), l.Host("resolver"), l.Host("client")
	ctx := testCtx(t, 60*time.Second)
	cz := &childZone{self: child.Addr4()}
	first, second := netip.MustParseAddr("198.19.0.10"), netip.MustParseAddr("198.19.0.11")
	cz.addr.Store(&first)
	serveChild(t, child, cz)

	zone := netlab.ParentZone("example.net", parent.Addr4(),
		netlab.Delegation{Child: "i3.example.net", NSName: "ns1.i3.example.net", Addrs: []netip.Addr{child.Addr4()}})
	pu, err := parent.StartUnbound(ctx, netlab.UnboundConfig{Dir: t.TempDir(), Auth: []netlab.UnboundAuthZone{{Name: "example.net", Text: zone}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pu.Stop() })
	ru, err := resolver.StartUnbound(ctx, netlab.UnboundConfig{Dir: t.TempDir(), Stubs: []netlab.UnboundStub{{Name: "example.net", Servers: []netip.Addr{parent.Addr4()}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ru.Stop() })

	ask := func(name string) (*dns.Msg, []string) {
		t.Helper()
		r := exchange(t, ctx, client, netip.AddrPortFrom(resolver.Addr4(), 53), name)
		var got []string
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok {
				got = append(got, a.A.String())
			}
		}
		return r, got
	}
	r, got := ask("home.i3.example.net")
	if r.Rcode != dns.RcodeSuccess || !slices.Equal(got, []string{first.String()}) {
		t.Fatalf("home.i3.example.net through the resolver: %s %v, want NOERROR [%v]\nresolver's log:\n%s",
			dns.RcodeToString[r.Rcode], got, first, ru.LogTail(4096))
	}
	if r.Authoritative {
		t.Errorf("the resolver's answer has the AA bit: it answered itself instead of recursing")
	}
	if r, _ := ask("nope.i3.example.net"); r.Rcode != dns.RcodeNameError {
		t.Errorf("nope.i3.example.net: %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
	// The parent itself answers the child's names with a referral, not
	// with an answer.
	if r := exchange(t, ctx, client, netip.AddrPortFrom(parent.Addr4(), 53), "home.i3.example.net"); len(r.Answer) != 0 || len(r.Ns) == 0 {
		t.Errorf("the parent answered home.i3.example.net with %v, want a referral (NS in authority):\n%v", r.Answer, r)
	}
	before := cz.queries.Load()
	cz.addr.Store(&second)
	if _, got := ask("home.i3.example.net"); !slices.Equal(got, []string{second.String()}) {
		t.Errorf("after the child changed the address, the resolver answers %v, want [%v] (TTL 0 must not be cached)", got, second)
	}
	if cz.queries.Load() == before {
		t.Errorf("the resolver answered without asking the child")
	}
	if !strings.Contains(ru.LogTail(1<<20), "home.i3.example.net") {
		t.Errorf("the resolver's log does not show the query:\n%s", ru.LogTail(2048))
	}
}

// exchange asks server, from h, for name's A records over UDP.
func exchange(t *testing.T, ctx context.Context, h *netlab.Host, server netip.AddrPort, name string) *dns.Msg {
	t.Helper()
	conn, err := h.Dial(ctx, "udp", server)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &dns.Client{Timeout: 10 * time.Second}
	q := new(dns.Msg).SetQuestion(dns.Fqdn(name), dns.TypeA)
	r, _, err := c.ExchangeWithConnContext(ctx, q, &dns.Conn{Conn: conn})
	if err != nil {
		t.Fatalf("asking %v for %s: %v", server, name, err)
	}
	return r
}
