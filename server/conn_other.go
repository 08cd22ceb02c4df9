//go:build !linux

package server

import "net/netip"

// pktinfoDst is Linux-only for now: elsewhere the bound address is advertised
// unless Config.PublicAddr is set.
func pktinfoDst([]byte) netip.Addr { return netip.Addr{} }
