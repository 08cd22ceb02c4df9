package netlab

import (
	"errors"
	"fmt"
	"net/netip"
)

// Default internet prefixes: the benchmarking range of RFC 2544 and an IPv6
// documentation prefix, neither routed anywhere real.
var (
	DefaultInternet4 = netip.MustParsePrefix("198.18.0.0/15")
	DefaultInternet6 = netip.MustParsePrefix("2001:db8:1::/64")
)

// maxScan bounds the search for a free address in a prefix.
const maxScan = 1 << 16

// Net is one layer-2 segment of the lab: a bridge in some namespace, a prefix
// per family, and hosts attached to it by veth pairs. The internet is a Net
// whose bridge has a namespace of its own and no router; a NAT's LAN is a Net
// whose bridge sits in the NAT's namespace, which is also its router.
type Net struct {
	lab        *Lab
	name       string // for messages: "internet", "nat LAN"
	ns         string // namespace holding the bridge
	bridge     string
	portPrefix string // names of the bridge ports: portPrefix + n
	p4, p6     netip.Prefix
	gw4, gw6   netip.Addr // router addresses, invalid when none
	router     *Host      // owner of ns when it is a host's, else nil

	// guarded by lab.mu
	used  map[netip.Addr]bool
	ports int
}

// String returns the net's name, e.g. "internet".
func (n *Net) String() string { return n.name }

// Prefix4 returns the net's IPv4 prefix, invalid when it has none.
func (n *Net) Prefix4() netip.Prefix { return n.p4 }

// Prefix6 returns the net's IPv6 prefix, invalid when it has none.
func (n *Net) Prefix6() netip.Prefix { return n.p6 }

// Gateway4 returns the IPv4 address of the net's router (a NAT's LAN side),
// invalid on the internet, which has no router.
func (n *Net) Gateway4() netip.Addr { return n.gw4 }

// Gateway6 returns the IPv6 address of the net's router, invalid when none.
func (n *Net) Gateway6() netip.Addr { return n.gw6 }

// Host creates a host attached to this net with its next free addresses and,
// when the net has a router, a default route through it.
func (n *Net) Host(name string) (*Host, error) {
	return n.hostAt(name, netip.Addr{})
}

// hostAt is Host with the host's address of at's family chosen: at, unless
// at is invalid.
func (n *Net) hostAt(name string, at netip.Addr) (*Host, error) {
	l := n.lab
	h, err := l.newHost(name)
	if err != nil {
		return nil, fmt.Errorf("netlab: %s: host %q: %w", l.prefix, name, err)
	}
	if err := n.attach(h, at); err != nil {
		return nil, fmt.Errorf("netlab: %s: host %q on %s: %w", l.prefix, name, n, err)
	}
	return h, nil
}

// newInternet creates the internet namespace and its bridge.
func (l *Lab) newInternet(p4, p6 netip.Prefix) (*Net, error) {
	if !p4.Addr().Is4() || !p6.Addr().Is6() || p4.Bits() > 30 || p6.Bits() > 126 {
		return nil, fmt.Errorf("want an IPv4 prefix of /30 or shorter and an IPv6 prefix of /126 or shorter, got %v and %v", p4, p6)
	}
	ns, err := l.addNamespace("inet")
	if err != nil {
		return nil, err
	}
	// The bridge namespace only switches frames: no addresses, no IPv6 on
	// its ports, nothing listening.
	err = doIn(ns, func() error {
		if err := writeSysctls(bridgeNetfilterOff); err != nil {
			return err
		}
		return writeSysctls(map[string]string{
			"net.ipv6.conf.all.disable_ipv6":     "1",
			"net.ipv6.conf.default.disable_ipv6": "1",
		})
	})
	if err != nil {
		return nil, err
	}
	if err := ipBatch(ns,
		"link add br0 type bridge forward_delay 0 mcast_snooping 0",
		"link set br0 up",
	); err != nil {
		return nil, err
	}
	n := &Net{
		lab: l, name: "internet", ns: ns, bridge: "br0", portPrefix: "p",
		p4: p4, p6: p6, used: make(map[netip.Addr]bool),
	}
	l.mu.Lock()
	l.inet = n
	l.mu.Unlock()
	return n, nil
}

