//go:build !linux

package netlab

import "net/netip"

// dropMappings needs Linux's conntrack.
func dropMappings(ns string, a netip.Addr) error { return ErrNeedsLinux }
