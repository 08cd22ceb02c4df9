package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/netlab"
)

// The lab part builds hosts out of network namespaces, joins three overlay
// servers into one ring, has real programs reach a host behind a NAT by name
// through the proxies, then has cafe reach home anonymously (anonymity.go),
// then an intranet's hosts, which run nothing of i3net,
// through the i3-to-IP gateway on its router (gateway.go), then has phone,
// which runs nothing of i3net either, reach home by a DNS name through the
// IP-to-i3 ingress (ingress.go), and last has home impose a middlebox, ids,
// whose Suricata alerts home to an FTP upload (middlebox.go), and last has
// laptop's proxy join a second overlay, .lab, with a server of its own
// (overlays.go):
//
//	laptop   ──┐  "internet" bridge   ┌── nat ─────── home (192.168.1.0/24)
//	cafe     ──┤ (reaches home anonymously)
//	srv1..3  ──┤  198.18.0.0/15       └── office-gw ── wiki .10, dns .53 (10.1.0.0/24)
//	ingress  ──┤ (i3net ingress; waypoints 198.19.255.10, .11)
//	parent   ──┤ (unbound: example.net)   resolver (unbound, recursive) ──┤
//	phone    ──┤ (no i3net)
//	ids      ──┤ (i3net middlebox + Suricata)
//	labsrv   ──┤ (the .lab overlay's server)
//	build    ──┘ (in the .lab overlay alone)

// procTail is how much of each process's output a failed demo prints.
const procTail = 1024

// labDemo is the state the lab phases share.
type labDemo struct {
	n    *narrator
	self string // the i3net executable
	dir  string // state directories and process output, removed at the end
	lab  *netlab.Lab
	web  *http.Server // home's web server, once started

	srvs         []*netlab.Host
	laptop, home *netlab.Host
	nat          *netlab.NAT
	ring         *demoRing
	ids          map[string]id.ID  // home's and laptop's public ids
	keys         map[string]string // public keys (i3pk1…) by host
	office       office            // the intranet behind office-gw (gateway.go)
	homeProxy    *netlab.Proc      // home's proxy, restarted when it imposes ids-mb
	laptopProxy  *netlab.Proc      // laptop's proxy, restarted when it joins the lab overlay
	extraWeb     []*http.Server    // other hosts' web servers (overlays.go)
	ing          ingressWorld      // the ingress, its DNS and phone (ingress.go)
	mb           idsBox            // the middlebox ids and its IDS (middlebox.go)
}

// runLab runs the lab part; whatever happens, it stops every process and
// deletes every namespace it made before it returns.
func runLab(ctx context.Context, n *narrator, self string) (err error) {
	if err := checkLab(runtime.GOOS); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, labTimeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "i3net-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	lab, err := netlab.New(netlab.Options{LogDir: dir, Logf: n.say})
	if err != nil {
		return err
	}
	d := &labDemo{n: n, self: self, dir: dir, lab: lab, ids: map[string]id.ID{}, keys: map[string]string{}}
	defer func() {
		showOutput := err != nil && !errors.Is(ctx.Err(), context.Canceled) // failed, not interrupted
		err = errors.Join(err, d.cleanup(showOutput))
	}()
	return runPhases(ctx, d.buildHosts, d.startRing, d.identities, d.startProxies,
		d.serveWeb, d.reachHome, d.serverCounters, d.proxyStatus, d.anonymousVisitor,
		d.buildOffice, d.startGateway, d.reachOffice, d.gatewayStatus,
		d.startIngress, d.publishHome, d.phoneReachesHome, d.ingressStatus,
		d.startMiddlebox, d.imposeMiddlebox, d.uploadEggdrop, d.secondOverlay)
}

// checkLab says what the lab part needs that this machine, running goos,
// lacks.
func checkLab(goos string) error {
	if goos != "linux" {
		return errors.New("the demonstration's second part builds Linux network namespaces and needs Linux: here, see the overlay part alone with --overlay-only")
	}
	if os.Geteuid() != 0 {
		return errors.New("the demonstration builds network namespaces and needs root: run it as root (sudo ./scripts/demo), or see only the overlay with --overlay-only")
	}
	for _, tool := range append([]string{"curl", "ping", "dig", "bash"}, netlab.Tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("the demonstration needs %s: run ./scripts/demo, which installs it", tool)
		}
	}
	if _, err := netlab.Dnsmasq(); err != nil {
		return fmt.Errorf("the demonstration's intranet needs a DNS server: %w; run ./scripts/demo, which installs it", err)
	}
	if _, err := exec.LookPath(unboundPath); err != nil {
		return fmt.Errorf("the demonstration's ingress needs DNS servers: %s is not installed; run ./scripts/demo, which installs it", unboundPath)
	}
	return nil
}

// unboundPath is where Debian's unbound package puts unbound, which runs the
// ingress's parent zone and phone's resolver.
const unboundPath = "/usr/sbin/unbound"

