package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
	"github.com/i3net/i3net/proxy"
)

// The world of the anonymity test (issue 14, paper §6.3): a ring of three
// servers (ringlab_test.go's, with metrics), laptop and home on the
// internet, and two intranets (gatewaylab_test.go's) behind gateways, one
// that allows anonymous clients and one that does not:
//
//	laptop ──┐                     ┌── gwoffice ── 10.1.0.0/24 (allow_anonymous)
//	home   ──┤ "internet" bridge   ├── gwlab ──── 10.1.0.0/24 (refuses them)
//	web    ──┤                     │
//	srv1..3 ─┴─────────────────────┘
//
// laptop's book names home with anonymous = true, and its rules send
// *.corp.example and *.lab.example through the gateways anonymously; its
// anonymous sessions rotate after anonRotate. home's book is empty: it
// accepts unknown and anonymous hosts, as a proxy does by default.

// anonRotate is laptop's --anonymous-rotate.
const anonRotate = time.Second

// anonWorld is the world above.
type anonWorld struct {
	*world
	ring   *ringLab
	office *intranet
	lab    *intranet
	gwOK   *gateway // office's: allow_anonymous
	gwNo   *gateway // lab's: without
}

// newAnonWorld builds the world and starts every program; it skips t unless
// root and unless nginx, dnsmasq and tcpdump are installed.
func newAnonWorld(t *testing.T) *anonWorld {
	t.Helper()
	needProgram(t, "tcpdump")
	lab := netlabtest.New(t)
	start := time.Now()
	// Every host first, then the servers: they join one another on a
	// network that no longer changes.
	w := &world{t: t, lab: lab}
	w.web = lab.Host("web")
	w.dns = startUpstreamDNS(t, w.web)
	t.Cleanup(w.checkDaemons)
	r := &ringLab{t: t, lab: lab, preset: presetDefault}
	a := &anonWorld{world: w, ring: r}
	g := &gwWorld{world: w}
	w.laptop, w.home = g.newLaptop("laptop"), g.newLaptop("home")
	a.office = newIntranet(t, lab, "gwoffice", "office", "corp.example", false)
	a.lab = newIntranet(t, lab, "gwlab", "lab", "lab.example", false)
	t.Cleanup(r.checkServers)
	for _, p := range ringPositions[:3] {
		r.addServer(p)
	}
	w.srv, w.srvAddr = r.servers[0].host, r.servers[0].data
	r.waitMembers(3)
	a.gwOK = a.startGateway(a.office, true)
	a.gwNo = a.startGateway(a.lab, false)

	w.laptop.bookAddArgs("home", w.home.key, "--anonymous")
	w.laptop.bookAdd("office-gw", a.gwOK.key)
	w.laptop.bookAdd("lab-gw", a.gwNo.key)
	servers := a.serverFlags()
	w.home.proxyArgs = servers
	w.home.startProxy(t)
	w.home.waitProxy(t)
	w.laptop.proxyArgs = append(servers, "--anonymous-rotate", anonRotate.String())
	g.startLaptop(w.laptop, `# e2e: names through the gateways, anonymously
[[rule]]
match = "*.corp.example"
via = "office-gw"
anonymous = true

[[rule]]
match = "*.lab.example"
via = "lab-gw"
anonymous = true
`)
	t.Logf("anonymity world up in %v: servers %s; laptop %v (own %v), home %v (own %v)", time.Since(start).Round(time.Millisecond),
		r.serverList(), w.laptop.Addr4(), w.laptop.self.Addr4, w.home.Addr4(), w.home.self.Addr4)
	return a
}

// serverFlags are the proxies' --server flags: every server of the ring.
func (a *anonWorld) serverFlags() []string {
	var f []string
	for _, s := range a.ring.servers {
		f = append(f, "--server", s.data.String())
	}
	return f
}

// startGateway starts "i3net gateway" in in's router for its names and
// network, with every server of the ring, allowing anonymous clients if
// allow; its book names home only (laptop is not on its allowlist).
func (a *anonWorld) startGateway(in *intranet, allow bool) *gateway {
	t := a.t
	t.Helper()
	h := in.gw.Host
	gw := &gateway{node: &node{Host: h, w: a.world}, in: in, lanAddr: in.gw.LAN().Gateway4()}
	gw.dir = filepath.Join(t.TempDir(), h.Name())
	gw.makeIdentity()
	gw.bookAdd("home", a.home.key)
	var servers []string
	for _, s := range a.ring.servers {
		servers = append(servers, s.data.String())
	}
	gw.run(t, servers, fmt.Sprintf("allow_anonymous = %t\n", allow), &a.daemons)
	return gw
}

// bookAddArgs adds name → key to the node's address book with options.
func (n *node) bookAddArgs(name, key string, opts ...string) {
	t := n.w.t
	t.Helper()
	args := append([]string{"book", "add", name, key, "--state-dir", n.dir}, opts...)
	if _, err := n.w.i3net(context.Background(), args...); err != nil {
		t.Fatal(err)
	}
}

// anonPeers returns the peers of st that are anonymous (home's view of
// laptop's sessions).
func anonPeers(st proxy.Status) []proxy.PeerStatus {
	var out []proxy.PeerStatus
	for _, p := range st.Peers {
		if p.Anonymous {
			out = append(out, p)
		}
	}
	return out
}

// capture is a tcpdump running in a host on one interface.
type capture struct {
	*netlab.Proc
	iface string
}

// startCapture runs tcpdump in h on iface (numeric, line-buffered) and
// returns once it listens.
func startCapture(t *testing.T, h *netlab.Host, iface string, filter ...string) *capture {
	t.Helper()
	args := append([]string{"-n", "-l", "-i", iface}, filter...)
	p := startDaemon(t, h, "tcpdump", args...)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	err := netlab.Poll(ctx, 20*time.Millisecond, func() error {
		if !bytes.Contains(p.Output(), []byte("listening on")) {
			return fmt.Errorf("not listening yet: %q", p.Output())
		}
		return nil
	})
	if err != nil {
		t.Fatalf("tcpdump on %s in %s: %v", iface, h.Name(), err)
	}
	return &capture{Proc: p, iface: iface}
}

// ipv4Pair matches the addresses of a tcpdump line: "IP A.B.C.D[.port] > E.F.G.H[.port]:".
var ipv4Pair = regexp.MustCompile(`\bIP (\d+\.\d+\.\d+\.\d+)(?:\.\d+)? > (\d+\.\d+\.\d+\.\d+)(?:\.\d+)?:`)

// addrs returns every IPv4 address the capture's lines name so far, with
// the number of lines naming each.
func (c *capture) addrs() map[netip.Addr]int {
	seen := map[netip.Addr]int{}
	sc := bufio.NewScanner(bytes.NewReader(c.Output()))
	for sc.Scan() {
		m := ipv4Pair.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		for _, s := range m[1:] {
			if a, err := netip.ParseAddr(s); err == nil {
				seen[a]++
			}
		}
	}
	return seen
}
