package e2e

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/proxy/dns"
	"github.com/i3net/i3net/proxy/dns/dnstest"
	"github.com/i3net/i3net/proxy/vaddr"
)

// Home's proxy in TestProxyDNSTransports forwards to two upstreams in web,
// in this order: one that never answers, then a small server (UDP and TCP)
// that answers N.big.example with N A records, never answers names under
// silent.example, and answers every other A query with upstreamB.
const (
	silentDNSPort = 5353
	bigDNSPort    = 5354
)

var upstreamB = netip.MustParseAddr("198.18.99.98")

// TestProxyDNSTransports runs dig against the proxies' DNS. Over TCP on
// laptop (bug 4: `dig +tcp home.i3` timed out): overlay names and a name
// forwarded to web's upstream, several queries on one connection. On home,
// whose first upstream never answers: a forwarded name is answered by the
// second upstream within the budget; a name no upstream answers gets
// SERVFAIL before the stub resolver's time-out (bug 5: no answer at all);
// a large answer comes with TC over UDP, and dig gets it whole over TCP.
func TestProxyDNSTransports(t *testing.T) {
	t.Parallel()
	needProgram(t, "dig")
	w := newWorld(t, topoOptions{homeProxyArgsFn: func(w *world) []string {
		return []string{"--upstream", silentUpstream(t, w.web).String(), "--upstream", startBigUpstream(t, w.web).String()}
	}})
	t.Run("tcp", func(t *testing.T) { t.Parallel(); testDNSOverTCP(t, w) })
	t.Run("failover", func(t *testing.T) { t.Parallel(); testDNSFailover(t, w) })
	t.Run("unreachable-upstream", func(t *testing.T) { t.Parallel(); testDNSUnreachableUpstream(t, w) })
	t.Run("truncated", func(t *testing.T) { t.Parallel(); testDNSTruncated(t, w) })
}

// silentUpstream is a UDP socket in h that reads DNS queries and never
// answers, until the test ends.
func silentUpstream(t *testing.T, h *netlab.Host) netip.AddrPort {
	t.Helper()
	at := netip.AddrPortFrom(h.Addr4(), silentDNSPort)
	pc, err := h.ListenPacket("udp4", at)
	if err != nil {
		t.Fatalf("silent upstream in %s: %v", h.Name(), err)
	}
	dnstest.Silent(t, pc)
	return at
}

// startBigUpstream serves the second upstream (see bigDNSPort) in h, UDP and
// TCP, until the test ends.
func startBigUpstream(t *testing.T, h *netlab.Host) netip.AddrPort {
	t.Helper()
	at := netip.AddrPortFrom(h.Addr4(), bigDNSPort)
	pc, err := h.ListenPacket("udp4", at)
	if err != nil {
		t.Fatalf("upstream in %s: %v", h.Name(), err)
	}
	ln, err := h.Listen("tcp4", at)
	if err != nil {
		t.Fatalf("upstream in %s: %v", h.Name(), err)
	}
	dnstest.Serve(t, mdns.HandlerFunc(serveBig), pc, ln)
	return at
}

func serveBig(w mdns.ResponseWriter, r *mdns.Msg) {
	if len(r.Question) != 1 || strings.HasSuffix(strings.ToLower(r.Question[0].Name), ".silent.example.") {
		return // no answer at all
	}
	name := r.Question[0].Name
	m := new(mdns.Msg)
	m.SetReply(r)
	n := 0
	if _, err := fmt.Sscanf(strings.ToLower(name), "%d.big.example.", &n); err != nil {
		n = 1
	}
	for i := range n {
		a := upstreamB.As4()
		a[3] += byte(i) // the first is upstreamB
		m.Answer = append(m.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60}, A: net.IP(a[:])})
	}
	if !dnstest.IsTCP(w) {
		size := mdns.MinMsgSize
		if o := r.IsEdns0(); o != nil && int(o.UDPSize()) > size {
			size = int(o.UDPSize())
		}
		m.Truncate(size)
	}
	w.WriteMsg(m)
}

