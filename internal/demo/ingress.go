package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/i3net/i3net/internal/netlab"
)

// The ingress's chapters (docs/ingress.md, the paper's §4.4.2): a host
// ingress on the internet runs "i3net ingress", the authoritative DNS
// server of i3.example.net, which the parent zone example.net (unbound on
// parent) delegates to it. home publishes its web server and its daytime
// service through it. phone, which runs nothing of i3net, asks an ordinary
// recursive resolver (unbound on resolver) for home.i3.example.net, gets one
// of the ingress's waypoint addresses and connects there: the ingress finds
// home by the HTTP Host header on port 80, and by the paper's heuristic on
// port 13 (the name it handed out for that waypoint in the last second),
// and carries the connection over the overlay to home.

const (
	ingZone     = "i3.example.net"
	ingBookName = "ingress" // the ingress's name in home's book
	daytimePort = 13        // RFC 867: the server sends the date and hangs up
	// unpublishedName is a name of the zone nobody published.
	unpublishedName = "nothere." + ingZone
	// phoneWait bounds each of phone's commands; dnsStartWait the start of
	// the DNS servers.
	phoneWait    = 10 * time.Second
	dnsStartWait = 30 * time.Second
)

// ingWaypoints are the ingress's waypoints: addresses of its host on the
// internet, far above those netlab hands out.
var ingWaypoints = []netip.Addr{netip.MustParseAddr("198.19.255.10"), netip.MustParseAddr("198.19.255.11")}

// ingressWorld is the ingress, the DNS servers around it and phone.
type ingressWorld struct {
	host             *netlab.Host // runs "i3net ingress"
	parent, resolver *netlab.Host // unbound: example.net, and a recursive resolver
	phone            *netlab.Host // runs nothing of i3net
	daytime          net.Listener // home's daytime service, once started
}

// ingFQDN returns NAME.i3.example.net.
func ingFQDN(name string) string { return name + "." + ingZone }

// startIngress makes the hosts ingress (with two waypoints), parent,
// resolver and phone; gives ingress an identity and home in its book;
// starts "i3net ingress" and, meanwhile, unbound on parent, which delegates
// i3.example.net to the ingress, and on resolver, phone's resolver.
func (d *labDemo) startIngress(ctx context.Context) error {
	d.n.chapter("An ingress for " + ingZone)
	if err := d.buildIngressHosts(ctx); err != nil {
		return err
	}
	g := &d.ing
	d.n.say("ingress %v on the internet, with two more addresses of its own as waypoints: %v and %v", g.host.Addr4(), ingWaypoints[0], ingWaypoints[1])
	if err := d.newIdentity(ctx, g.host.Name()); err != nil {
		return err
	}
	if err := d.bookAdd(ctx, g.host.Name(), "home"); err != nil {
		return err
	}
	d.n.say("ingress's book: home → home's key: home may publish home.%s and names under it, nothing else", ingZone)
	conf, err := d.writeIngressConf(g.host.Addr4())
	if err != nil {
		return err
	}
	zone := netlab.ParentZone("example.net", g.parent.Addr4(),
		netlab.Delegation{Child: ingZone, NSName: ingFQDN("ns1"), Addrs: []netip.Addr{g.host.Addr4()}})
	dnsCtx, cancel := context.WithTimeout(ctx, dnsStartWait)
	defer cancel()
	dns := d.startDNS(dnsCtx, zone)
	start := time.Now()
	err = d.runIngress(ctx, conf)
	if err = errors.Join(err, <-dns, <-dns); err != nil {
		return err
	}
	d.n.say("$ i3net ingress --config ingress.toml   (on ingress) up after %v, with the DNS servers below started meanwhile: DNS for %s on %v:53, its own proxy's tun device, public trigger inserted",
		time.Since(start).Round(time.Millisecond), ingZone, g.host.Addr4())
	d.n.say("parent %v (unbound) serves example.net, whose zone delegates %s to the ingress:", g.parent.Addr4(), ingZone)
	for _, l := range strings.Split(zone, "\n") {
		if strings.Contains(l, ingZone) {
			d.n.say("  %s", l)
		}
	}
	d.n.say("resolver %v (unbound) resolves names as an ISP's resolver does, starting at example.net's server (there is no root here)", g.resolver.Addr4())
	d.n.say("phone %v runs nothing of i3net; its resolv.conf names the resolver", g.phone.Addr4())
	return nil
}

