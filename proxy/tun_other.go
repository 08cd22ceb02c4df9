//go:build !linux

package proxy

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"

	"golang.zx2c4.com/wireguard/tun"
)

// errLinuxOnly is what New says elsewhere than on Linux: the tun device is
// configured and the host's routes are read over netlink.
var errLinuxOnly = fmt.Errorf("proxy: the proxy runs on Linux only (it configures its tun device over netlink); this is %s", runtime.GOOS)

func openTun(string, int, netip.Addr, netip.Prefix, netip.Addr, netip.Prefix) (tun.Device, error) {
	return nil, errLinuxOnly
}

func hostRoutes() ([]hostRoute, error) { return nil, errLinuxOnly }

// tunReadable reports false: elsewhere than on Linux, every read is sent on
// its own.
func tunReadable(tun.Device) func() bool { return func() bool { return false } }

// rawTun returns nil: the device is read through tun, whose offloads are
// Linux's.
func rawTun(tun.Device) *os.File { return nil }

// devReader reads f through f.Read; try finds nothing: see tunReadable.
type devReader struct{ f *os.File }

func newDevReader(f *os.File) *devReader { return &devReader{f: f} }

func (d *devReader) try([]byte) (int, bool) { return 0, false }

func (d *devReader) wait(b []byte) (int, error) { return d.f.Read(b) }

// tunClosed reports whether err from reading the device means it was closed.
func tunClosed(err error) bool { return errors.Is(err, os.ErrClosed) }
