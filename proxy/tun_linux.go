package proxy

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/i3net/i3net/internal/tundev"
)

// openTun creates the tun device, gives it this host's own virtual addresses
// with the pools' prefix lengths (so the kernel routes each whole pool into it)
// and brings it up (internal/tundev). Everything is done over netlink in the
// caller's network namespace.
func openTun(name string, mtu int, own4 netip.Addr, pool4 netip.Prefix, own6 netip.Addr, pool6 netip.Prefix) (tun.Device, error) {
	addrs := []netip.Prefix{netip.PrefixFrom(own4, pool4.Bits())}
	if own6.IsValid() {
		addrs = append(addrs, netip.PrefixFrom(own6, pool6.Bits()))
	}
	dev, err := tundev.Create(name, mtu, addrs...)
	if errors.Is(err, tundev.ErrInUse) {
		return nil, fmt.Errorf("proxy: %w: is another i3net proxy running in this network namespace? "+
			"Stop it, or give this one another --tun", err)
	}
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	return dev, nil
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

// rawTun returns dev's file when the proxy may read and write it directly
// with virtio-net headers (outraw.go): wireguard-go turned the device's
// offloads on, which it shows by reading in batches. Otherwise nil.
func rawTun(dev tun.Device) *os.File {
	if dev == nil || dev.BatchSize() <= 1 {
		return nil
	}
	return dev.File()
}

// tunClosed reports whether err from reading the device means it was closed.
func tunClosed(err error) bool { return errors.Is(err, os.ErrClosed) || errors.Is(err, unix.EBADFD) }

// fileTryRead returns a function that reads one packet from f, a device
// file in non-blocking mode, without waiting: ok is false when none is
// waiting (or on an error, which the next waiting read reports). It is one
// system call where a poll and a read would be two. Not safe for concurrent
// use.
func fileTryRead(f *os.File) func(b []byte) (n int, ok bool) {
	rc, err := f.SyscallConn()
	if err != nil {
		return func([]byte) (int, bool) { return 0, false }
	}
	var (
		buf  []byte
		got  int
		rerr error
	)
	read := func(fd uintptr) { got, rerr = unix.Read(int(fd), buf) }
	return func(b []byte) (int, bool) {
		buf = b
		err := rc.Control(read)
		buf = nil
		if err != nil || rerr != nil || got <= 0 {
			return 0, false
		}
		return got, true
	}
}

// tunReadable returns a function that reports, without waiting, whether
// dev has a packet to read (poll with no timeout on its file), or one that
// always reports false for a device without a file (userspace mode, tests).
func tunReadable(dev tun.Device) func() bool { return fileReadable(dev.File()) }

// fileReadable is tunReadable for the device's file f (nil: none).
func fileReadable(f *os.File) func() bool {
	if f == nil {
		return func() bool { return false }
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return func() bool { return false }
	}
	fds := []unix.PollFd{{Events: unix.POLLIN}}
	probe := func(fd uintptr) {
		fds[0].Fd, fds[0].Revents = int32(fd), 0
		n, err := unix.Poll(fds, 0)
		fds[0].Revents &= unix.POLLIN
		if n != 1 || err != nil {
			fds[0].Revents = 0
		}
	}
	return func() bool {
		if rc.Control(probe) != nil {
			return false
		}
		return fds[0].Revents != 0
	}
}
