package zone

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/i3net/i3net/internal/testwait"
)

// unboundConf makes unbound a loopback resolver that sends every query for the
// zone to one server (a stub zone, as close to a delegation as one port
// allows: glue would say port 53), checking 0x20 (use-caps-for-id).
const unboundConf = `server:
	interface: %[1]s
	port: %[2]d
	access-control: 127.0.0.0/8 allow
	do-daemonize: no
	username: ""
	chroot: ""
	directory: %[3]q
	pidfile: ""
	use-syslog: no
	logfile: ""
	verbosity: 1
	num-threads: 1
	outgoing-range: 32
	do-ip6: no
	do-not-query-localhost: no
	module-config: "iterator"
	use-caps-for-id: yes
	qname-minimisation: yes
	harden-below-nxdomain: yes
stub-zone:
	name: "i3.example.net"
	stub-addr: %[4]s
`

// startUnbound runs unbound on 127.0.0.5 for the zone served at zoneAddr and
// returns its address; it is killed (by PID) at cleanup.
func startUnbound(t *testing.T, zoneAddr netip.AddrPort) string {
	t.Helper()
	bin, err := exec.LookPath("unbound")
	if err != nil {
		t.Skip("unbound is not installed")
	}
	probe, err := net.ListenPacket("udp", "127.0.0.5:0")
	if err != nil {
		t.Fatal(err)
	}
	port := probe.LocalAddr().(*net.UDPAddr).Port
	probe.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "unbound.conf")
	stub := fmt.Sprintf("%s@%d", zoneAddr.Addr(), zoneAddr.Port())
	if err := os.WriteFile(conf, fmt.Appendf(nil, unboundConf, "127.0.0.5", port, dir, stub), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-d", "-c", conf)
	log, _ := os.Create(filepath.Join(dir, "unbound.log"))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); log.Close() })
	addr := fmt.Sprintf("127.0.0.5:%d", port)
	c := &dns.Client{Timeout: time.Second}
	if !testwait.Poll(testwait.Timeout, func() bool { _, _, err := c.Exchange(query(origin, dns.TypeSOA, false), addr); return err == nil }) {
		out, _ := os.ReadFile(log.Name())
		t.Fatalf("unbound did not answer at %s:\n%s", addr, out)
	}
	return addr
}

// resolve asks the resolver, with recursion, over UDP.
func resolve(t *testing.T, resolver, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := query(name, qtype, true)
	m.RecursionDesired = true
	return exchange(t, "udp", resolver, m)
}

func TestUnboundAcceptsTheZone(t *testing.T) {
	z := manyNameserversWith(t, existenceBook{newBook()})
	s, err := z.Listen([]netip.AddrPort{loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resolver := startUnbound(t, s.Addrs()[0])

	resp := resolve(t, resolver, "HoMe.i3.example.net.", dns.TypeA)
	if a, ok := onlyRR(resp.Answer).(*dns.A); !ok || resp.Rcode != dns.RcodeSuccess || a.A.String() != "198.51.100.10" || a.Hdr.Ttl != 0 {
		t.Fatalf("home A through unbound: %v", resp)
	}
	for _, c := range []struct {
		name    string
		rcode   int
		answers int
	}{
		{"nope.i3.example.net.", dns.RcodeNameError, 0},
		{"www.home.i3.example.net.", dns.RcodeSuccess, 0}, // no AAAA: NODATA
		{"home.i3.example.net.", dns.RcodeSuccess, 1},
	} {
		resp := resolve(t, resolver, c.name, dns.TypeAAAA)
		if resp.Rcode != c.rcode || len(resp.Answer) != c.answers {
			t.Errorf("%s AAAA through unbound: %v", c.name, resp)
		}
	}
	// 40 nameservers with glue do not fit 1232 bytes: TC, then TCP.
	resp = resolve(t, resolver, origin, dns.TypeNS)
	if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 40 {
		t.Fatalf("NS through unbound: rcode %s, %d records", dns.RcodeToString[resp.Rcode], len(resp.Answer))
	}
	if s := z.Stats(); s.Malformed != 0 || s.Refused != 0 {
		t.Fatalf("unbound sent queries the zone did not take: %+v", s)
	}
}
