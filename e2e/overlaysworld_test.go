package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
	"github.com/i3net/i3net/proxy"
)

// The lab of TestOverlays (issue 14, paper §10): two overlays, each with a
// ring of two servers, and a laptop in both.
//
//	srva1 srva2 (ring A, .i3)   srvb1 srvb2 (ring B, .lab)
//	laptop  build  web ─── "internet" bridge ─── nat ── home
//
// laptop runs one "i3net proxy" with one tun device for .i3 (ring A, the
// host's identity) and, from its config's [[overlay]], .lab (ring B, its
// own identity lab.pem and book book.lab). home is in ring A only, build in
// ring B only.

// Pools of the two overlays: disjoint, as Check wants.
var (
	i3Pool4  = netip.MustParsePrefix("100.64.0.0/12")
	labPool4 = netip.MustParsePrefix("100.96.0.0/12")
)

// overlaysWorld is the lab of TestOverlays; its world holds laptop, home,
// web's DNS and the i3net proxies checked at cleanup.
type overlaysWorld struct {
	*world
	ringA, ringB []*ringServer
	build        *node
	labKey       string // laptop's lab identity
}

// newOverlaysWorld builds the lab and starts every server and proxy; it
// returns once the proxies answer "i3net status".
func newOverlaysWorld(t *testing.T) *overlaysWorld {
	t.Helper()
	lab := netlabtest.New(t)
	if i3netBin == "" {
		t.Fatal("e2e: no i3net binary (TestMain did not build it)")
	}
	w := &overlaysWorld{world: &world{t: t, lab: lab}}
	w.ringA = w.startRing("srva", 0x40, 0xc0)
	w.ringB = w.startRing("srvb", 0x40, 0xc0)
	w.srvAddr = w.ringA[0].data
	w.web = lab.Host("web")
	w.dns = startUpstreamDNS(t, w.web)
	w.nat = lab.NATHost("nat", netip.MustParsePrefix(homeLAN), netlab.NATCone)
	w.laptop = &node{Host: lab.Host("laptop"), w: w.world}
	w.home = &node{Host: w.nat.Inside("home"), w: w.world}
	w.build = &node{Host: lab.Host("build"), w: w.world}
	for _, n := range []*node{w.laptop, w.home} {
		n.resolvConf = fmt.Sprintf("# e2e: the upstream resolver in web\nnameserver %s\nsearch %s\noptions timeout:2 attempts:1\n",
			w.web.Addr4(), searchDomain)
		if err := n.SetResolvConf(n.resolvConf); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(w.checkDaemons)
	for _, n := range []*node{w.laptop, w.home, w.build} {
		n.dir = filepath.Join(t.TempDir(), n.Name())
		n.makeIdentity()
	}
	w.labKey = w.labIdentity()
	w.laptop.bookAdd("home", w.home.key)
	w.home.bookAdd("laptop", w.laptop.key)
	w.build.bookAdd("laptop", w.labKey)
	if _, err := w.i3net(context.Background(), "book", "--book", filepath.Join(w.laptop.dir, "book.lab"), "add", "build", w.build.key); err != nil {
		t.Fatal(err)
	}
	w.startProxies()
	return w
}

// startRing starts a ring of servers named prefix1, prefix2… at the ring
// positions given, each joining the first, and waits until all see it
// whole.
func (w *overlaysWorld) startRing(prefix string, positions ...byte) []*ringServer {
	t := w.t
	t.Helper()
	var servers []*ringServer
	for i, pos := range positions {
		name := fmt.Sprintf("%s%d", prefix, i+1)
		h := w.lab.Host(name)
		s := &ringServer{name: name, host: h, data: netip.AddrPortFrom(h.Addr4(), serverPort)}
		args := []string{"server", "--listen", s.data.String(), "--ring", "--ring-preset", presetFast,
			"--ring-position", position(pos), "--metrics", netip.AddrPortFrom(h.Addr4(), ringMetricsPort).String()}
		if i > 0 {
			args = append(args, "--join", netip.AddrPortFrom(servers[0].data.Addr(), serverPort+1).String())
		}
		s.proc = netlabtest.Start(t, h, i3netBin, args...)
		servers = append(servers, s)
		ctx, cancel := context.WithTimeout(context.Background(), ringUpTimeout)
		err := netlab.WaitUDP(ctx, h, serverPort)
		cancel()
		if err != nil {
			t.Fatalf("%s did not start: %v\n%s", name, err, tail(s.proc.Output(), 2048))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), ringUpTimeout)
	defer cancel()
	for _, s := range servers {
		err := netlab.Poll(ctx, 50*time.Millisecond, func() error {
			m, err := s.metrics(ctx)
			if err == nil && m["i3net_server_ring_members"] != float64(len(servers)) {
				err = fmt.Errorf("%v members", m["i3net_server_ring_members"])
			}
			return err
		})
		if err != nil {
			for _, c := range [][]string{{"ss", "-ltnp"}, {"ip", "-br", "addr"}, {"ping", "-c", "1", "-W", "2", servers[0].data.Addr().String()}} {
				for _, d := range servers {
					out, err := d.host.Run(context.Background(), c[0], c[1:]...)
					t.Logf("%s$ %v: %v\n%s", d.name, c, err, out)
				}
			}
			t.Fatalf("%s does not see a ring of %d: %v", s.name, len(servers), err)
		}
	}
	return servers
}

// labIdentity makes laptop's second identity, lab.pem, with "i3net id
// --file", and returns its key.
func (w *overlaysWorld) labIdentity() string {
	out, err := w.i3net(context.Background(), "id", "--state-dir", w.laptop.dir, "--file", "lab.pem", "--json")
	if err != nil {
		w.t.Fatal(err)
	}
	var info struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		w.t.Fatalf("i3net id --json: %v: %s", err, out)
	}
	return info.Key
}

