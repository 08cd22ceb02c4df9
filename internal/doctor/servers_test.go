package doctor

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/server/servertest"
)

// A real server on loopback answers, takes a trigger and sends packets
// through it; a socket that never answers fails with the remedy.
func TestCheckServers(t *testing.T) {
	srv := servertest.Start(t, nil)
	silent, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	quiet := silent.LocalAddr().(*net.UDPAddr).AddrPort()
	rs := CheckServers(context.Background(), []netip.AddrPort{srv.Addr(), quiet}, ServerOptions{Timeout: 2 * time.Second})
	if len(rs) != 3 {
		t.Fatalf("%d results: %v", len(rs), rs)
	}
	if r := rs[0]; r.Level != OK || r.Check != "server "+srv.Addr().String() || !strings.Contains(r.Detail, "rtt") {
		t.Errorf("live server: %v", r)
	}
	if r := rs[1]; r.Level != Fail || !strings.Contains(r.Detail, "no echo") || !strings.Contains(r.Fix, "i3net server") {
		t.Errorf("silent server: %v", r)
	}
	if r := rs[2]; r.Check != "nat" || r.Level != OK || !strings.Contains(r.Detail, "no NAT") {
		t.Errorf("nat: %v", r)
	}
}

func TestCheckServersNone(t *testing.T) {
	rs := CheckServers(context.Background(), nil, ServerOptions{})
	if len(rs) != 1 || rs[0].Level != Fail || !strings.Contains(rs[0].Fix, "--server") {
		t.Errorf("%v", rs)
	}
}

// Only a silent server: no NAT check, a warning says why.
func TestCheckServersAllSilent(t *testing.T) {
	silent, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	quiet := silent.LocalAddr().(*net.UDPAddr).AddrPort()
	rs := CheckServers(context.Background(), []netip.AddrPort{quiet}, ServerOptions{Timeout: 200 * time.Millisecond})
	if len(rs) != 2 || rs[0].Level != Fail || rs[1].Check != "nat" || rs[1].Level != Warn {
		t.Errorf("%v", rs)
	}
}

func TestNATResult(t *testing.T) {
	local, seen := netip.MustParseAddrPort("10.0.0.2:4000"), netip.MustParseAddrPort("198.51.100.7:61000")
	srv := netip.MustParseAddrPort("198.18.0.1:5610")
	for _, c := range []struct {
		n    client.NATInfo
		err  error
		want Level
		text string
	}{
		{client.NATInfo{Known: true, Behind: true, Observed: seen}, nil, OK, "behind a NAT: this host (10.0.0.2:4000) is seen as 198.51.100.7:61000"},
		{client.NATInfo{Known: true, Observed: local}, nil, OK, "no NAT"},
		{client.NATInfo{}, nil, Warn, "unknown"},
		{client.NATInfo{Known: true, Behind: true, Observed: seen}, errors.New("no answer"), Fail, "did not come back"},
	} {
		r := natResult(c.n, local, srv, c.err)
		if r.Level != c.want || !strings.Contains(r.Detail, c.text) {
			t.Errorf("%+v, %v: %v, want %v %q", c.n, c.err, r, c.want, c.text)
		}
	}
}
