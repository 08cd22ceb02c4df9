package proxy

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

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

// devReader reads one packet at a time from a device file in non-blocking
// mode, with raw reads (rawRead): wait waits in the runtime's poller while
// there is none, as f.Read; try does not wait. Not safe for concurrent use.
type devReader struct {
	f     *os.File
	rc    syscall.RawConn // nil: f cannot give one (then try finds none, wait is f.Read)
	buf   []byte          // the read in progress, for the callbacks
	got   int
	err   error
	tryF  func(fd uintptr)      // the callbacks, bound once: a method value
	waitF func(fd uintptr) bool // made per call would be allocated
}

func newDevReader(f *os.File) *devReader {
	d := &devReader{f: f}
	d.rc, _ = f.SyscallConn()
	d.tryF = func(fd uintptr) { d.got, d.err = rawRead(fd, d.buf) }
	d.waitF = func(fd uintptr) bool {
		d.got, d.err = rawRead(fd, d.buf)
		return d.err != unix.EAGAIN
	}
	return d
}

// try reads one packet into b without waiting: ok is false when none is
// waiting (or on an error, which the next wait reports). It is one system
// call where a poll and a read would be two.
func (d *devReader) try(b []byte) (n int, ok bool) {
	if d.rc == nil {
		return 0, false
	}
	d.buf = b
	err := d.rc.Control(d.tryF)
	d.buf = nil
	if err != nil || d.err != nil || d.got <= 0 {
		return 0, false
	}
	return d.got, true
}

// wait reads one packet into b, waiting for one.
func (d *devReader) wait(b []byte) (int, error) {
	if d.rc == nil {
		return d.f.Read(b)
	}
	d.buf = b
	err := d.rc.Read(d.waitF)
	d.buf = nil
	switch {
	case err != nil:
		// The poller's error for a file closed meanwhile is not
		// os.ErrClosed; f.Read says it as os.ErrClosed, as it would have.
		if _, cerr := d.f.Read(nil); cerr != nil {
			return 0, cerr
		}
		return 0, err
	case d.err != nil:
		return 0, &os.PathError{Op: "read", Path: d.f.Name(), Err: d.err}
	case d.got == 0 && len(b) > 0:
		return 0, io.EOF // as f.Read
	}
	return d.got, nil
}

// rawRead reads from fd, which does not block, as a raw system call: the
// runtime's entry to a system call would wake its monitor thread first
// whenever the proxy was idle, a wake-up on the way of every packet that
// ends a pause (internal/mmsg's rawSendMax says more). A tun read copies one
// packet, 64 KB at most.
func rawRead(fd uintptr, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		n, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		switch e {
		case 0:
			return int(n), nil
		case unix.EINTR:
			continue
		}
		return 0, e
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
