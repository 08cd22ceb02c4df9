//go:build !linux

package tundev

import (
	"fmt"
	"net/netip"
	"runtime"

	"golang.zx2c4.com/wireguard/tun"
)

// Create fails: tun devices are configured over netlink, on Linux only.
func Create(name string, mtu int, addrs ...netip.Prefix) (tun.Device, error) {
	return nil, fmt.Errorf("create tun device %q: Linux only (configured over netlink); this is %s", name, runtime.GOOS)
}
