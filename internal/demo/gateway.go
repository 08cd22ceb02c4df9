package demo

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/i3net/i3net/internal/netlab"
)

// The gateway's chapters (docs/gateway.md): an office intranet whose hosts
// run nothing of i3net, behind its router office-gw, which runs
// "i3net gateway". laptop's proxy sends names under corp.example to
// office-gw by a name rule; unmodified curl and ping then reach the
// intranet's wiki by name, and the intranet sees office-gw's address.

var (
	officeLAN = netip.MustParsePrefix("10.1.0.0/24")
	wikiAddr  = netip.MustParseAddr("10.1.0.10")
	officeDNS = netip.MustParseAddr("10.1.0.53")
)

const (
	wikiName = "wiki.corp.example"
	// labName falls under a rule of laptop's that sends it to office-gw,
	// which serves only corp.example: it refuses.
	labName = "wiki.lab.example"
)

// laptopRules is laptop's proxy.toml: its name rules.
const laptopRules = `# i3net demo: laptop's name rules (docs/gateway.md)
[[rule]]
match = "*.corp.example"
via = "office-gw"

[[rule]]
match = "*.lab.example"
via = "office-gw"
`

// office is the intranet behind office-gw.
type office struct {
	gw        *netlab.NAT
	wiki, dns *netlab.Host
	web       *http.Server // wiki's web server, once started
	dnsProc   *netlab.Proc // dns's dnsmasq
}

// writeLaptopRules writes laptop's proxy.toml and returns its path.
func (d *labDemo) writeLaptopRules() (string, error) {
	path := filepath.Join(d.dir, "laptop-proxy.toml")
	if err := os.WriteFile(path, []byte(laptopRules), 0o600); err != nil {
		return "", err
	}
	d.n.say("laptop's proxy also reads proxy.toml (--config), whose rules send *.corp.example and *.lab.example to office-gw, a gateway we meet later")
	return path, nil
}

// buildOffice makes the intranet: office-gw on the internet, routing
// 10.1.0.0/24 without forwarding anything yet, a web server at wiki
// (10.1.0.10) and a DNS server at dns (10.1.0.53).
func (d *labDemo) buildOffice(ctx context.Context) error {
	d.n.chapter("An office intranet behind its router, office-gw")
	o := &d.office
	var err error
	if o.gw, err = d.lab.NATHost("office-gw", officeLAN, netlab.NATNone); err != nil {
		return err
	}
	if o.wiki, err = o.gw.InsideAt("wiki", wikiAddr); err != nil {
		return err
	}
	if o.dns, err = o.gw.InsideAt("dns", officeDNS); err != nil {
		return err
	}
	d.n.say("office-gw %v on the internet routes the intranet %v (its address there: %v); by itself it forwards nothing",
		o.gw.Addr4(), officeLAN, o.gw.LAN().Gateway4())
	ln, err := o.wiki.Listen("tcp4", netip.AddrPortFrom(netip.IPv4Unspecified(), 80))
	if err != nil {
		return err
	}
	o.web = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "the office wiki (%v) says hello to %s\n", wikiAddr, r.RemoteAddr)
	}), ReadHeaderTimeout: 5 * time.Second}
	go o.web.Serve(ln)
	if o.dnsProc, err = o.dns.StartDNS(ctx, map[string]netip.Addr{wikiName: wikiAddr}); err != nil {
		return err
	}
	d.n.say("wiki %v serves http; dns %v (dnsmasq) answers %s → %v; neither runs anything of i3net",
		wikiAddr, officeDNS, wikiName, wikiAddr)
	if _, err := d.laptop.Run(ctx, "curl", "-sS", "-m", "2", "http://"+wikiAddr.String()+"/"); err == nil {
		return fmt.Errorf("laptop reached the intranet's %v directly: it should have no route there", wikiAddr)
	}
	d.n.say("$ curl http://%v/   fails on laptop: the intranet is private, no route leads there", wikiAddr)
	return nil
}

// startGateway gives office-gw an identity and an allowlist naming laptop,
// starts "i3net gateway" on it, and puts office-gw in laptop's book.
func (d *labDemo) startGateway(ctx context.Context) error {
	d.n.chapter("office-gw runs i3net gateway; only laptop may use it")
	gw := d.office.gw.Host
	if err := d.newIdentity(ctx, gw.Name()); err != nil {
		return err
	}
	if err := d.bookAdd(ctx, gw.Name(), "laptop"); err != nil {
		return err
	}
	d.n.say("office-gw's book is its allowlist: laptop → laptop's key; any other key gets an authenticated refusal")
	conf, err := d.writeGatewayConf()
	if err != nil {
		return err
	}
	start := time.Now()
	if _, err := gw.Start(d.self, "gateway", "--state-dir", d.stateDir(gw.Name()), "--config", conf, "--log-level", "warn"); err != nil {
		return err
	}
	if err := d.waitStatus(ctx, gw, func(string) bool { return true }); err != nil {
		return fmt.Errorf("the gateway on office-gw did not come up: %w", err)
	}
	d.n.say("$ i3net gateway --config gateway.toml   (on office-gw) up after %v: tun device, NAT rules, public trigger inserted",
		time.Since(start).Round(time.Millisecond))
	if err := d.bookAdd(ctx, "laptop", gw.Name()); err != nil {
		return err
	}
	start = time.Now()
	if err := d.waitStatus(ctx, d.laptop, func(st string) bool { return !strings.Contains(st, "not in the address book") }); err != nil {
		return fmt.Errorf("laptop's proxy did not read office-gw from its book: %w", err)
	}
	d.n.say("laptop's book: office-gw → office-gw's key; its running proxy read it after %v (no restart)", time.Since(start).Round(time.Millisecond))
	return nil
}

