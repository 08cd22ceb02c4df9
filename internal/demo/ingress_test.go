package demo

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/ingress"
)

// TestIngressConf: the ingress.toml the demo writes is one "i3net ingress"
// accepts: its zone, its waypoints, and the name server whose address the
// parent zone's glue names, where its DNS listens.
func TestIngressConf(t *testing.T) {
	var out bytes.Buffer
	d := &labDemo{
		n:    &narrator{w: &out, start: time.Now()},
		dir:  t.TempDir(),
		ring: &demoRing{servers: []demoServer{{name: "srv1", data: netip.MustParseAddrPort("198.18.0.1:5610")}}},
	}
	ns := netip.MustParseAddr("198.18.0.7")
	path, err := d.writeIngressConf(ns)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ingress.LoadConfig(path)
	if err != nil {
		t.Fatalf("the demo's ingress.toml does not load: %v\n%s", err, out.String())
	}
	if cfg.Zone != ingZone || !slices.Equal(cfg.Waypoints, ingWaypoints) {
		t.Errorf("zone %q, waypoints %v; want %s and %v", cfg.Zone, cfg.Waypoints, ingZone, ingWaypoints)
	}
	if len(cfg.Nameserver) != 1 || cfg.Nameserver[0].Name != "ns1."+ingZone || !slices.Equal(cfg.Nameserver[0].Addresses, []netip.Addr{ns}) {
		t.Errorf("nameservers %+v, want ns1.%s at %v", cfg.Nameserver, ingZone, ns)
	}
	if want := []netip.AddrPort{netip.AddrPortFrom(ns, 53)}; !slices.Equal(cfg.DNSListen, want) {
		t.Errorf("the ingress's DNS listens on %v, want %v (the glue's address)", cfg.DNSListen, want)
	}
	if !strings.Contains(out.String(), `zone = "i3.example.net"`) {
		t.Errorf("the narration does not show the file:\n%s", out.String())
	}
}

// TestWaypointsApart: the waypoints are far above the addresses netlab
// hands out on the demo's internet, so no host of the demo takes one.
func TestWaypointsApart(t *testing.T) {
	internet := netip.MustParsePrefix("198.18.0.0/15")
	for _, wp := range ingWaypoints {
		if !internet.Contains(wp) || wp.Compare(netip.MustParseAddr("198.19.0.0")) < 0 {
			t.Errorf("waypoint %v: want it in the upper half of %v", wp, internet)
		}
	}
}

// TestDigAnswer: the demo reads the TTL and address of dig's answer line.
func TestDigAnswer(t *testing.T) {
	m := digAnswer.FindStringSubmatch("home.i3.example.net.\t0\tIN\tA\t198.19.255.10")
	if m == nil || m[1] != "0" || m[2] != "198.19.255.10" {
		t.Errorf("digAnswer on an answer line: %q", m)
	}
	if digAnswer.MatchString("home.i3.example.net.\t0\tIN\tAAAA\t2001:db8::1") {
		t.Error("digAnswer matched an AAAA line")
	}
	for answer, ok := range map[string]bool{
		"home.i3.example.net.\t0\tIN\tA\t198.19.255.11\n": true,
		"home.i3.example.net.\t5\tIN\tA\t198.19.255.11":   false, // cached
		"home.i3.example.net.\t0\tIN\tA\t198.18.0.7":      false, // not a waypoint
		"": false,
	} {
		if err := checkWaypointAnswer([]byte(answer)); (err == nil) != ok {
			t.Errorf("checkWaypointAnswer(%q) = %v, want ok %v", answer, err, ok)
		}
	}
	if lastLine([]byte("a\ncurl: (35) reset\n\n")) != "curl: (35) reset" {
		t.Error("lastLine does not skip trailing blank lines")
	}
}
