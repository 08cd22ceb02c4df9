package nat

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
	"github.com/i3net/i3net/internal/testwait"
)

// tunMTU is the MTU of the route from the gateway to its clients, as a tun
// into the overlay would have: smaller than the intranet's 1500.
const tunMTU = 1280

// topo is a gateway between an overlay client and an intranet:
//
//	client ── "internet" ── gw (eth0 stands in for the tun) ── brlan ── intranet (served)
//	100.64.0.2 on eth0                                              └── other (not served)
//
// The client has an address from the virtual pool and routes the intranet
// through gw; gw routes the pool back to the client with the tun's MTU. No
// rules are installed: tests call install.
type topo struct {
	lab             *netlabtest.Lab
	gw              *netlabtest.NAT
	intranet, other *netlab.Host
	client          *netlab.Host
	clientAddr      netip.Addr // the client's pool address
	gwLAN           netip.Addr // gw's address on the intranet: what masquerade shows
	cfg             Config
}

// newTopo builds the topology for IPv4 (pool 100.64.0.0/10, intranet
// 10.1.0.0/24) or IPv6 (pool fd7a:115c:a1e0::/64, intranet fd00:10::/64).
func newTopo(t *testing.T, v6 bool) *topo {
	t.Helper()
	lab := netlabtest.New(t)
	lan, pool := netip.MustParsePrefix("10.1.0.0/24"), netip.MustParsePrefix("100.64.0.0/10")
	if v6 {
		lan, pool = netip.MustParsePrefix("fd00:10::/64"), netip.MustParsePrefix("fd7a:115c:a1e0::/64")
	}
	tp := &topo{lab: lab, gw: lab.NATHost("gw", lan, netlab.NATNone)}
	tp.intranet = tp.gw.Inside("intranet")
	tp.other = tp.gw.Inside("other")
	tp.client = lab.Host("client")
	tp.clientAddr = pool.Addr().Next().Next()
	served := addrOf(tp.intranet, v6)
	tp.cfg.Serve = []netip.Prefix{netip.PrefixFrom(served, served.BitLen())}
	gwOut, clientOut := tp.gw.Addr4(), tp.client.Addr4()
	tp.gwLAN = tp.gw.LAN().Gateway4()
	if v6 {
		tp.gwLAN, gwOut, clientOut = tp.gw.LAN().Gateway6(), tp.gw.Addr6(), tp.client.Addr6()
	}
	tp.cfg.Tun, tp.cfg.Pools = netlab.Uplink, []netip.Prefix{pool}
	tp.cfg.Table = "i3net-gw-test"

	must(t, tp.client.Do(func() error {
		if err := addAddr(netip.PrefixFrom(tp.clientAddr, tp.clientAddr.BitLen())); err != nil {
			return err
		}
		return addRoute(lan, gwOut, tp.clientAddr, 0)
	}))
	must(t, tp.gw.Do(func() error { return addRoute(pool, clientOut, netip.Addr{}, tunMTU) }))
	return tp
}

// addrOf returns h's address of the family.
func addrOf(h *netlab.Host, v6 bool) netip.Addr {
	if v6 {
		return h.Addr6()
	}
	return h.Addr4()
}

// install installs tp's rules in gw and closes them when the test ends.
func (tp *topo) install(t *testing.T) *Rules {
	t.Helper()
	var r *Rules
	must(t, tp.gw.Do(func() error {
		var err error
		r, err = Install(tp.cfg)
		return err
	}))
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// addAddr adds p to the uplink of the calling thread's namespace (run it in
// Host.Do), without duplicate address detection.
func addAddr(p netip.Prefix) error {
	link, err := netlink.LinkByName(netlab.Uplink)
	if err != nil {
		return err
	}
	return netlink.AddrAdd(link, &netlink.Addr{IPNet: ipNet(p), Flags: unix.IFA_F_NODAD})
}

// addRoute routes dst via gw over the uplink, with a preferred source and
// an MTU when given (run it in Host.Do).
func addRoute(dst netip.Prefix, gw, src netip.Addr, mtu int) error {
	link, err := netlink.LinkByName(netlab.Uplink)
	if err != nil {
		return err
	}
	r := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: ipNet(dst), Gw: gw.AsSlice(), MTU: mtu}
	if src.IsValid() {
		r.Src = src.AsSlice()
	}
	return netlink.RouteAdd(r)
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// counters reads r's counters, failing t on error.
func counters(t *testing.T, r *Rules) Counters {
	t.Helper()
	c, err := r.Counters()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitCounter waits until the counter get picks out of r exceeds was.
func waitCounter(t *testing.T, r *Rules, what string, was uint64, get func(Counters) uint64) {
	t.Helper()
	var last Counters
	testwait.For(t, what, func() bool {
		c, err := r.Counters()
		last = c
		return err == nil && get(c) > was
	})
	t.Logf("%s: %+v", what, last)
}

// noPendingConn checks that nothing has connected to ln: Accept with a
// deadline already passed must time out.
func noPendingConn(t *testing.T, ln net.Listener, who string) {
	t.Helper()
	if err := ln.(*net.TCPListener).SetDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	c, err := ln.Accept()
	if err == nil {
		c.Close()
		t.Fatalf("%s accepted a connection from %v: the gateway let it through", who, c.RemoteAddr())
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal(err)
	}
}

// run runs a program in h with a deadline, logs it, and returns its output.
func run(t *testing.T, h *netlab.Host, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := h.Run(ctx, name, args...)
	t.Logf("%s$ %s %s\n%s", h.Name(), name, strings.Join(args, " "), out)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// needProgram skips t unless every program is installed.
func needProgram(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			t.Skipf("skipping: %s is not installed (scripts/deps installs it)", name)
		}
	}
}

// startDaemon starts a program in h and stops it when the test ends.
func startDaemon(t *testing.T, h *netlab.Host, name string, args ...string) *netlab.Proc {
	t.Helper()
	return netlabtest.Start(t, h, name, args...)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
