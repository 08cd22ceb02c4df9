package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"
)

// openTun creates the tun device, gives it this host's own virtual addresses
// with the pools' prefix lengths (so the kernel routes each whole pool into it)
// and brings it up. Everything is done over netlink in the caller's network
// namespace.
func openTun(name string, mtu int, own4 netip.Addr, pool4 netip.Prefix, own6 netip.Addr, pool6 netip.Prefix) (tun.Device, error) {
	dev, err := tun.CreateTUN(name, mtu)
	if err != nil {
		return nil, tunError(name, err)
	}
	real, err := dev.Name()
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("proxy: tun name: %w", err)
	}
	link, err := netlink.LinkByName(real)
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("proxy: find link %s: %w", real, err)
	}
	addrs := []*netlink.Addr{{IPNet: ipNet(own4, pool4.Bits())}}
	if own6.IsValid() {
		addrs = append(addrs, &netlink.Addr{IPNet: ipNet(own6, pool6.Bits()), Flags: 0x02 /* IFA_F_NODAD */})
	}
	for _, a := range addrs {
		if err := netlink.AddrReplace(link, a); err != nil {
			dev.Close()
			return nil, fmt.Errorf("proxy: add address %v to %s: %w", a.IPNet, real, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		dev.Close()
		return nil, fmt.Errorf("proxy: bring %s up: %w", real, err)
	}
	return dev, nil
}

// tunError explains why the tun device could not be made.
func tunError(name string, err error) error {
	switch {
	case errors.Is(err, unix.EBUSY):
		return fmt.Errorf("proxy: tun device %q is in use: is another i3net proxy running in this network namespace? "+
			"Stop it, or give this one another --tun (%w)", name, err)
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("proxy: create tun device %q: the proxy needs root or CAP_NET_ADMIN (%w)", name, err)
	}
	return fmt.Errorf("proxy: create tun device %q (needs root or CAP_NET_ADMIN): %w", name, err)
}

func ipNet(a netip.Addr, bits int) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(bits, a.BitLen())}
}

// hostRoutes lists the destinations of this namespace's routes (all tables),
// so that the pools can be checked against the host's real networks, and
// marks those into a tun device.
func hostRoutes() ([]hostRoute, error) {
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: 0}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("proxy: list routes: %w", err)
	}
	var out []hostRoute
	for _, r := range routes {
		if r.Dst == nil {
			continue // default route: it overlaps everything by design
		}
		a, ok := netip.AddrFromSlice(r.Dst.IP)
		if !ok {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		p := netip.PrefixFrom(a.Unmap(), ones)
		if p.Addr().IsLinkLocalUnicast() || p.Addr().IsMulticast() || p.Addr().IsLoopback() {
			continue
		}
		hr := hostRoute{dst: p}
		if link, err := netlink.LinkByIndex(r.LinkIndex); err == nil && link.Type() == "tuntap" {
			hr.tun = link.Attrs().Name
		}
		out = append(out, hr)
	}
	return out, nil
}