// buildIngressHosts makes the hosts ingress, with its waypoints, parent,
// resolver and phone, whose resolv.conf names resolver.
func (d *labDemo) buildIngressHosts(ctx context.Context) error {
	g := &d.ing
	var err error
	for _, h := range []struct {
		to   **netlab.Host
		name string
	}{{&g.host, "ingress"}, {&g.parent, "parent"}, {&g.resolver, "resolver"}, {&g.phone, "phone"}} {
		if *h.to, err = d.lab.Host(h.name); err != nil {
			return err
		}
	}
	if err := d.addWaypoints(ctx); err != nil {
		return err
	}
	return g.phone.SetResolvConf(fmt.Sprintf("nameserver %s\noptions timeout:2 attempts:2\n", g.resolver.Addr4()))
}

// addWaypoints adds the waypoints to the ingress's interface, in the
// internet's prefix.
func (d *labDemo) addWaypoints(ctx context.Context) error {
	h := d.ing.host
	p := h.Net().Prefix4()
	for _, wp := range ingWaypoints {
		if !p.Contains(wp) {
			return fmt.Errorf("the waypoint %v is not in the internet's prefix %v", wp, p)
		}
		if _, err := h.Run(ctx, "ip", "addr", "add", netip.PrefixFrom(wp, p.Bits()).String(), "dev", netlab.Uplink); err != nil {
			return err
		}
	}
	return nil
}

// writeIngressConf writes the ingress's ingress.toml, its name server at
// ns, shows it, and returns its path.
func (d *labDemo) writeIngressConf(ns netip.Addr) (string, error) {
	var wps []string
	for _, a := range ingWaypoints {
		wps = append(wps, fmt.Sprintf("%q", a.String()))
	}
	conf := fmt.Sprintf("servers = [%q]\nzone = %q\nwaypoints = [%s]\n[[nameserver]]\nname = %q\naddresses = [%q]\n",
		d.ring.servers[0].data, ingZone, strings.Join(wps, ", "), ingFQDN("ns1"), ns)
	path := filepath.Join(d.dir, "ingress.toml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return "", err
	}
	d.n.say("ingress's ingress.toml: the overlay, its zone, its waypoints, and the name server the parent zone names (its DNS listens there):")
	for _, l := range strings.Split(strings.TrimSpace(conf), "\n") {
		d.n.say("  %s", l)
	}
	return path, nil
}

// startDNS starts, in the background and at once, unbound on parent,
// serving zone (example.net), and unbound on resolver, a recursive resolver
// starting at parent. The channel gets the outcome of each.
func (d *labDemo) startDNS(ctx context.Context, zone string) <-chan error {
	g := &d.ing
	done := make(chan error, 2)
	go func() {
		_, err := g.parent.StartUnbound(ctx, netlab.UnboundConfig{Auth: []netlab.UnboundAuthZone{{Name: "example.net", Text: zone}}})
		done <- err
	}()
	go func() {
		stub := netlab.UnboundStub{Name: "example.net", Servers: []netip.Addr{g.parent.Addr4()}}
		_, err := g.resolver.StartUnbound(ctx, netlab.UnboundConfig{Stubs: []netlab.UnboundStub{stub}})
		done <- err
	}()
	return done
}

// runIngress starts "i3net ingress" with conf and waits until it answers
// "i3net status" and listens for DNS.
func (d *labDemo) runIngress(ctx context.Context, conf string) error {
	h := d.ing.host
	if _, err := h.Start(d.self, "ingress", "--config", conf, "--state-dir", d.stateDir(h.Name()), "--log-level", "warn"); err != nil {
		return err
	}
	if err := d.waitStatus(ctx, h, func(string) bool { return true }); err != nil {
		return fmt.Errorf("the ingress did not come up: %w", err)
	}
	if err := netlab.WaitUDP(ctx, h, 53); err != nil {
		return fmt.Errorf("the ingress does not listen for DNS: %w", err)
	}
	return nil
}
