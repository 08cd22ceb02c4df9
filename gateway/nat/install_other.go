//go:build !linux

package nat

import "errors"

// Rules is an installed table; on this system there is none.
type Rules struct{}

// errNeedsLinux is Install's error on systems other than Linux.
var errNeedsLinux = errors.New("nat: the gateway's NAT needs Linux (nftables and conntrack)")

// Install fails: only Linux has nftables.
func Install(cfg Config) (*Rules, error) {
	if _, err := cfg.validate(); err != nil {
		return nil, err
	}
	return nil, errNeedsLinux
}

// Table returns the name of the installed nftables table.
func (r *Rules) Table() string { return "" }

// Counters fails: only Linux has nftables.
func (r *Rules) Counters() (Counters, error) { return Counters{}, errNeedsLinux }

// Close does nothing.
func (r *Rules) Close() error { return nil }

// Remove does nothing.
func (r *Rules) Remove() error { return nil }
