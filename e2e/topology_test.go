package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/vaddr"
)

// The topology every test builds (DESIGN.md §3, the part the legacy proxy
// needs):
//
//	laptop ──┐                     ┌── nat ── home (192.168.1.0/24, masquerade)
//	web    ──┤ "internet" bridge   │
//	srv1   ──┴─────────────────────┘
//
// srv1 runs "i3net server"; web runs the upstream DNS server the hosts'
// resolv.conf names (upstreamDNS); laptop and home run "i3net proxy", each
// with its own identity and an address book naming the other.

const (
	// serverPort is the overlay server's UDP port.
	serverPort = 5610
	// startTimeout bounds a wait for a process to start or answer (a
	// server's socket, a daemon's port, "i3net status"): generous, as every
	// wait for something to happen, since it costs nothing when all goes
	// well and a busy machine starts processes slowly.
	startTimeout = 60 * time.Second
	// homeLAN is the network behind the NAT.
	homeLAN = "192.168.1.0/24"
)

// searchDomain is the search domain of the hosts' resolv.conf: the proxy
// answers NAME.i3.<searchDomain> with NXDOMAIN at once (§3.2).
const searchDomain = "corp.example"

// upstreamA is what the upstream DNS server in web answers for upstreamName:
// an address no proxy invents, so an answer holding it came from upstream.
var (
	upstreamName = "example.org."
	upstreamA    = netip.MustParseAddr("198.18.99.99")
)

// topoOptions changes the default topology.
type topoOptions struct {
	// nat is home's NAT: netlab.NATCone (default) or netlab.NATSymmetric.
	nat netlab.NATKind
	// homeProxyArgs and laptopProxyArgs are extra flags of the proxies.
	homeProxyArgs, laptopProxyArgs []string
	// homeProxyArgsFn, if set, returns extra flags for home's proxy once the
	// identities exist (e.g. --reserve-addr of laptop's derived address).
	homeProxyArgsFn func(w *world) []string
	// beforeProxies, if set, runs once the identities and address books
	// exist, before the proxies start (e.g. to run one as another user).
	beforeProxies func(w *world)
}

// world is one lab with an overlay server, an upstream DNS server, and two
// proxied hosts.
type world struct {
	t       *testing.T
	lab     *netlabtest.Lab
	srv     *netlab.Host
	srvAddr netip.AddrPort
	web     *netlab.Host
	dns     *upstreamDNS
	nat     *netlabtest.NAT
	laptop  *node
	home    *node

	daemons []*netlab.Proc // the i3net processes, checked at cleanup
}

// node is a host running an i3net proxy.
type node struct {
	*netlab.Host
	w         *world
	dir       string // --state-dir
	key       string // public key, "i3pk1:…"
	pubID     id.ID
	proxyArgs []string
	runAs     []string // a command the proxy runs under (setpriv …), if any
	proxy     *netlab.Proc
	self      proxy.SelfStatus // from status once the proxy is up
	// resolvConf is the host's resolver file before its proxy started,
	// which the proxy must put back when it stops.
	resolvConf string
}

