package zone

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/testwait"

	"github.com/miekg/dns"
)

var loopback = netip.MustParseAddrPort("127.0.0.1:0")

// serve starts z on 127.0.0.1 (a free port) and returns the address.
func serve(t *testing.T, z *Zone) string {
	t.Helper()
	s, err := z.Listen([]netip.AddrPort{loopback})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s.Addrs()[0].String()
}

// exchange sends m over net ("udp" or "tcp") from 127.0.0.1.
func exchange(t *testing.T, network, addr string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 10 * time.Second, UDPSize: 65535}
	resp, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s query %v: %v", network, m.Question, err)
	}
	return resp
}

func TestServeUDPAndTCP(t *testing.T) {
	z := newZone(t, testConfig(existenceBook{newBook()}))
	addr := serve(t, z)
	for _, network := range []string{"udp", "tcp"} {
		resp := exchange(t, network, addr, query("hOmE.i3.Example.net.", dns.TypeA, true))
		a, ok := onlyRR(resp.Answer).(*dns.A)
		if !ok || !resp.Authoritative || a.A.String() != "198.51.100.10" || a.Hdr.Ttl != 0 ||
			resp.Question[0].Name != "hOmE.i3.Example.net." || resp.IsEdns0() == nil {
			t.Errorf("%s: %v", network, resp)
		}
		resp = exchange(t, network, addr, query("nope.i3.example.net.", dns.TypeAAAA, false))
		if resp.Rcode != dns.RcodeNameError || len(resp.Ns) != 1 {
			t.Errorf("%s nope: %v", network, resp)
		}
	}
	if s := z.Stats(); s.Queries != 4 || s.Answered != 2 || s.NXDomain != 2 {
		t.Fatalf("Stats = %+v", s)
	}
}

// manyNameservers is a zone whose NS answer, with glue, needs about 2 KB.
func manyNameservers(t *testing.T) *Zone { return manyNameserversWith(t, nil) }

func manyNameserversWith(t *testing.T, names Names) *Zone {
	cfg := testConfig(names)
	cfg.Nameservers = nil
	for i := range 40 {
		cfg.Nameservers = append(cfg.Nameservers, NS{
			Name:  fmt.Sprintf("ns%d.i3.example.net", i),
			Addrs: []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 1, byte(i)}), netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", i))},
		})
	}
	return newZone(t, cfg)
}

func TestServeTruncates(t *testing.T) {
	addr := serve(t, manyNameservers(t))
	cases := []struct {
		network string
		edns    uint16
		max     int
		tc      bool
	}{
		{"udp", 0, 512, true},
		{"udp", 1232, 1232, true},
		{"udp", 4096, 1232, true}, // capped at the zone's 1232
		{"tcp", 0, 65535, false},
	}
	for _, c := range cases {
		m := query(origin, dns.TypeNS, false)
		if c.edns != 0 {
			m.SetEdns0(c.edns, false)
		}
		resp := exchange(t, c.network, addr, m)
		resp.Compress = true // as sent: Truncate compresses
		packed, _ := resp.Pack()
		if len(packed) > c.max || resp.Truncated != c.tc {
			t.Errorf("%s EDNS %d: %d bytes, TC %v; want at most %d, TC %v", c.network, c.edns, len(packed), resp.Truncated, c.max, c.tc)
		}
		if !c.tc && (len(resp.Answer) != 40 || len(resp.Extra) != 80) {
			t.Errorf("TCP: %d NS, %d glue; want all 40 and 80", len(resp.Answer), len(resp.Extra))
		}
		if c.edns != 0 && resp.IsEdns0() == nil {
			t.Errorf("%s EDNS %d: OPT lost in truncation", c.network, c.edns)
		}
	}
}

func TestServeDropsRefusedSources(t *testing.T) {
	cfg := testConfig(newBook())
	cfg.Allow = func(src netip.Addr) bool { return src != netip.MustParseAddr("127.0.0.2") }
	z := newZone(t, cfg)
	addr := serve(t, z)

	blocked, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)}, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Fatal(err)
	}
	defer blocked.Close()
	packed, _ := query("home.i3.example.net.", dns.TypeA, false).Pack()
	if _, err := blocked.Write(packed); err != nil {
		t.Fatal(err)
	}
	// The server reads datagrams in order: once the marker is answered, the
	// blocked query has been read and dropped.
	exchange(t, "udp", addr, query("home.i3.example.net.", dns.TypeA, false))
	if s := z.Stats(); s.RateLimited != 1 || s.Answered != 1 || s.Queries != 2 {
		t.Fatalf("Stats = %+v, want 1 rate limited and 1 answered", s)
	}
	blocked.SetReadDeadline(time.Now())
	if n, err := blocked.Read(make([]byte, 512)); err == nil {
		t.Fatalf("the blocked source got %d bytes", n)
	}

	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 10 * time.Second}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &dns.Conn{Conn: conn}
	if err := c.WriteMsg(query("home.i3.example.net.", dns.TypeA, false)); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if resp, err := c.ReadMsg(); err == nil {
		t.Fatalf("the blocked source got an answer over TCP: %v", resp)
	}
	if s := z.Stats(); s.RateLimited != 2 {
		t.Fatalf("Stats = %+v, want 2 rate limited", s)
	}
}

