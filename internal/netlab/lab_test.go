package netlab_test

import (
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
)

// rootState is what the lab must never change in the root namespace: its
// links, addresses, routes, nftables ruleset and forwarding settings.
func rootState(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, args := range [][]string{
		{"ip", "-o", "link"}, {"ip", "-o", "addr"}, {"ip", "route"}, {"ip", "-6", "route"},
		{"nft", "list", "ruleset"},
		{"cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding", "/etc/resolv.conf"},
	} {
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
		b.WriteString(strings.Join(args, " ") + "\n")
		b.Write(out)
	}
	return b.String()
}

// TestInternet builds an internet with two hosts and checks that they reach
// each other over IPv4 and IPv6 with a real ping and with Go sockets, that
// the hosts' files and settings are their own, that link down/up and
// renumbering work, and that the root namespace is untouched.
func TestInternet(t *testing.T) {
	netlabtest.RequireRoot(t)
	needTool(t, "ping")
	before := rootState(t)
	l := netlabtest.New(t)
	laptop, web := l.Host("laptop"), l.Host("web")

	if !netlab.DefaultInternet4.Contains(laptop.Addr4()) || !netlab.DefaultInternet6.Contains(web.Addr6()) || laptop.Addr4() == web.Addr4() {
		t.Fatalf("addresses: laptop %v %v, web %v %v", laptop.Addr4(), laptop.Addr6(), web.Addr4(), web.Addr6())
	}
	t.Run("ping", func(t *testing.T) {
		mustPing(t, laptop, web.Addr4())
		mustPing(t, web, laptop.Addr4())
		mustPing(t, laptop, web.Addr6())
	})
	t.Run("tcp", func(t *testing.T) {
		for _, a := range []netip.Addr{web.Addr4(), web.Addr6()} {
			to := tcpEcho(t, web, a)
			seen, err := tcpSeen(testCtx(t, 2*time.Second), laptop, to)
			if err != nil {
				t.Fatal(err)
			}
			if seen.Addr() != laptop.Addr4() && seen.Addr() != laptop.Addr6() {
				t.Errorf("web saw %v, want laptop's %v or %v", seen, laptop.Addr4(), laptop.Addr6())
			}
		}
	})
	t.Run("no route out", func(t *testing.T) {
		out, err := laptop.Run(testCtx(t, 5*time.Second), "ip", "route", "get", "192.0.2.1")
		if err == nil {
			t.Errorf("laptop has a route out of the lab:\n%s", out)
		}
	})
	t.Run("resolv.conf", func(t *testing.T) {
		out, err := web.Run(testCtx(t, 5*time.Second), "cat", "/etc/resolv.conf")
		if err != nil || string(out) != netlab.DefaultResolvConf {
			t.Fatalf("web's resolv.conf = %q, %v; want %q", out, err, netlab.DefaultResolvConf)
		}
		const text = "nameserver 198.18.0.53\n"
		must(t, web.SetResolvConf(text))
		out, err = web.Run(testCtx(t, 5*time.Second), "cat", "/etc/resolv.conf")
		if err != nil || string(out) != text {
			t.Fatalf("after SetResolvConf web's resolv.conf = %q, %v; want %q", out, err, text)
		}
	})
	t.Run("sysctl", func(t *testing.T) {
		if err := web.Sysctl("net.ipv4.ip_forward", "1"); err != nil {
			t.Fatal(err)
		}
		out, err := web.Run(testCtx(t, 5*time.Second), "cat", "/proc/sys/net/ipv4/ip_forward")
		if err != nil || string(out) != "1\n" {
			t.Fatalf("web's ip_forward = %q, %v; want 1", out, err)
		}
		out, err = laptop.Run(testCtx(t, 5*time.Second), "cat", "/proc/sys/net/ipv4/ip_forward")
		if err != nil || string(out) != "0\n" {
			t.Fatalf("laptop's ip_forward = %q, %v; want 0", out, err)
		}
	})
	t.Run("link down and up", func(t *testing.T) {
		must(t, laptop.SetLinkDown())
		if !pingFails(t, laptop, web.Addr4()) {
			t.Fatal("laptop pings web with its link down")
		}
		must(t, laptop.SetLinkUp())
		mustPing(t, laptop, web.Addr4())
		mustPing(t, laptop, web.Addr6())
	})
	t.Run("renumber", func(t *testing.T) {
		old4, old6 := web.Addr4(), web.Addr6()
		new4 := renumber(t, web, netip.Addr{})
		new6 := renumber(t, web, netip.MustParseAddr("2001:db8:1::99"))
		if new4 == old4 || web.Addr4() != new4 || web.Addr6() != new6 || new6 == old6 {
			t.Fatalf("renumbered %v %v -> %v %v, host says %v %v", old4, old6, new4, new6, web.Addr4(), web.Addr6())
		}
		mustPing(t, laptop, new4)
		mustPing(t, laptop, new6)
		if !pingFails(t, laptop, old4) {
			t.Errorf("old address %v still answers", old4)
		}
	})
	t.Run("bad names", func(t *testing.T) {
		for _, name := range []string{"", "inet", "Web", "-x", "web", strings.Repeat("a", 21)} {
			if _, err := l.NewHost(name); err == nil {
				t.Errorf("host %q accepted", name)
			}
		}
	})

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if after := rootState(t); after != before {
		t.Errorf("root namespace changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	for _, ns := range l.Namespaces() {
		if _, err := os.Stat("/run/netns/" + ns); err == nil {
			t.Errorf("namespace %s left", ns)
		}
	}
	if out, _ := exec.Command("ip", "netns", "list").Output(); bytes.Contains(out, []byte(l.Prefix()+"-")) {
		t.Errorf("ip netns list still shows the lab:\n%s", out)
	}
}

// TestInternetPrefixes builds an internet on other prefixes.
func TestInternetPrefixes(t *testing.T) {
	netlabtest.RequireRoot(t)
	l := netlabtest.New(t)
	p4, p6 := netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8:7::/64")
	inet := l.Internet(p6, p4)
	if l.Internet().Net != inet.Net || inet.Prefix4() != p4 || inet.Prefix6() != p6 {
		t.Fatalf("internet %v %v, want %v %v", inet.Prefix4(), inet.Prefix6(), p4, p6)
	}
	a, b := l.Host("a"), l.Host("b")
	if a.Addr4() != netip.MustParseAddr("203.0.113.1") || b.Addr6() != netip.MustParseAddr("2001:db8:7::2") {
		t.Fatalf("addresses %v %v %v %v", a.Addr4(), a.Addr6(), b.Addr4(), b.Addr6())
	}
	to := tcpEcho(t, b, b.Addr4())
	if err := netlab.WaitTCP(testCtx(t, 2*time.Second), a, to); err != nil {
		t.Fatal(err)
	}
	if err := netlab.WaitListen(testCtx(t, 2*time.Second), b, "tcp", to.Port()); err != nil {
		t.Fatal(err)
	}
	pc, err := b.ListenPacket("udp", netip.AddrPortFrom(netip.Addr{}, 5353))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if err := netlab.WaitUDP(testCtx(t, 2*time.Second), b, 5353); err != nil {
		t.Fatal(err)
	}
	if err := netlab.WaitUDP(testCtx(t, 200*time.Millisecond), a, 5353); err == nil {
		t.Error("netlab.WaitUDP found b's socket in a")
	}
}

// TestErrors: outside tests the lab reports failures as errors (bad names
// and kinds, building after Close), and Close may be called more than once.
func TestErrors(t *testing.T) {
	l := netlabtest.New(t) // skips unless root
	lab := l.Lab           // the lab without the adapter
	if _, err := lab.Host("Bad Name"); err == nil {
		t.Error("Host accepted a bad name")
	}
	if _, err := lab.NATHost("nat", homeLAN, 0); err == nil {
		t.Error("NATHost accepted kind 0")
	}
	if _, err := lab.NATHost("nat", netip.MustParsePrefix("192.168.1.0/31"), netlab.NATCone); err == nil {
		t.Error("NATHost accepted a /31 LAN")
	}
	h, err := lab.Host("web")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lab.Internet(netlab.DefaultInternet4); err == nil {
		t.Error("Internet accepted prefixes after the internet was built")
	}
	if err := lab.Close(); err != nil {
		t.Fatal(err)
	}
	if err := lab.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := lab.Host("late"); err == nil {
		t.Error("Host built a host after Close")
	}
	if _, err := h.Start("sleep", "30"); err == nil {
		t.Error("Start started a process after Close")
	}
	if _, err := os.Stat(filepath.Join(netlab.NetnsDir, h.Namespace())); !os.IsNotExist(err) {
		t.Errorf("web's namespace is left after Close (%v)", err)
	}
}