// testDNSOverTCP: dig +tcp on laptop, on both service addresses; one dig
// with +keepopen sends three queries over one TCP connection.
func testDNSOverTCP(t *testing.T, w *world) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	at4 := "@" + w.laptop.self.DNS.String()
	at6 := "@" + vaddr.ServiceAddr(vaddr.DefaultPool6).String()
	tests := []struct {
		args []string
		want []string // "TYPE RDATA" of each answer, in order
	}{
		{[]string{at4, "home.i3", "A"}, []string{"A " + w.home.self.Addr4.String()}},
		{[]string{at6, "home.i3", "AAAA"}, []string{"AAAA " + w.home.self.Addr6.String()}},
		{[]string{at4, upstreamName, "A"}, []string{"A " + upstreamA.String()}},
		{[]string{at4, "+keepopen", "home.i3", "A", "home.i3", "AAAA", upstreamName, "A"},
			[]string{"A " + w.home.self.Addr4.String(), "AAAA " + w.home.self.Addr6.String(), "A " + upstreamA.String()}},
	}
	for _, tt := range tests {
		args := append([]string{"+tcp"}, tt.args...)
		ans, out := dig(t, ctx, w, args...)
		var got []string
		for _, a := range ans {
			got = append(got, a.typ+" "+a.rdata)
		}
		if strings.Join(got, ", ") != strings.Join(tt.want, ", ") {
			t.Errorf("dig %s: got %v, want %v:\n%s", strings.Join(args, " "), got, tt.want, out)
			continue
		}
		t.Logf("dig %s: %v", strings.Join(args, " "), got)
	}
}

// digHome runs dig on home against its proxy, one try of 8 s (longer than
// any answer may take), and returns the output and how long it took.
func digHome(t *testing.T, ctx context.Context, w *world, args ...string) (string, time.Duration) {
	t.Helper()
	args = append([]string{"+tries=1", "+time=8", "@" + w.home.self.DNS.String()}, args...)
	start := time.Now()
	out, err := run(t, ctx, w.home.Host, "dig", args...)
	if err != nil {
		t.Errorf("dig %s: %v", strings.Join(args, " "), err)
	}
	return string(out), time.Since(start)
}

// testDNSFailover: home's first upstream never answers; the second, asked
// after its share of the 2 s budget, answers, over UDP and over TCP.
func testDNSFailover(t *testing.T, w *world) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, transport := range []string{"+notcp", "+tcp"} {
		out, took := digHome(t, ctx, w, transport, "www.example.net", "A")
		if digStatus(out) != "NOERROR" || !strings.Contains(out, upstreamB.String()) {
			t.Errorf("dig %s www.example.net: want A %v from the second upstream:\n%s", transport, upstreamB, out)
			continue
		}
		t.Logf("dig %s www.example.net: answered by the second upstream in %v", transport, took.Round(time.Millisecond))
	}
}

// stubResolverTimeout is glibc's stub resolver's time-out (resolv.conf's
// "timeout", 5 s by default): an answer later than that is no answer.
const stubResolverTimeout = 5 * time.Second

// testDNSUnreachableUpstream: a name no upstream answers gets SERVFAIL
// after the proxy's upstream budget (2 s), well before the stub resolver's
// 5 s, as dig measures it (its query time, without its start-up).
func testDNSUnreachableUpstream(t *testing.T, w *world) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, transport := range []string{"+notcp", "+tcp"} {
		out, _ := digHome(t, ctx, w, transport, "www.silent.example", "A")
		if s := digStatus(out); s != "SERVFAIL" {
			t.Errorf("dig %s www.silent.example: status %q, want SERVFAIL:\n%s", transport, s, out)
			continue
		}
		took, ok := digQueryTime(out)
		if !ok {
			t.Errorf("dig %s www.silent.example: no query time in its output:\n%s", transport, out)
			continue
		}
		if took > stubResolverTimeout-time.Second {
			t.Errorf("dig %s: SERVFAIL after %v (dig's query time), want it within about the proxy's upstream budget (%v), well before the stub resolver's %v",
				transport, took, dns.DefaultForwardBudget, stubResolverTimeout)
		}
		t.Logf("dig %s www.silent.example, no upstream answers: SERVFAIL in %v (dig's query time)", transport, took)
	}
}

// testDNSTruncated: 100 records do not fit 512 bytes: over UDP without EDNS0
// the answer has TC set (+ignore shows it), and dig, left to itself, asks
// again over TCP and gets all 100.
func testDNSTruncated(t *testing.T, w *world) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, _ := digHome(t, ctx, w, "+noedns", "+ignore", "100.big.example", "A")
	if !strings.Contains(out, " tc") || strings.Count(out, upstreamB.String()[:10]) >= 100 {
		t.Errorf("dig +noedns +ignore 100.big.example: want the TC flag and fewer than 100 records:\n%s", out)
	}
	out, _ = digHome(t, ctx, w, "+noedns", "100.big.example", "A")
	if !strings.Contains(out, "Truncated, retrying in TCP mode") || !strings.Contains(out, "ANSWER: 100,") {
		t.Errorf("dig +noedns 100.big.example: want a retry over TCP and 100 records:\n%s", out)
	} else {
		t.Log("dig +noedns 100.big.example: TC over UDP, then 100 records over TCP")
	}
}
