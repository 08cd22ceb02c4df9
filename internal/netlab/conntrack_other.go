//go:build !linux

package netlab

import "net/netip"

// dropMappings needs Linux's conntrack.
func dropMappings(ns string, a netip.Addr) error { return ErrNeedsLinux }

// mappingsTo needs Linux's conntrack.
func mappingsTo(ns string, a netip.Addr) (int, error) { return 0, ErrNeedsLinux }
