package netlab

import (
	"fmt"
	"net/netip"
)

// NATKind is how a NAT host treats traffic from its LAN.
type NATKind int

const (
	// NATCone masquerades the LAN behind the NAT's outside address with
	// Linux's plain masquerade: a flow keeps its source port when that port is
	// free, so one inside socket shows the same external port to every
	// destination (endpoint-independent mapping). Replies are accepted only
	// from the destinations the socket sent to (conntrack), and nothing
	// from outside can open a flow in.
	NATCone NATKind = iota + 1
	// NATSymmetric masquerades with "fully-random": every flow, so every
	// destination, gets its own random external port.
	NATSymmetric
	// NATNone translates and forwards nothing: the LAN is reachable only from
	// the router's own namespace (DESIGN.md §3's gw and its intranet).
	NATNone
)

// String returns "cone", "symmetric" or "none".
func (k NATKind) String() string {
	switch k {
	case NATCone:
		return "cone"
	case NATSymmetric:
		return "symmetric"
	case NATNone:
		return "none"
	}
	return fmt.Sprintf("NATKind(%d)", int(k))
}

// lanBridge is the name of a NAT's LAN bridge, in the NAT's namespace.
const lanBridge = "brlan"

// NAT is a host on the internet that is also the router of a LAN: its
// namespace holds the LAN's bridge, with the LAN's first address on it. The
// embedded Host is its internet side.
type NAT struct {
	*Host
	kind NATKind
	lan  *Net
}

// NATHost creates a host name on the internet that routes the LAN lan (e.g.
// 192.168.1.0/24, or an IPv6 prefix) as kind says. Hosts join the LAN with
// Inside; they get the LAN's next addresses and a default route through the
// NAT.
func (l *Lab) NATHost(name string, lan netip.Prefix, kind NATKind) (*NAT, error) {
	if kind < NATCone || kind > NATNone {
		return nil, fmt.Errorf("netlab: %s: NAT %q: unknown kind %v", l.prefix, name, kind)
	}
	lan = lan.Masked()
	if !lan.IsValid() || (lan.Addr().Is4() && lan.Bits() > 30) || lan.Bits() > 126 {
		return nil, fmt.Errorf("netlab: %s: NAT %q: LAN prefix %v is too small or invalid", l.prefix, name, lan)
	}
	h, err := l.Host(name)
	if err != nil {
		return nil, err
	}
	nat := &NAT{Host: h, kind: kind}
	if err := nat.setup(lan); err != nil {
		return nil, fmt.Errorf("netlab: %s: NAT %q (%v, %v): %w", l.prefix, name, lan, kind, err)
	}
	return nat, nil
}

// setup creates the LAN bridge, turns forwarding on and loads the NAT rules.
func (n *NAT) setup(lan netip.Prefix) error {
	gw := lan.Addr().Next()
	net := &Net{
		lab: n.lab, name: n.name + " LAN", ns: n.ns, bridge: lanBridge, portPrefix: "lan",
		router: n.Host, used: make(map[netip.Addr]bool),
	}
	if lan.Addr().Is4() {
		net.p4, net.gw4 = lan, gw
	} else {
		net.p6, net.gw6 = lan, gw
	}
	n.lan = net
	addr := fmt.Sprintf("addr add %s dev %s", netip.PrefixFrom(gw, lan.Bits()), lanBridge)
	if gw.Is6() {
		addr += " nodad"
	}
	if err := n.Do(func() error { return writeSysctls(bridgeNetfilterOff) }); err != nil {
		return err
	}
	if err := ipBatch(n.ns,
		"link add "+lanBridge+" type bridge forward_delay 0 mcast_snooping 0",
		addr,
		"link set "+lanBridge+" up",
	); err != nil {
		return err
	}
	if n.kind == NATNone {
		return nil
	}
	forward := "net.ipv4.ip_forward"
	if gw.Is6() {
		forward = "net.ipv6.conf.all.forwarding"
	}
	if err := n.Sysctl(forward, "1"); err != nil {
		return err
	}
	return n.Nft(natRuleset(n.kind))
}

// natRuleset returns the nftables rules of a NAT of kind: masquerade out of
// Uplink, and a forward filter that lets the LAN out (and to itself, should
// bridged frames reach it) and only replies in.
func natRuleset(kind NATKind) string {
	masq := "masquerade"
	if kind == NATSymmetric {
		masq = "masquerade fully-random"
	}
	return fmt.Sprintf(`table inet i3net_nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname %q %s
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname %q oifname %q accept
		iifname %q oifname %q accept
	}
}
`, Uplink, masq, lanBridge, Uplink, lanBridge, lanBridge)
}

// Kind returns how the NAT translates.
func (n *NAT) Kind() NATKind { return n.kind }

// LAN returns the NAT's inside net, for MoveTo.
func (n *NAT) LAN() *Net { return n.lan }

// Inside creates a host on the NAT's LAN.
func (n *NAT) Inside(name string) (*Host, error) {
	return n.lan.Host(name)
}

// InsideAt creates a host on the NAT's LAN at addr (a server at a known
// address, say 10.1.0.10), which must be a free host address of the LAN.
func (n *NAT) InsideAt(name string, addr netip.Addr) (*Host, error) {
	lan := n.lan.p4
	if !lan.IsValid() {
		lan = n.lan.p6
	}
	if !lan.Contains(addr) {
		return nil, fmt.Errorf("netlab: %s: host %q: %v is not in %s's prefix %v", n.lab.prefix, name, addr, n.lan, lan)
	}
	return n.lan.hostAt(name, addr)
}