// newWorld builds the topology, starts the server and both proxies, and
// returns once both proxies answer "i3net status". It skips t unless root.
func newWorld(t *testing.T, opt topoOptions) *world {
	t.Helper()
	lab := netlabtest.New(t)
	if i3netBin == "" {
		t.Fatal("e2e: no i3net binary (TestMain did not build it)")
	}
	if opt.nat == 0 {
		opt.nat = netlab.NATCone
	}
	w := &world{t: t, lab: lab}
	start := time.Now()
	w.srv = lab.Host("srv1")
	w.web = lab.Host("web")
	w.nat = lab.NATHost("nat", netip.MustParsePrefix(homeLAN), opt.nat)
	w.laptop = &node{Host: lab.Host("laptop"), w: w, proxyArgs: opt.laptopProxyArgs}
	w.home = &node{Host: w.nat.Inside("home"), w: w, proxyArgs: opt.homeProxyArgs}

	// The upstream resolver, and every proxied host's resolv.conf pointing
	// at it before its proxy starts (the proxy keeps it as its upstream).
	w.dns = startUpstreamDNS(t, w.web)
	for _, n := range []*node{w.laptop, w.home} {
		n.resolvConf = fmt.Sprintf("# e2e: the upstream resolver in web\nnameserver %s\nsearch %s\noptions timeout:2 attempts:1\n",
			w.web.Addr4(), searchDomain)
		if err := n.SetResolvConf(n.resolvConf); err != nil {
			t.Fatal(err)
		}
	}

	// Registered after the lab's cleanup, so it runs before it, while the
	// processes are still there to be stopped and looked at.
	t.Cleanup(w.checkDaemons)

	w.startServer()

	// Identities, and address books naming each other.
	for _, n := range []*node{w.laptop, w.home} {
		n.dir = filepath.Join(t.TempDir(), n.Name())
		n.makeIdentity()
	}
	w.laptop.bookAdd("home", w.home.key)
	w.home.bookAdd("laptop", w.laptop.key)
	if opt.homeProxyArgsFn != nil {
		w.home.proxyArgs = append(w.home.proxyArgs, opt.homeProxyArgsFn(w)...)
	}
	if opt.beforeProxies != nil {
		opt.beforeProxies(w)
	}

	w.home.startProxy(t)
	w.laptop.startProxy(t)
	w.home.waitProxy(t)
	w.laptop.waitProxy(t)
	t.Logf("topology up in %v: srv1 %v, web %v (DNS), laptop %v, home %v behind %v NAT %v; proxies: laptop %v, home %v",
		time.Since(start).Round(time.Millisecond), w.srvAddr, w.web.Addr4(), w.laptop.Addr4(),
		w.home.Addr4(), opt.nat, w.nat.Addr4(), w.laptop.self.Addr4, w.home.self.Addr4)
	return w
}