// cleanup stops the web server, every process and every namespace, then, if
// showOutput (the demo failed), shows what the processes wrote.
func (d *labDemo) cleanup(showOutput bool) error {
	d.n.say("cleaning up: stopping every process and deleting every namespace the demo made")
	if d.web != nil {
		d.web.Close()
	}
	if d.office.web != nil {
		d.office.web.Close()
	}
	for _, w := range d.extraWeb {
		w.Close()
	}
	if d.ing.daytime != nil {
		d.ing.daytime.Close()
	}
	err := d.lab.Close()
	if showOutput {
		for _, p := range d.lab.Procs() {
			fmt.Fprintf(d.n.w, "output of %s\n", p.Report(procTail))
		}
	}
	return err
}

// buildHosts makes three servers and laptop on the internet, and home behind
// a NAT.
func (d *labDemo) buildHosts(ctx context.Context) error {
	d.n.chapter("Hosts made of network namespaces")
	for _, name := range []string{"srv1", "srv2", "srv3"} {
		h, err := d.lab.Host(name)
		if err != nil {
			return err
		}
		d.srvs = append(d.srvs, h)
	}
	var err error
	if d.laptop, err = d.lab.Host("laptop"); err != nil {
		return err
	}
	if d.nat, err = d.lab.NATHost("nat", netip.MustParsePrefix("192.168.1.0/24"), netlab.NATCone); err != nil {
		return err
	}
	if d.home, err = d.nat.Inside("home"); err != nil {
		return err
	}
	d.n.say("srv1 %v, srv2 %v, srv3 %v and laptop %v on the internet; home %v behind a NAT (masquerade) at %v",
		d.srvs[0].Addr4(), d.srvs[1].Addr4(), d.srvs[2].Addr4(), d.laptop.Addr4(), d.home.Addr4(), d.nat.Addr4())
	return nil
}

// startRing starts the three servers, joined into one ring (ring.go).
func (d *labDemo) startRing(ctx context.Context) error {
	d.n.chapter("Three overlay servers join into one ring")
	var err error
	d.ring, err = startRing(ctx, d.n, d.self, d.srvs)
	return err
}

// identities gives home and laptop an identity each and an address book
// naming the other, and says which server will hold each one's trigger.
func (d *labDemo) identities(ctx context.Context) error {
	d.n.chapter("Identities and address books")
	for _, h := range []string{"home", "laptop"} {
		if err := d.newIdentity(ctx, h); err != nil {
			return err
		}
	}
	for _, c := range [][2]string{{"laptop", "home"}, {"home", "laptop"}} {
		if err := d.bookAdd(ctx, c[0], c[1]); err != nil {
			return err
		}
	}
	d.n.say("laptop's book: home → home's key; home's book: laptop → laptop's key")
	for _, h := range []string{"home", "laptop"} {
		owner, replica := d.ring.owner(d.ids[h])
		d.n.say("%s's public id %s falls in %s's part of the ring: %s will hold %s's public trigger, %s a copy",
			h, d.ids[h].Short(), owner, owner, h, replica)
	}
	return nil
}

// newIdentity runs "i3net id" for host, keeps its key and public id, and
// says them.
func (d *labDemo) newIdentity(ctx context.Context, host string) error {
	out, err := exec.CommandContext(ctx, d.self, "id", "--state-dir", d.stateDir(host), "--json").Output()
	if err != nil {
		return fmt.Errorf("i3net id for %s: %w", host, err)
	}
	var info struct{ Key, ID string }
	if err := json.Unmarshal(out, &info); err != nil {
		return fmt.Errorf("i3net id --json for %s: %w", host, err)
	}
	d.keys[host] = info.Key
	if d.ids[host], err = id.Parse(info.ID); err != nil {
		return fmt.Errorf("i3net id for %s: %w", host, err)
	}
	d.n.say("%s's public key %s (public id %s…)", host, info.Key, info.ID[:8])
	return nil
}

// bookAdd adds peer, by its key, to host's address book.
func (d *labDemo) bookAdd(ctx context.Context, host, peer string) error {
	return d.bookAddAs(ctx, host, peer, d.keys[peer])
}

// bookAddAs adds name, with key, to host's address book.
func (d *labDemo) bookAddAs(ctx context.Context, host, name, key string) error {
	out, err := exec.CommandContext(ctx, d.self, "book", "add", name, key, "--state-dir", d.stateDir(host)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("i3net book add %s on %s: %v: %s", name, host, err, out)
	}
	return nil
}

