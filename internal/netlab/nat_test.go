package netlab_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
)

// TestNAT builds the home corner of DESIGN.md §3 (laptop and web on the
// internet, home behind a cone NAT) and checks that home reaches the internet
// from the NAT's address with real programs, that nothing outside can open a
// connection in, and that the NAT can change its address.
func TestNAT(t *testing.T) {
	netlabtest.RequireRoot(t)
	needTool(t, "python3")
	needTool(t, "ping")
	l := netlabtest.New(t)
	laptop, web := l.Host("laptop"), l.Host("web")
	nat := l.NATHost("nat", homeLAN, netlab.NATCone)
	home := nat.Inside("home")

	if got, want := home.Addr4(), netip.MustParseAddr("192.168.1.2"); got != want {
		t.Errorf("home's address = %v, want %v", got, want)
	}
	if home.Addr6().IsValid() {
		t.Errorf("home has IPv6 address %v on an IPv4 LAN", home.Addr6())
	}

	t.Run("inside reaches out", func(t *testing.T) {
		// A real server and a real client: python3's http.server on web,
		// bash's /dev/tcp in home.
		srv, err := web.Start("python3", "-m", "http.server", "--bind", web.Addr4().String(), "8000")
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Stop()
		to := netip.AddrPortFrom(web.Addr4(), 8000)
		// A deadline, not a speed: python3 (behind a pyenv shim, say) can
		// take seconds to start on a loaded machine.
		if err := netlab.WaitTCP(testCtx(t, 30*time.Second), home, to); err != nil {
			t.Fatalf("%v\nserver output:\n%s", err, srv.Output())
		}
		get := fmt.Sprintf(`exec 3<>/dev/tcp/%s/%d; printf 'GET / HTTP/1.0\r\n\r\n' >&3; cat <&3`, to.Addr(), to.Port())
		out, err := home.Run(testCtx(t, 5*time.Second), "bash", "-c", get)
		if err != nil || !strings.HasPrefix(string(out), "HTTP/1.0 200") {
			t.Fatalf("GET from home: %v\n%s", err, out)
		}
		mustPing(t, home, web.Addr4())
		// The server logs its clients: it saw the NAT, not home.
		if err := netlab.Poll(testCtx(t, 2*time.Second), 0, func() error {
			if log := string(srv.Output()); !strings.Contains(log, nat.Addr4().String()+" - -") {
				return fmt.Errorf("server log does not show the NAT's address %v:\n%s", nat.Addr4(), log)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("outside cannot initiate", func(t *testing.T) {
		to := tcpEcho(t, home, home.Addr4())
		if _, err := tcpSeen(testCtx(t, time.Second), laptop, to); err == nil {
			t.Fatal("laptop reached home without any route to it")
		}
		// Even with a route to the LAN through the NAT, the NAT lets
		// nothing in.
		if _, err := laptop.Run(testCtx(t, 5*time.Second), "ip", "route", "add", homeLAN.String(), "via", nat.Addr4().String()); err != nil {
			t.Fatal(err)
		}
		if _, err := tcpSeen(testCtx(t, 500*time.Millisecond), laptop, to); err == nil {
			t.Fatal("laptop opened a connection to home through the NAT")
		}
		// Nor is home's port open on the NAT's outside address.
		if _, err := tcpSeen(testCtx(t, 500*time.Millisecond), laptop, netip.AddrPortFrom(nat.Addr4(), to.Port())); err == nil {
			t.Fatal("home's port is open on the NAT")
		}
		// The way out still works, and the server sees the NAT.
		back := tcpEcho(t, laptop, laptop.Addr4())
		seen, err := tcpSeen(testCtx(t, 2*time.Second), home, back)
		if err != nil || seen.Addr() != nat.Addr4() {
			t.Fatalf("home -> laptop: seen %v, %v; want from %v", seen, err, nat.Addr4())
		}
	})

	t.Run("inside link down and up", func(t *testing.T) {
		must(t, home.SetLinkDown())
		if !pingFails(t, home, web.Addr4()) {
			t.Fatal("home pings web with its link down")
		}
		must(t, home.SetLinkUp()) // restores the default route through the NAT
		mustPing(t, home, web.Addr4())
	})

	t.Run("NAT renumbers", func(t *testing.T) {
		srv := newUDPServer(t, web)
		conn := udpClient(t, home)
		old := nat.Addr4()
		if from, err := srv.observe(conn); err != nil || from.Addr() != old {
			t.Fatalf("before: web saw %v, %v; want %v", from, err, old)
		}
		if n, err := nat.MappingsTo(old); err != nil || n == 0 {
			t.Fatalf("before: the NAT holds %d mappings of its address %v (%v), want the socket's", n, old, err)
		}
		renum := renumber(t, nat.Host, netip.Addr{})
		if n, err := nat.MappingsTo(old); err != nil || n != 0 {
			t.Fatalf("after: the NAT holds %d mappings of its old address %v (%v)", n, old, err)
		}
		// Renumber drops the NAT's mappings of the old address before it
		// returns (the kernel's own flush is asynchronous and skipped when
		// its workers are busy): the same socket's next datagram comes from
		// the new address.
		if from, err := srv.observe(conn); err != nil || from.Addr() != renum {
			t.Fatalf("after: web saw %v, %v; want %v", from, err, renum)
		}
	})

	t.Run("laptop moves behind the NAT and back", func(t *testing.T) {
		must(t, laptop.MoveTo(nat.LAN()))
		if !homeLAN.Contains(laptop.Addr4()) || laptop.Addr6().IsValid() {
			t.Fatalf("laptop behind the NAT has %v %v", laptop.Addr4(), laptop.Addr6())
		}
		to := tcpEcho(t, web, web.Addr4())
		seen, err := tcpSeen(testCtx(t, 2*time.Second), laptop, to)
		if err != nil || seen.Addr() != nat.Addr4() {
			t.Fatalf("laptop (moved) -> web: seen %v, %v; want from %v", seen, err, nat.Addr4())
		}
		mustPing(t, laptop, home.Addr4())
		must(t, laptop.MoveTo(web.Net()))
		if !netlab.DefaultInternet4.Contains(laptop.Addr4()) {
			t.Fatalf("laptop back on the internet has %v", laptop.Addr4())
		}
		mustPing(t, laptop, web.Addr4())
		mustPing(t, laptop, web.Addr6())
	})
}

// TestNATMapping shows the difference between the NAT kinds with UDP: one
// inside socket sends to two outside hosts, which report the source they see.
func TestNATMapping(t *testing.T) {
	netlabtest.RequireRoot(t)
	l := netlabtest.New(t)
	a, b := newUDPServer(t, l.Host("a")), newUDPServer(t, l.Host("b"))
	tests := []struct {
		name     string
		kind     netlab.NATKind
		samePort bool
	}{
		{"cone", netlab.NATCone, true},
		{"symmetric", netlab.NATSymmetric, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nat := l.NATHost(fmt.Sprintf("nat%d", i), homeLAN, tt.kind)
			conn := udpClient(t, nat.Inside(fmt.Sprintf("home%d", i)))
			fromA, errA := a.observe(conn)
			fromB, errB := b.observe(conn)
			if errA != nil || errB != nil {
				t.Fatalf("observe: %v, %v", errA, errB)
			}
			t.Logf("%v NAT: socket %v seen as %v by a, %v by b", tt.kind, conn.LocalAddr(), fromA, fromB)
			if fromA.Addr() != nat.Addr4() || fromB.Addr() != nat.Addr4() {
				t.Errorf("seen from %v and %v, want the NAT's %v", fromA.Addr(), fromB.Addr(), nat.Addr4())
			}
			if same := fromA.Port() == fromB.Port(); same != tt.samePort {
				t.Errorf("external ports %d and %d: same = %v, want %v", fromA.Port(), fromB.Port(), same, tt.samePort)
			}
		})
	}
}

// TestIntranet builds DESIGN.md §3's gw corner: a router without NAT whose
// LAN is reachable from the router only.
func TestIntranet(t *testing.T) {
	netlabtest.RequireRoot(t)
	needTool(t, "ping")
	l := netlabtest.New(t)
	web := l.Host("web")
	gw := l.NATHost("gw", intranetLAN, netlab.NATNone)
	intranet := gw.Inside("intranet")

	mustPing(t, gw.Host, intranet.Addr4())
	mustPing(t, intranet, gw.LAN().Gateway4())
	mustPing(t, gw.Host, web.Addr4())
	if !pingFails(t, intranet, web.Addr4()) {
		t.Error("intranet reaches the internet through a router that should not forward")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if out, err := web.Run(ctx, "ip", "route", "get", intranet.Addr4().String()); err == nil {
		t.Errorf("web has a route to the intranet:\n%s", out)
	}
}

// TestNAT6 checks a NAT whose LAN is IPv6: the same masquerade, for IPv6.
func TestNAT6(t *testing.T) {
	netlabtest.RequireRoot(t)
	l := netlabtest.New(t)
	web := l.Host("web")
	nat := l.NATHost("nat", netip.MustParsePrefix("fd01:1::/64"), netlab.NATCone)
	home := nat.Inside("home")
	if home.Addr4().IsValid() || home.Addr6() != netip.MustParseAddr("fd01:1::2") {
		t.Fatalf("home has %v %v, want only fd01:1::2", home.Addr4(), home.Addr6())
	}
	to := tcpEcho(t, web, web.Addr6())
	seen, err := tcpSeen(testCtx(t, 2*time.Second), home, to)
	if err != nil || seen.Addr() != nat.Addr6() {
		t.Fatalf("home -> web: seen %v, %v; want from %v", seen, err, nat.Addr6())
	}
}
