package vaddr

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrOverlap is returned (wrapped) by CheckPools for a pool that overlaps one
// of the host's real networks.
var ErrOverlap = errors.New("overlaps")

// CheckPools refuses pools that would break the host: a pool ValidatePool
// rejects, or one that overlaps a route of the host. routes are the
// destinations of the host's routes, read by the caller, who leaves out those
// on i3net's own tun device (they are the pools themselves); default routes
// (/0) are ignored. Every clash is reported, naming the pool, the route and the
// flag to change, e.g.
//
//	vaddr: pool 100.64.0.0/10 overlaps route 100.64.5.0/24 on this host; choose another with --pool4 (or pool4 in the --config file)
//
// Zero pools (a family turned off) are skipped.
func CheckPools(pools []netip.Prefix, routes []netip.Prefix) error {
	var errs []error
	for _, p := range pools {
		if !p.IsValid() {
			continue
		}
		if err := ValidatePool(p); err != nil {
			errs = append(errs, err)
			continue
		}
		flag := "--pool6 (or pool6 in the --config file)"
		if p.Addr().Is4() {
			flag = "--pool4 (or pool4 in the --config file)"
		}
		for _, r := range routes {
			if !r.IsValid() || r.Bits() == 0 {
				continue
			}
			if p.Overlaps(r) {
				errs = append(errs, fmt.Errorf("vaddr: pool %v %w route %v on this host; choose another with %s", p, ErrOverlap, r, flag))
			}
		}
	}
	return errors.Join(errs...)
}
