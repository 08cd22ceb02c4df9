//go:build !linux

package proxytest

import "golang.zx2c4.com/wireguard/tun"

// RawTun is, elsewhere than on Linux, only a Tun: the proxy reads devices
// directly on Linux alone (see rawtun.go).
type RawTun struct {
	*Tun
}

var _ tun.Device = (*RawTun)(nil)
