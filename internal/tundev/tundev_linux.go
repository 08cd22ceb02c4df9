package tundev

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"
)

// Create makes the tun device name with mtu, gives it addrs (each an address
// with the prefix length the kernel routes into the device; IPv6 ones without
// duplicate address detection) and brings it up. On an error nothing stays.
func Create(name string, mtu int, addrs ...netip.Prefix) (tun.Device, error) {
	dev, err := tun.CreateTUN(name, mtu)
	if err != nil {
		return nil, createError(name, err)
	}
	real, err := dev.Name()
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("tun name: %w", err)
	}
	link, err := netlink.LinkByName(real)
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("find link %s: %w", real, err)
	}
	for _, p := range addrs {
		a := &netlink.Addr{IPNet: ipNet(p)}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD
		}
		if err := netlink.AddrReplace(link, a); err != nil {
			dev.Close()
			return nil, fmt.Errorf("add address %v to %s: %w", p, real, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		dev.Close()
		return nil, fmt.Errorf("bring %s up: %w", real, err)
	}
	return dev, nil
}

// createError explains why tun device name could not be made.
func createError(name string, err error) error {
	switch {
	case errors.Is(err, unix.EBUSY):
		return fmt.Errorf("tun device %q: %w (%w)", name, ErrInUse, err)
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("create tun device %q: %w (%w)", name, ErrPermission, err)
	}
	return fmt.Errorf("create tun device %q (needs root or CAP_NET_ADMIN): %w", name, err)
}

func ipNet(p netip.Prefix) *net.IPNet {
	a := p.Addr()
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(p.Bits(), a.BitLen())}
}
