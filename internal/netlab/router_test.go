package netlab_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
)

// TestIntranetAtAndSecondRouter builds an intranet with a server at a chosen
// address and a second router on its LAN (the topology of two gateways of
// one intranet), and checks who reaches whom.
func TestIntranetAtAndSecondRouter(t *testing.T) {
	netlabtest.RequireRoot(t)
	needTool(t, "ping")
	l := netlabtest.New(t)
	web := l.Host("web")
	gw := l.NATHost("gw", intranetLAN, netlab.NATNone)
	wikiAddr := netip.MustParseAddr("10.1.0.10")
	wiki := gw.InsideAt("wiki", wikiAddr)
	other := gw.Inside("other")
	gwb := gw.AddRouter("gwb")

	if wiki.Addr4() != wikiAddr {
		t.Errorf("wiki is at %v, want %v", wiki.Addr4(), wikiAddr)
	}
	if want := netip.MustParseAddr("10.1.0.2"); other.Addr4() != want {
		t.Errorf("the next host is at %v, want %v", other.Addr4(), want)
	}
	if want := netip.MustParseAddr("10.1.0.3"); gwb.LANAddr() != want {
		t.Errorf("the second router is at %v on the LAN, want %v", gwb.LANAddr(), want)
	}
	mustPing(t, gwb.Host, wiki.Addr4())
	mustPing(t, wiki, gwb.LANAddr())
	mustPing(t, gwb.Host, web.Addr4())
	mustPing(t, gw.Host, gwb.Addr4())
	if !pingFails(t, wiki, web.Addr4()) {
		t.Error("wiki reaches the internet: neither router should forward")
	}

	for i, bad := range []string{"10.1.0.10", "10.1.0.1", "10.1.0.3", "10.2.0.5", "10.1.0.255"} {
		_, err := gw.NAT.InsideAt(fmt.Sprintf("bad%d", i), netip.MustParseAddr(bad))
		if err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("InsideAt(%s): %v, want an error naming the address (taken, a router's, outside the LAN or broadcast)", bad, err)
		}
	}
}
