package netlab

import (
	"context"
	"fmt"
	"net/netip"
)

// RouterLAN is the name of a Router's interface on the LAN it joins.
const RouterLAN = "lan0"

// Router is a host on the internet with a second interface, RouterLAN, on a
// NAT's LAN: another way in to that LAN (a second gateway of an intranet). It
// forwards and translates nothing by itself; a program it runs may.
type Router struct {
	*Host
	lan     *Net
	lanPort string
	lanAddr netip.Addr
}

// LANAddr returns the router's address on the LAN.
func (r *Router) LANAddr() netip.Addr { return r.lanAddr }

// AddRouter creates a host name on the internet that also has an interface
// on the NAT's LAN, with the LAN's next free address. The LAN's hosts keep
// their default route through the NAT; they reach the router on-link.
func (n *NAT) AddRouter(name string) (*Router, error) {
	h, err := n.lab.Host(name)
	if err != nil {
		return nil, err
	}
	r := &Router{Host: h, lan: n.lan}
	if err := r.join(); err != nil {
		return nil, fmt.Errorf("netlab: %s: router %q on %s: %w", n.lab.prefix, name, n.lan, err)
	}
	return r, nil
}

// join links RouterLAN to the LAN's bridge, gives it an address and waits
// until it carries traffic.
func (r *Router) join() error {
	lan, l := r.lan, r.lab
	p := lan.p4
	gw := lan.gw4
	if !p.IsValid() {
		p, gw = lan.p6, lan.gw6
	}
	l.mu.Lock()
	a, err := lan.alloc(p, gw)
	if err != nil {
		l.mu.Unlock()
		return err
	}
	lan.mark(a, true)
	lan.ports++
	r.lanPort = fmt.Sprintf("%s%d", lan.portPrefix, lan.ports)
	r.lanAddr = a
	l.mu.Unlock()

	if err := runTool("", "ip", "-n", r.ns, "link", "add", RouterLAN, "type", "veth", "peer", "name", r.lanPort, "netns", lan.ns); err != nil {
		return err
	}
	if err := ipBatch(lan.ns, "link set "+r.lanPort+" master "+lan.bridge+" up"); err != nil {
		return err
	}
	addr := fmt.Sprintf("addr add %s dev %s", netip.PrefixFrom(a, p.Bits()), RouterLAN)
	if a.Is6() {
		addr += " nodad"
	}
	if err := ipBatch(r.ns, addr, "link set "+RouterLAN+" up"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	return Poll(ctx, readyEvery, func() error {
		if err := linkReady(r.ns, RouterLAN); err != nil {
			return err
		}
		if err := solicitedJoined(r.ns, RouterLAN, a); err != nil {
			return err
		}
		return portForwarding(lan.ns, r.lanPort)
	})
}