// serverList is the servers' data addresses, comma-separated.
func serverList(ring []*ringServer) []string {
	var l []string
	for _, s := range ring {
		l = append(l, `"`+s.data.String()+`"`)
	}
	return l
}

// startProxies starts home (ring A), build (ring B) and laptop (both, from
// its config file), and waits for their status.
func (w *overlaysWorld) startProxies() {
	t := w.t
	conf := fmt.Sprintf(`# e2e: laptop in two overlays
servers = [%s]

[[overlay]]
suffix = "lab"
servers = [%s]
pool4 = "%s"
identity = "lab.pem"
`, serverList(w.ringA[1:])[0], strings.Join(serverList(w.ringB), ", "), labPool4)
	confPath := filepath.Join(w.laptop.dir, "proxy.toml")
	writeFile(t, confPath, []byte(conf), 0o600)
	w.laptop.proxyArgs = []string{"--config", confPath, "--pool4", i3Pool4.String()}
	w.home.proxyArgs = []string{"--server", w.ringA[1].data.String(), "--pool4", i3Pool4.String()}
	w.home.startProxy(t)
	w.laptop.startProxy(t)
	p, err := w.build.Start(i3netBin, "proxy", "--state-dir", w.build.dir, "--suffix", "lab", "--dns-mode", "off",
		"--server", w.ringB[0].data.String(), "--server", w.ringB[1].data.String(), "--pool4", labPool4.String(), "--pool6", "off")
	if err != nil {
		t.Fatal(err)
	}
	w.build.proxy = p
	w.daemons = append(w.daemons, p)
	for _, n := range []*node{w.home, w.build, w.laptop} {
		n.waitProxy(t)
	}
}

// labStatus returns the .lab part of laptop's status.
func labStatus(t *testing.T, st proxy.Status) proxy.Status {
	t.Helper()
	for _, o := range st.Overlays {
		if o.Self.Suffix == "lab" {
			return o
		}
	}
	t.Fatalf("laptop's status has no .lab overlay: %+v", st.Overlays)
	return proxy.Status{}
}

// kill ends the server s with SIGKILL, by its pid, and waits for it.
func (s *ringServer) kill(t *testing.T) {
	t.Helper()
	s.killed = true
	if err := s.proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.proc.Done():
	case <-time.After(netlab.StopGrace):
		t.Fatalf("%s still running after SIGKILL", s.name)
	}
}
