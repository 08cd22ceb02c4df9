package netlab_test

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
)

// TestStartDNS: a DNS server started with StartDNS inside an intranet
// answers its record to a host of the LAN, NXDOMAIN for another name of its
// domain, logs the queries, and stops with the lab.
func TestStartDNS(t *testing.T) {
	needTool(t, "dnsmasq")
	l := netlabtest.New(t)
	gw := l.NATHost("gw", intranetLAN, netlab.NATNone)
	dnsAddr, wiki := netip.MustParseAddr("10.1.0.53"), netip.MustParseAddr("10.1.0.10")
	dnsHost := gw.InsideAt("dns", dnsAddr)
	ctx := testCtx(t, 30*time.Second)
	p, err := dnsHost.StartDNS(ctx, map[string]netip.Addr{"wiki.corp.example": wiki})
	if err != nil {
		t.Fatal(err)
	}
	ask := func(name string) *dns.Msg {
		t.Helper()
		conn, err := gw.Dial(ctx, "udp", netip.AddrPortFrom(dnsAddr, 53))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		c := &dns.Client{Timeout: 5 * time.Second}
		q := new(dns.Msg).SetQuestion(dns.Fqdn(name), dns.TypeA)
		r, _, err := c.ExchangeWithConnContext(ctx, q, &dns.Conn{Conn: conn})
		if err != nil {
			t.Fatalf("asking %v for %s: %v", dnsAddr, name, err)
		}
		return r
	}
	r := ask("wiki.corp.example")
	var got []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			got = append(got, a.A.String())
		}
	}
	if r.Rcode != dns.RcodeSuccess || !slices.Equal(got, []string{wiki.String()}) {
		t.Errorf("wiki.corp.example: %s %v, want NOERROR [%v]", dns.RcodeToString[r.Rcode], got, wiki)
	}
	if r := ask("nope.corp.example"); r.Rcode != dns.RcodeNameError {
		t.Errorf("nope.corp.example: %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
	if out := string(p.Output()); !strings.Contains(out, "wiki.corp.example") {
		t.Errorf("dnsmasq's output does not log the query:\n%s", out)
	}
}