// startServer starts "i3net server" in srv1 and waits until it listens.
func (w *world) startServer() {
	t := w.t
	t.Helper()
	w.srvAddr = netip.AddrPortFrom(w.srv.Addr4(), serverPort)
	p, err := w.srv.Start(i3netBin, "server", "--listen", w.srvAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	w.daemons = append(w.daemons, p)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := netlab.WaitUDP(ctx, w.srv, serverPort); err != nil {
		t.Fatalf("the overlay server did not start: %v", err)
	}
}

// i3net runs the i3net binary outside the namespaces (id, book and status
// only touch files and unix sockets) and returns its standard output.
func (w *world) i3net(ctx context.Context, args ...string) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, startTimeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, i3netBin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("i3net %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// makeIdentity creates the node's identity with "i3net id --json".
func (n *node) makeIdentity() {
	t := n.w.t
	t.Helper()
	out, err := n.w.i3net(context.Background(), "id", "--state-dir", n.dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Key string `json:"key"`
		ID  id.ID  `json:"id"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("i3net id --json: %v: %s", err, out)
	}
	n.key, n.pubID = info.Key, info.ID
}

// bookAdd adds name → key to the node's address book.
func (n *node) bookAdd(name, key string) {
	t := n.w.t
	t.Helper()
	if _, err := n.w.i3net(context.Background(), "book", "add", name, key, "--state-dir", n.dir); err != nil {
		t.Fatal(err)
	}
}

// derived4 and derived6 are the node's virtual addresses as every proxy
// derives them from its public id (§3.3).
func (n *node) derived4() netip.Addr { return vaddr.Derive(vaddr.DefaultPool4, n.pubID) }
func (n *node) derived6() netip.Addr { return vaddr.Derive(vaddr.DefaultPool6, n.pubID) }

// startProxy starts "i3net proxy" in the node with its state directory.
func (n *node) startProxy(t *testing.T) {
	t.Helper()
	args := append([]string{i3netBin, "proxy", "--server", n.w.srvAddr.String(), "--state-dir", n.dir}, n.proxyArgs...)
	args = append(slices.Clone(n.runAs), args...)
	p, err := n.Start(args[0], args[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	n.proxy = p
	n.w.daemons = append(n.w.daemons, p)
}

// checkDaemons stops the world's i3net processes with SIGTERM and checks
// that each exited 0 and reported no panic or data race (with
// I3NET_E2E_RACE=1 the binary has the race detector), and that the proxies
// gave their hosts' resolv.conf back.
func (w *world) checkDaemons() {
	defer func() {
		for _, n := range []*node{w.laptop, w.home} {
			if n == nil || n.proxy == nil {
				continue
			}
			b, err := os.ReadFile(filepath.Join("/etc/netns", n.Namespace(), "resolv.conf"))
			if err != nil || string(b) != n.resolvConf {
				w.t.Errorf("%s: resolv.conf after the proxy stopped is %q (%v), want the original %q back", n.Name(), b, err, n.resolvConf)
			}
		}
	}()
	for _, p := range w.daemons {
		if err := p.Stop(); err != nil {
			w.t.Error(err)
			continue
		}
		out := p.Output()
		if err := p.Wait(); err != nil {
			w.t.Errorf("%s exited with %v after SIGTERM, want 0:\n%s", p, err, tail(out, 4096))
			continue
		}
		for _, bad := range []string{"DATA RACE", "panic:"} {
			if i := bytes.Index(out, []byte(bad)); i >= 0 {
				w.t.Errorf("%s reported %q:\n%s", p, bad, tail(out[i:], 8192))
				break
			}
		}
	}
}

// waitProxy waits, bounded, until the node's proxy answers "i3net status",
// and records what it says of this host.
func (n *node) waitProxy(t *testing.T) {
	t.Helper()
	var st proxy.Status
	waitAnswers(t, n.Name()+"'s "+n.proxy.String(), n.proxy, func(ctx context.Context) error {
		var err error
		st, err = n.status(ctx)
		return err
	})
	n.self = st.Self
}

// waitAnswers waits, bounded by startTimeout, until check (a status read)
// succeeds, failing the test with the process's output if p exits first or
// check never succeeds.
func waitAnswers(t *testing.T, what string, p *netlab.Proc, check func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	err := netlab.Poll(ctx, 50*time.Millisecond, func() error {
		select {
		case <-p.Done():
			return nil // reported below
		default:
		}
		return check(ctx)
	})
	select {
	case <-p.Done():
		t.Fatalf("%s exited (%v): %s", what, p.Wait(), tail(p.Output(), 2048))
	default:
	}
	if err != nil {
		t.Fatalf("%s did not answer within %v: %v\n%s", what, startTimeout, err, tail(p.Output(), 2048))
	}
}

// status reads the node's proxy status with "i3net status --json".
func (n *node) status(ctx context.Context) (proxy.Status, error) {
	return readStatus[proxy.Status](ctx, n.w, n.dir)
}

// readStatus reads "i3net status --json" of the daemon whose state
// directory is dir (a proxy, gateway or middlebox) into a T.
func readStatus[T any](ctx context.Context, w *world, dir string) (T, error) {
	var st T
	out, err := w.i3net(ctx, "status", "--state-dir", dir, "--json")
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return st, fmt.Errorf("i3net status --json: %w: %s", err, out)
	}
	return st, nil
}

// mustStatus is status that fails the test on error.
func (n *node) mustStatus(t *testing.T) proxy.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	st, err := n.status(ctx)
	if err != nil {
		t.Fatalf("%s: %v", n.Name(), err)
	}
	return st
}

// peerNamed returns the status of the peer named name, or false.
func peerNamed(st proxy.Status, name string) (proxy.PeerStatus, bool) {
	for _, p := range st.Peers {
		if p.Name == name {
			return p, true
		}
	}
	return proxy.PeerStatus{}, false
}

// stopProxy ends the node's proxy with SIGTERM and waits, bounded, for it to
// exit; it returns how long that took.
func (n *node) stopProxy(t *testing.T) time.Duration {
	t.Helper()
	start := time.Now()
	if err := n.proxy.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-n.proxy.Done():
	case <-time.After(netlab.StopGrace):
		t.Fatalf("%s: the proxy did not exit within %v of SIGTERM", n.Name(), netlab.StopGrace)
	}
	if err := n.proxy.Wait(); err != nil {
		t.Errorf("%s: the proxy exited with %v after SIGTERM, want 0:\n%s", n.Name(), err, tail(n.proxy.Output(), 2048))
	}
	return time.Since(start)
}

// startDaemon starts a server program in h for test t and stops it when t
// ends (a subtest's server then goes before the files t.TempDir gave it);
// the lab prints its output if the test failed.
func startDaemon(t *testing.T, h *netlab.Host, name string, args ...string) *netlab.Proc {
	t.Helper()
	return netlabtest.Start(t, h, name, args...)
}

// run runs a program in host h, bounded by ctx (netlab.RunTimeout if none),
// logs the command, and returns its combined output.
func run(t *testing.T, ctx context.Context, h *netlab.Host, name string, args ...string) ([]byte, error) {
	t.Helper()
	start := time.Now()
	out, err := h.Run(ctx, name, args...)
	t.Logf("%s$ %s %s  (%v)", h.Name(), name, strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	return out, err
}

// mustRun is run failing the test on error.
func mustRun(t *testing.T, ctx context.Context, h *netlab.Host, name string, args ...string) []byte {
	t.Helper()
	out, err := run(t, ctx, h, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// needProgram skips t, saying so, when a program it drives is not installed.
func needProgram(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			t.Skipf("e2e: skipping: %s is not installed (scripts/deps installs it)", name)
		}
	}
}

// tail returns the end of b as a string.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// upstreamDNS is a tiny authoritative DNS server, the upstream resolver of
// the proxied hosts: it answers upstreamName with upstreamA and everything
// else with NXDOMAIN, and counts what it was asked.
type upstreamDNS struct {
	addr    netip.AddrPort
	queries atomic.Int64
	asked   chan string // names asked, for tests that look (never blocks)
}

// startUpstreamDNS serves DNS on h's address, port 53, until the test ends.
func startUpstreamDNS(t *testing.T, h *netlab.Host) *upstreamDNS {
	t.Helper()
	u := &upstreamDNS{addr: netip.AddrPortFrom(h.Addr4(), 53), asked: make(chan string, 64)}
	pc, err := h.ListenPacket("udp4", u.addr)
	if err != nil {
		t.Fatalf("upstream DNS in %s: %v", h.Name(), err)
	}
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(u.serve)}
	done := make(chan error, 1)
	go func() { done <- srv.ActivateAndServe() }()
	t.Cleanup(func() {
		srv.Shutdown()
		select {
		case <-done:
		case <-time.After(startTimeout):
			t.Errorf("upstream DNS server did not stop within %v", startTimeout)
		}
	})
	return u
}

func (u *upstreamDNS) serve(w mdns.ResponseWriter, r *mdns.Msg) {
	u.queries.Add(1)
	m := new(mdns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	if len(r.Question) != 1 {
		m.Rcode = mdns.RcodeFormatError
		w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	select {
	case u.asked <- strings.ToLower(q.Name):
	default:
	}
	switch {
	case strings.EqualFold(q.Name, upstreamName) && q.Qtype == mdns.TypeA:
		m.Answer = append(m.Answer, &mdns.A{
			Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60},
			A:   net.IP(upstreamA.AsSlice()),
		})
	case strings.EqualFold(q.Name, upstreamName):
		// NOERROR, no data
	default:
		m.Rcode = mdns.RcodeNameError
	}
	w.WriteMsg(m)
}

// askedNames returns the names the upstream server was asked since the last
// call.
func (u *upstreamDNS) askedNames() []string {
	var names []string
	for {
		select {
		case n := <-u.asked:
			names = append(names, n)
		default:
			return names
		}
	}
}

// writeFile writes a file for a test, failing it on error.
func writeFile(t *testing.T, path string, data []byte, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, perm); err != nil {
		t.Fatal(err)
	}
}