// writeGatewayConf writes office-gw's gateway.toml, shows it, and returns
// its path.
func (d *labDemo) writeGatewayConf() (string, error) {
	conf := fmt.Sprintf("servers = [%q]\nserve_names = [\"*.corp.example\"]\nserve_cidrs = [%q]\nresolvers = [%q]\n",
		d.ring.servers[0].data, officeLAN, netip.AddrPortFrom(officeDNS, 53))
	path := filepath.Join(d.dir, "gateway.toml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return "", err
	}
	d.n.say("office-gw's gateway.toml: the names and addresses it serves, and the intranet's own DNS:")
	for _, l := range strings.Split(strings.TrimSpace(conf), "\n") {
		d.n.say("  %s", l)
	}
	return path, nil
}

// reachOffice: curl and ping reach wiki.corp.example by name from laptop,
// which knows it by a virtual address; the intranet sees office-gw; a name
// office-gw does not serve is refused at once.
func (d *labDemo) reachOffice(ctx context.Context) error {
	d.n.chapter("laptop reaches " + wikiName + " by name through office-gw")
	start := time.Now()
	out, err := d.laptop.Run(ctx, "curl", "-sS", "-m", "10", "http://"+wikiName+"/")
	if err != nil {
		return fmt.Errorf("curl http://%s/: %w", wikiName, err)
	}
	d.n.say("$ curl http://%s/   (%v, first contact: the name asked through office-gw, session set up)", wikiName, time.Since(start).Round(time.Millisecond))
	d.n.say("  %s", strings.TrimSpace(string(out)))
	gwLAN := d.office.gw.LAN().Gateway4()
	if !strings.Contains(string(out), " "+gwLAN.String()+":") {
		return fmt.Errorf("the wiki saw the request come from elsewhere than office-gw's %v: %q", gwLAN, out)
	}
	d.n.say("the wiki saw office-gw's intranet address %v, not laptop's: office-gw's kernel NATs laptop's flows", gwLAN)
	if err := d.pingOffice(ctx); err != nil {
		return err
	}
	if q := dnsmasqQuery.FindString(string(d.office.dnsProc.Output())); q != "" {
		d.n.say("dns's log: %q: office-gw asked the intranet's DNS for laptop", q)
	}
	start = time.Now()
	out, err = d.laptop.Run(ctx, "curl", "-sS", "-m", "10", "http://"+labName+"/")
	if err == nil {
		return fmt.Errorf("curl http://%s/ succeeded through office-gw, which does not serve it: %q", labName, out)
	}
	d.n.say("$ curl http://%s/   fails after %v: office-gw serves only *.corp.example and refuses the name",
		labName, time.Since(start).Round(time.Millisecond))
	d.n.say("  %s", strings.TrimSpace(string(out)))
	return nil
}

// dnsmasqQuery matches the line of dnsmasq's log for wiki's A query.
var dnsmasqQuery = regexp.MustCompile(`query\[A\] ` + regexp.QuoteMeta(wikiName) + ` from [0-9.]+`)

// pingFrom matches ping's first line: "PING NAME (ADDR) ...".
var pingFrom = regexp.MustCompile(`^PING \S+ \(([^)]+)\)`)

// pingOffice pings wiki.corp.example from laptop and says at which virtual
// address laptop knows it. -n: no reverse lookup of each reply's address.
func (d *labDemo) pingOffice(ctx context.Context) error {
	out, err := d.laptop.Run(ctx, "ping", "-n", "-c", "3", "-i", "0.2", "-W", "3", wikiName)
	if err != nil {
		return fmt.Errorf("ping %s: %w\n%s", wikiName, err, out)
	}
	d.n.say("$ ping -c 3 %s", wikiName)
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(l, "PING") || strings.Contains(l, "bytes from") || strings.Contains(l, "rtt") || strings.Contains(l, "transmitted") {
			d.n.say("  %s", l)
		}
	}
	if m := pingFrom.FindStringSubmatch(string(out)); m != nil {
		d.n.say("laptop knows %s as %s: a virtual address of its own pool for (office-gw, %v)", wikiName, m[1], wikiAddr)
	}
	return nil
}

// gatewayStatus shows laptop's rules and the hosts it reaches through
// office-gw, then what office-gw serves and counts.
func (d *labDemo) gatewayStatus(ctx context.Context) error {
	d.n.chapter("What laptop and office-gw know (i3net status)")
	out, err := d.laptop.Run(ctx, d.self, "status", "--state-dir", d.stateDir("laptop"))
	if err != nil {
		return err
	}
	d.n.say("laptop's name rules, their gateway's state and flows, and the hosts behind it:")
	d.sayFrom(string(out), "RULE")
	gw := d.office.gw.Host
	if out, err = gw.Run(ctx, d.self, "status", "--state-dir", d.stateDir(gw.Name())); err != nil {
		return err
	}
	d.n.say("office-gw: its clients, what it serves, its counters:")
	d.sayFrom(string(out), "NAME")
	d.n.say("nat_served: laptop's packets office-gw let into the intranet; names_refused_name: the queries for %s it refused", labName)
	return nil
}

// sayFrom says the lines of text from the first that starts with first to
// the end, or all of them if none does.
func (d *labDemo) sayFrom(text, first string) {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, first) {
			lines = lines[i:]
			break
		}
	}
	d.sayLines(lines)
}

// sayLines says each line that is not blank, indented.
func (d *labDemo) sayLines(lines []string) {
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			d.n.say("  %s", l)
		}
	}
}