func TestServeMalformed(t *testing.T) {
	z := newZone(t, testConfig(newBook()))
	addr := serve(t, z)
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	reply, _ := func() ([]byte, error) {
		m := query("home.i3.example.net.", dns.TypeA, false)
		m.Response = true
		return m.Pack()
	}()
	header := []byte{0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	for _, b := range [][]byte{{1, 2, 3}, append(header, 0xff, 0xff), reply} {
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	exchange(t, "udp", addr, query("home.i3.example.net.", dns.TypeA, false))
	// The malformed ones went on another socket: the server may read them
	// after the good query's answer.
	testwait.For(t, "3 malformed queries counted", func() bool { return z.Stats().Malformed >= 3 })
	if s := z.Stats(); s.Malformed != 3 || s.Answered != 1 || s.Queries != 4 {
		t.Fatalf("Stats = %+v, want 3 malformed, 1 answered of 4", s)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 512)
	n, err := conn.Read(buf) // the FORMERR to the readable header, nothing else
	resp := new(dns.Msg)
	if err != nil || resp.Unpack(buf[:n]) != nil || resp.Id != 0xabcd || resp.Rcode != dns.RcodeFormatError {
		t.Fatalf("answer to a bad question: %v %v", resp, err)
	}
}

func TestListenErrors(t *testing.T) {
	z := newZone(t, testConfig(nil))
	_, err := z.Listen([]netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:0")})
	if err == nil || !strings.Contains(err.Error(), "192.0.2.1:0: address not available: is it an address of this host?") {
		t.Errorf("Listen on a foreign address: %v", err)
	}
	taken, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.LocalAddr().(*net.UDPAddr).AddrPort()
	_, err = z.Listen([]netip.AddrPort{loopback, port})
	if err == nil || !strings.Contains(err.Error(), "address in use") {
		t.Errorf("Listen on a taken port: %v", err)
	}
	if _, err := z.Listen(nil); err == nil {
		t.Error("Listen(nil) succeeded")
	}
	if _, err := z.Listen([]netip.AddrPort{{}}); err == nil || !strings.Contains(err.Error(), "ADDR:PORT") {
		t.Errorf("Listen(zero address): %v", err)
	}
}

func TestCloseStops(t *testing.T) {
	z := newZone(t, testConfig(newBook()))
	s, err := z.Listen([]netip.AddrPort{loopback, netip.MustParseAddrPort("127.0.0.3:0")})
	if err != nil {
		t.Fatal(err)
	}
	addrs := s.Addrs()
	for _, a := range addrs {
		exchange(t, "tcp", a.String(), query("home.i3.example.net.", dns.TypeA, false))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, a := range addrs {
		if c, err := net.Dial("tcp", a.String()); err == nil {
			c.Close()
			t.Errorf("%v still accepts after Close", a)
		}
		if pc, err := net.ListenPacket("udp", a.String()); err != nil {
			t.Errorf("%v: UDP port not released: %v", a, err)
		} else {
			pc.Close()
		}
	}
}

func TestServeIPv6(t *testing.T) {
	z := newZone(t, testConfig(newBook()))
	s, err := z.Listen([]netip.AddrPort{netip.MustParseAddrPort("[::1]:0")})
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	defer s.Close()
	resp := exchange(t, "udp", s.Addrs()[0].String(), query("home.i3.example.net.", dns.TypeAAAA, false))
	if aaaa, ok := onlyRR(resp.Answer).(*dns.AAAA); !ok || aaaa.AAAA.String() != "2001:db8::10" {
		t.Fatalf("AAAA over IPv6: %v", resp)
	}
}

func TestServeConcurrent(t *testing.T) {
	z := newZone(t, testConfig(existenceBook{newBook()}))
	addr := serve(t, z)
	const workers, each = 8, 25
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			c := &dns.Client{Net: []string{"udp", "tcp"}[w%2], Timeout: 10 * time.Second}
			for range each {
				resp, _, err := c.Exchange(query("home.i3.example.net.", dns.TypeA, w%3 == 0), addr)
				if err == nil && len(resp.Answer) != 1 {
					err = fmt.Errorf("answer %v", resp.Answer)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if s := z.Stats(); s.Queries != workers*each || s.Answered != workers*each {
		t.Fatalf("Stats = %+v, want %d answered", s, workers*each)
	}
}
