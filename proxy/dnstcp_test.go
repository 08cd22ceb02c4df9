package proxy_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"go.uber.org/goleak"

	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/dns"
	"github.com/i3net/i3net/proxy/dns/dnstest"
	"github.com/i3net/i3net/proxy/packet"
	"github.com/i3net/i3net/proxy/proxytest"
)

// programStack is a userspace TCP/IP stack standing for the programs of h:
// its packets go into h's tun device, and what the proxy writes into the
// device comes back to it.
func programStack(t *testing.T, h *host) *proxy.Netstack {
	t.Helper()
	l4, l6 := h.Self()
	ns, err := proxy.NewNetstack(1360, l4, l6)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		proxy.NetstackRun(ns, ctx, func(pkt []byte) { h.Tun.Send(append([]byte(nil), pkt...)) })
	})
	wg.Go(func() {
		for {
			p, err := h.Tun.NextContext(ctx)
			if err != nil {
				return
			}
			proxy.NetstackInject(ns, p)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait(); proxy.NetstackClose(ns) })
	return ns
}

// askTCP sends the queries over one TCP connection to server, all at once,
// and returns the answers by id.
func askTCP(t *testing.T, ns *proxy.Netstack, server netip.AddrPort, qs ...*mdns.Msg) map[uint16]*mdns.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := proxy.NetstackDial(ns, ctx, server)
	if err != nil {
		t.Fatalf("DNS over TCP to %v: %v", server, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var out []byte
	for _, q := range qs {
		b, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		out, _ = dns.AppendTCPMessage(out, b)
	}
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	got := make(map[uint16]*mdns.Msg)
	for range qs {
		b, err := dns.ReadTCPMessage(c, nil)
		if err != nil {
			t.Fatalf("answer over TCP from %v: %v", server, err)
		}
		m := new(mdns.Msg)
		if err := m.Unpack(b); err != nil {
			t.Fatal(err)
		}
		got[m.Id] = m
	}
	return got
}

func question(id uint16, name string, qtype uint16) *mdns.Msg {
	q := new(mdns.Msg)
	q.SetQuestion(name, qtype)
	q.Id = id
	return q
}

// testUpstream is a DNS server on 127.0.0.1, UDP and TCP on one port: every
// A query gets n records (192.0.2.x), n from "N.example." (1 otherwise).
func testUpstream(t *testing.T) netip.AddrPort {
	t.Helper()
	handler := mdns.HandlerFunc(func(w mdns.ResponseWriter, req *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(req)
		n := 1
		fmt.Sscanf(req.Question[0].Name, "%d.", &n)
		for i := range n {
			rr, _ := mdns.NewRR(fmt.Sprintf("%s 60 IN A 192.0.2.%d", req.Question[0].Name, i%250+1))
			m.Answer = append(m.Answer, rr)
		}
		if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
			m.Truncate(dns.UDPLimit(mustPack(t, req)))
		}
		w.WriteMsg(m)
	})
	return dnstest.Start(t, handler)
}

func mustPack(t *testing.T, m *mdns.Msg) []byte {
	b, err := m.Pack()
	if err != nil {
		t.Error(err)
	}
	return b
}