// waitStatus waits until "i3net status" on h answers with a status that ok
// accepts.
func (d *labDemo) waitStatus(ctx context.Context, h *netlab.Host, ok func(status string) bool) error {
	return netlab.Poll(ctx, 50*time.Millisecond, func() error {
		out, err := h.Run(ctx, d.self, "status", "--state-dir", d.stateDir(h.Name()))
		if err != nil {
			return err
		}
		if !ok(string(out)) {
			return fmt.Errorf("i3net status on %s: not yet:\n%s", h.Name(), out)
		}
		return nil
	})
}

// startProxies starts a proxy on home and on laptop, given srv1's address
// only, and waits for each to answer "i3net status". laptop's proxy also
// gets its name rules (proxy.toml), for the gateway's chapters.
func (d *labDemo) startProxies(ctx context.Context) error {
	d.n.chapter("Proxies on both hosts, given srv1's address")
	srvAddr := d.ring.servers[0].data
	rules, err := d.writeLaptopRules()
	if err != nil {
		return err
	}
	for _, h := range []*netlab.Host{d.home, d.laptop} {
		args := []string{"proxy", "--server", srvAddr.String(), "--state-dir", d.stateDir(h.Name()), "--log-level", "warn"}
		if h == d.laptop {
			args = append(args, "--config", rules)
		}
		p, err := h.Start(d.self, args...)
		if err != nil {
			return err
		}
		if h == d.home {
			d.homeProxy = p
		} else {
			d.laptopProxy = p
		}
	}
	for _, h := range []*netlab.Host{d.home, d.laptop} {
		start := time.Now()
		if err := d.waitStatus(ctx, h, func(string) bool { return true }); err != nil {
			return fmt.Errorf("the proxy on %s did not come up: %w", h.Name(), err)
		}
		d.n.say("proxy up on %s after %v: tun device, DNS on the virtual pool, public trigger inserted", h.Name(), time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// serveWeb serves HTTP on home:80, which nothing on the NAT forwards to.
func (d *labDemo) serveWeb(ctx context.Context) error {
	d.n.chapter("A web server on home, behind the NAT")
	ln, err := d.home.Listen("tcp4", netip.AddrPortFrom(netip.IPv4Unspecified(), 80))
	if err != nil {
		return err
	}
	d.web = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from home, you are %s\n", r.RemoteAddr)
	}), ReadHeaderTimeout: 5 * time.Second}
	go d.web.Serve(ln)
	d.n.say("serving http on home:80; nothing on the NAT forwards to it")
	return nil
}

// reachHome: curl fails to reach home's private address, then reaches
// home.i3 through the overlay, twice; ping home.i3 answers.
func (d *labDemo) reachHome(ctx context.Context) error {
	d.n.chapter("laptop reaches home by name with unmodified programs")
	if _, err := d.laptop.Run(ctx, "curl", "-sS", "-m", "2", "http://"+d.home.Addr4().String()+"/"); err == nil {
		return fmt.Errorf("laptop reached home's private address %v directly: the NAT is not in the way", d.home.Addr4())
	}
	d.n.say("$ curl http://%v/   fails: home's own address is private, behind the NAT", d.home.Addr4())
	start := time.Now()
	out, err := d.laptop.Run(ctx, "curl", "-sS", "-m", "10", "http://home.i3/")
	if err != nil {
		return fmt.Errorf("curl http://home.i3/: %w", err)
	}
	d.n.say("$ curl http://home.i3/   (%v, first contact: DNS, private triggers, handshake)", time.Since(start).Round(time.Millisecond))
	d.n.say("  %s", strings.TrimSpace(string(out)))
	start = time.Now()
	if _, err := d.laptop.Run(ctx, "curl", "-sS", "-m", "10", "http://home.i3/"); err != nil {
		return fmt.Errorf("curl http://home.i3/ again: %w", err)
	}
	d.n.say("again: %v (the session is up)", time.Since(start).Round(time.Millisecond))
	out, err = d.laptop.Run(ctx, "ping", "-c", "3", "-i", "0.2", "home.i3")
	if err != nil {
		return fmt.Errorf("ping home.i3: %w", err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.Contains(l, "bytes from") || strings.Contains(l, "rtt") || strings.Contains(l, "transmitted") {
			d.n.say("  %s", l)
		}
	}
	return nil
}

// serverCounters shows what each server did, from its Prometheus counters.
func (d *labDemo) serverCounters(ctx context.Context) error {
	d.n.chapter("What the servers did (their Prometheus counters)")
	return d.ring.report(ctx, d.n)
}

// proxyStatus shows "i3net status" on laptop.
func (d *labDemo) proxyStatus(ctx context.Context) error {
	d.n.chapter("What laptop's proxy knows (i3net status)")
	out, err := d.laptop.Run(ctx, d.self, "status", "--state-dir", d.stateDir("laptop"))
	if err != nil {
		return err
	}
	d.sayLines(strings.Split(string(out), "\n"))
	return nil
}

// stateDir is host's i3net state directory.
func (d *labDemo) stateDir(host string) string { return filepath.Join(d.dir, host) }
