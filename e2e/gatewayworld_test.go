package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
)

// The gateway's world: the overlay server srv1 and an upstream DNS server
// in web on the internet, laptops running "i3net proxy" with name rules,
// and intranets (gatewaylab_test.go) each behind one or two hosts running
// "i3net gateway":
//
//	laptop  ──┐                     ┌── gwoffice ── 10.1.0.0/24 (wiki .10, dns .53)
//	laptop2 ──┤ "internet" bridge   ├── gwb ────────┘ (anycast: a second gateway)
//	srv1, web ┘                     └── gwlab ──── 10.1.0.0/24 (its own .10 and .53)

// gwWorld is a world (topology_test.go) whose laptops reach intranets
// through gateways. Its laptop node exists (identity, resolv.conf) but its
// proxy starts only with startLaptop, once the gateways are known.
type gwWorld struct {
	*world
}

// gateway is a node running "i3net gateway" for an intranet.
type gateway struct {
	*node
	in      *intranet
	lanAddr netip.Addr // its address on the intranet: what the intranet sees
}

// newGatewayWorld builds the internet part of the gateway's world and makes
// laptop's identity. It skips t unless root and unless the i3net binary has
// a gateway command.
func newGatewayWorld(t *testing.T) *gwWorld {
	t.Helper()
	lab := netlabtest.New(t)
	w := &world{t: t, lab: lab}
	w.srv = lab.Host("srv1")
	w.web = lab.Host("web")
	w.dns = startUpstreamDNS(t, w.web)
	t.Cleanup(w.checkDaemons)
	w.startServer()
	g := &gwWorld{world: w}
	w.laptop = g.newLaptop("laptop")
	return g
}

// newLaptop creates a host on the internet with an identity and a
// resolv.conf naming the upstream DNS server in web, for a proxy to start.
func (g *gwWorld) newLaptop(name string) *node {
	t := g.t
	t.Helper()
	n := &node{Host: g.lab.Host(name), w: g.world}
	n.resolvConf = fmt.Sprintf("# e2e: the upstream resolver in web\nnameserver %s\noptions timeout:2 attempts:1\n", g.web.Addr4())
	if err := n.SetResolvConf(n.resolvConf); err != nil {
		t.Fatal(err)
	}
	n.dir = filepath.Join(t.TempDir(), name)
	n.makeIdentity()
	return n
}

// laptopRules are the laptops' name rules: each intranet's names through
// its gateway, and a domain no gateway serves through office's.
const laptopRules = `# e2e: name rules
[[rule]]
match = "*.corp.example"
via = "office-gw"

[[rule]]
match = "*.lab.example"
via = "lab-gw"

[[rule]]
match = "*.elsewhere.example"
via = "office-gw"
`

// startLaptop writes n's proxy.toml with rules, starts its proxy and waits
// until it answers "i3net status".
func (g *gwWorld) startLaptop(n *node, rules string) {
	t := g.t
	t.Helper()
	conf := filepath.Join(n.dir, "proxy.toml")
	writeFile(t, conf, []byte(rules), 0o600)
	n.proxyArgs = append(n.proxyArgs, "--config", conf)
	n.startProxy(t)
	n.waitProxy(t)
}

// addGateway starts "i3net gateway" in h for intranet in, reachable at
// lanAddr on it, letting in the laptop named "laptop" only. anycast is its
// member name, empty for a lone gateway; with same, it shares same's
// identity (an anycast group).
func (g *gwWorld) addGateway(in *intranet, h *netlab.Host, lanAddr netip.Addr, anycast string, same *gateway) *gateway {
	t := g.t
	t.Helper()
	gw := &gateway{node: &node{Host: h, w: g.world}, in: in, lanAddr: lanAddr}
	gw.dir = filepath.Join(t.TempDir(), h.Name())
	if same != nil {
		pem, err := os.ReadFile(filepath.Join(same.dir, "identity.pem"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(gw.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(gw.dir, "identity.pem"), pem, 0o600)
	}
	gw.makeIdentity()
	if same != nil && gw.key != same.key {
		t.Fatalf("%s: i3net id shows key %s after copying %s's identity (key %s)", h.Name(), gw.key, same.Name(), same.key)
	}
	gw.bookAdd("laptop", g.laptop.key)
	extra := ""
	if anycast != "" {
		extra = fmt.Sprintf("anycast = %q\n", anycast)
	}
	gw.run(t, []string{g.srvAddr.String()}, extra, &g.daemons)
	return gw
}

// run writes gw's gateway.toml for its intranet, with the servers and the
// extra lines, starts "i3net gateway" (added to daemons) and waits for it.
func (gw *gateway) run(t *testing.T, servers []string, extra string, daemons *[]*netlab.Proc) {
	t.Helper()
	quoted := make([]string, len(servers))
	for i, s := range servers {
		quoted[i] = strconv.Quote(s)
	}
	in := gw.in
	conf := fmt.Sprintf("# e2e: the gateway of %s\nservers = [%s]\nserve_names = [\"*.%s\"]\nserve_cidrs = [%q]\nresolvers = [%q]\n%s",
		in.domain, strings.Join(quoted, ", "), in.domain, intranetLAN, netip.AddrPortFrom(intraDNSAddr, 53), extra)
	confPath := filepath.Join(gw.dir, "gateway.toml")
	writeFile(t, confPath, []byte(conf), 0o600)
	p, err := gw.Host.Start(i3netBin, "gateway", "--state-dir", gw.dir, "--config", confPath)
	if err != nil {
		t.Fatal(err)
	}
	gw.proxy = p
	*daemons = append(*daemons, p)
	gw.waitProxy(t)
}

// forget removes p from the processes checkDaemons expects to exit 0 (one
// the test killed on purpose).
func (g *gwWorld) forget(p *netlab.Proc) {
	for i, d := range g.daemons {
		if d == p {
			g.daemons = append(g.daemons[:i], g.daemons[i+1:]...)
			return
		}
	}
}

// rawStatus returns "i3net status --json" of n as generic JSON, for fields
// the typed proxy.Status may not have (a gateway's counters).
func (n *node) rawStatus(t *testing.T) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	st, err := readStatus[map[string]any](ctx, n.w, n.dir)
	if err != nil {
		t.Fatalf("%s: %v", n.Name(), err)
	}
	return st
}

// gatewayCounters returns the numbers of a gateway's status, in its
// "gateway" object and its "counters", whose names contain part, by name.
func gatewayCounters(st map[string]any, part string) map[string]float64 {
	found := map[string]float64{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				walk(prefix+"."+k, x)
			}
		case float64:
			if strings.Contains(strings.ToLower(prefix), part) {
				found[prefix] = v
			}
		}
	}
	walk("gateway", st["gateway"])
	walk("counters", st["counters"])
	return found
}