// TestDNSOverTCP (bug 4: the proxy dropped TCP to its DNS address, and
// `dig +tcp home.i3` timed out): overlay and forwarded names over TCP, on
// the IPv4 and IPv6 service addresses, several pipelined queries on one
// connection, and a forwarded answer too large for UDP arrives whole. Once
// the proxies stop, no goroutine of the stack or its servers is left.
func TestDNSOverTCP(t *testing.T) {
	running := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, running) }) // runs last
	up := testUpstream(t)
	_, laptop, home := pair(t, func(c *proxy.Config) { c.Upstreams = []netip.AddrPort{up} }, nil)
	h4, h6 := home.Self()
	st := laptop.PX.Status()
	ns := programStack(t, laptop)
	_, dns6 := proxy.DNSAddrs(laptop.PX)
	for _, server := range []netip.Addr{st.Self.DNS, dns6} {
		t.Run(server.String(), func(t *testing.T) {
			got := askTCP(t, ns, netip.AddrPortFrom(server, 53),
				question(1, "home.i3.", mdns.TypeA),
				question(2, "home.i3.", mdns.TypeAAAA),
				question(3, "nosuch.i3.", mdns.TypeA),
				question(4, "www.example.org.", mdns.TypeA),
				question(5, "100.example.org.", mdns.TypeA))
			if m := got[1]; m == nil || len(m.Answer) != 1 || m.Answer[0].(*mdns.A).A.String() != h4.String() {
				t.Errorf("home.i3 A over TCP: %v", m)
			}
			if m := got[2]; m == nil || len(m.Answer) != 1 || m.Answer[0].(*mdns.AAAA).AAAA.String() != h6.String() {
				t.Errorf("home.i3 AAAA over TCP: %v", m)
			}
			if m := got[3]; m == nil || m.Rcode != mdns.RcodeNameError {
				t.Errorf("nosuch.i3 over TCP: %v", m)
			}
			if m := got[4]; m == nil || len(m.Answer) != 1 {
				t.Errorf("a forwarded name over TCP: %v", m)
			}
			if m := got[5]; m == nil || m.Truncated || len(m.Answer) != 100 {
				t.Errorf("a large forwarded answer over TCP: %v", m)
			}
		})
	}
}

// askUDP sends one query over UDP through h's tun device to its DNS address
// and returns the answer and its size.
func askUDP(t *testing.T, h *host, q *mdns.Msg) (*mdns.Msg, int) {
	t.Helper()
	l4, _ := h.Self()
	server := netip.AddrPortFrom(h.PX.Status().Self.DNS, 53)
	pkt, err := packet.Build(packet.Header{Src: netip.AddrPortFrom(l4, 40000), Dst: server, Proto: packet.ProtoUDP}, mustPack(t, q))
	if err != nil {
		t.Fatal(err)
	}
	h.Tun.Send(pkt)
	resp := h.Tun.Next(t)
	pp := proxytest.Decode(t, resp)
	m := new(mdns.Msg)
	if err := m.Unpack(pp.Payload(resp)); err != nil || m.Id != q.Id {
		t.Fatalf("answer: %v", err)
	}
	return m, len(pp.Payload(resp))
}

// TestDNSUDPTruncates: a forwarded answer larger than the program accepts
// over UDP (512 bytes without EDNS0, the EDNS0 size with it) comes back with
// TC set and fits; before, the proxy sent it whole (what the upstream gave
// over TCP).
func TestDNSUDPTruncates(t *testing.T) {
	up := testUpstream(t)
	_, laptop, _ := pair(t, func(c *proxy.Config) { c.Upstreams = []netip.AddrPort{up} }, nil)
	m, size := askUDP(t, laptop, question(7, "100.example.org.", mdns.TypeA))
	if !m.Truncated || size > 512 {
		t.Fatalf("a 100-record answer over UDP: TC=%v, %d bytes; want TC within 512", m.Truncated, size)
	}
	q := question(8, "50.example.org.", mdns.TypeA)
	q.SetEdns0(4096, false)
	if m, _ := askUDP(t, laptop, q); m.Truncated || len(m.Answer) != 50 {
		t.Fatalf("a 50-record answer with EDNS0 4096: TC=%v, %d records", m.Truncated, len(m.Answer))
	}
}

// TestDNSUnreachableUpstream (bug 5: with an upstream that never answers the
// proxy never answered, and programs waited for their own time-outs): the
// program gets SERVFAIL within the forwarding budget (2 s by default),
// before the 5 s host.recv waits.
func TestDNSUnreachableUpstream(t *testing.T) {
	_, laptop, _ := pair(t, func(c *proxy.Config) { c.Upstreams = []netip.AddrPort{dnstest.SilentUpstream(t)} }, nil)
	if m, _ := askUDP(t, laptop, question(9, "www.example.org.", mdns.TypeA)); m.Rcode != mdns.RcodeServerFailure {
		t.Fatalf("rcode %d, want SERVFAIL", m.Rcode)
	}
}