// attach connects h to n: a veth pair with Uplink in h and its peer enslaved
// to n's bridge, the next free addresses (or, for at's family, at when it is
// valid), and the default routes through n's router if it has one.
func (n *Net) attach(h *Host, at netip.Addr) error {
	l := n.lab
	l.mu.Lock()
	if h.net != nil {
		l.mu.Unlock()
		return fmt.Errorf("%s is already on %s", h.name, h.net)
	}
	if n.router == h {
		l.mu.Unlock()
		return fmt.Errorf("%s routes %s and cannot join it", h.name, n)
	}
	a4, err4 := n.allocAt(n.p4, n.gw4, at)
	a6, err6 := n.allocAt(n.p6, n.gw6, at)
	if err := errors.Join(err4, err6); err != nil {
		l.mu.Unlock()
		return err
	}
	n.mark(a4, true)
	n.mark(a6, true)
	n.ports++
	port := fmt.Sprintf("%s%d", n.portPrefix, n.ports)
	l.mu.Unlock()

	if err := n.link(h, port, a4, a6); err != nil {
		l.mu.Lock()
		n.mark(a4, false)
		n.mark(a6, false)
		l.mu.Unlock()
		return err
	}
	l.mu.Lock()
	h.net, h.port, h.addr4, h.addr6 = n, port, a4, a6
	l.mu.Unlock()
	return h.waitReady()
}

// link creates the veth pair and configures both ends.
func (n *Net) link(h *Host, port string, a4, a6 netip.Addr) error {
	if err := runTool("", "ip", "-n", h.ns, "link", "add", Uplink, "type", "veth", "peer", "name", port, "netns", n.ns); err != nil {
		return err
	}
	if err := ipBatch(n.ns, "link set "+port+" master "+n.bridge+" up"); err != nil {
		return err
	}
	lines := addrLines("add", a4, n.p4, a6, n.p6)
	lines = append(lines, "link set "+Uplink+" up")
	lines = append(lines, routeLines(n.gw4, n.gw6)...)
	return ipBatch(h.ns, lines...)
}

// detach deletes h's uplink (which deletes its bridge port too) and frees its
// addresses.
func (n *Net) detach(h *Host) error {
	if err := ipBatch(h.ns, "link delete "+Uplink); err != nil {
		return err
	}
	l := n.lab
	l.mu.Lock()
	defer l.mu.Unlock()
	n.mark(h.addr4, false)
	n.mark(h.addr6, false)
	h.net, h.port, h.addr4, h.addr6 = nil, "", netip.Addr{}, netip.Addr{}
	return nil
}

// addrLines returns ip commands that add (or replace) the addresses on
// Uplink; IPv6 addresses skip duplicate address detection so they are usable
// at once.
func addrLines(verb string, a4 netip.Addr, p4 netip.Prefix, a6 netip.Addr, p6 netip.Prefix) []string {
	var lines []string
	if a4.IsValid() {
		lines = append(lines, fmt.Sprintf("addr %s %s dev %s", verb, netip.PrefixFrom(a4, p4.Bits()), Uplink))
	}
	if a6.IsValid() {
		lines = append(lines, fmt.Sprintf("addr %s %s dev %s nodad", verb, netip.PrefixFrom(a6, p6.Bits()), Uplink))
	}
	return lines
}

// routeLines returns ip commands that set the default routes through the
// given routers.
func routeLines(gw4, gw6 netip.Addr) []string {
	var lines []string
	if gw4.IsValid() {
		lines = append(lines, "route replace default via "+gw4.String()+" dev "+Uplink)
	}
	if gw6.IsValid() {
		lines = append(lines, "route replace default via "+gw6.String()+" dev "+Uplink)
	}
	return lines
}

// alloc returns the first free host address of p, skipping the router gw. It
// returns the zero Addr and no error when p is invalid (the net lacks that
// family). The caller holds lab.mu.
func (n *Net) alloc(p netip.Prefix, gw netip.Addr) (netip.Addr, error) {
	if !p.IsValid() {
		return netip.Addr{}, nil
	}
	a := p.Addr().Next()
	for range maxScan {
		if !usable(p, a) {
			break
		}
		if a != gw && !n.used[a] {
			return a, nil
		}
		a = a.Next()
	}
	return netip.Addr{}, fmt.Errorf("no free address in %v", p)
}

// allocAt is alloc, except that it returns at when at is of p's family:
// an error if at is not a free host address of p. The caller holds lab.mu.
func (n *Net) allocAt(p netip.Prefix, gw, at netip.Addr) (netip.Addr, error) {
	if !at.IsValid() || !p.IsValid() || at.Is4() != p.Addr().Is4() {
		return n.alloc(p, gw)
	}
	if !usable(p, at) || at == gw || n.used[at] {
		return netip.Addr{}, fmt.Errorf("%v is not a free host address of %s (%v)", at, n, p)
	}
	return at, nil
}

// usable reports whether a is a host address of p: inside it, not its network
// address, and for IPv4 not its broadcast address.
func usable(p netip.Prefix, a netip.Addr) bool {
	if !a.IsValid() || !p.Contains(a) || a == p.Masked().Addr() {
		return false
	}
	if a.Is4() && p.Bits() < 31 && !p.Contains(a.Next()) {
		return false // broadcast
	}
	return true
}

// mark records a as used or free; invalid addresses are ignored. The caller
// holds lab.mu.
func (n *Net) mark(a netip.Addr, used bool) {
	if !a.IsValid() {
		return
	}
	if used {
		n.used[a] = true
	} else {
		delete(n.used, a)
	}
}
