package vaddr

import (
	"fmt"
	"net/netip"

	"github.com/i3net/i3net/id"
)

// Config configures an Allocator. Start from DefaultConfig; New copies it.
type Config struct {
	// Self is this host's public id. Derive(Pool4, Self) and Derive(Pool6,
	// Self) are its own tun addresses, which are never given to a peer.
	Self id.ID

	// Pool4 and Pool6 are the pools of each family. Every host talking to this
	// one must use the same pools for headers to be preserved. The zero Prefix
	// turns a family off (its addresses are then the zero Addr); at least one
	// must be set. Default DefaultPool4 and DefaultPool6.
	Pool4, Pool6 netip.Prefix

	// Reserved are addresses never given to a peer, besides the network,
	// all-ones, service and own addresses. A peer whose derived address is
	// reserved gets a random one: tests use this to force a collision (the
	// proxy must then rewrite headers).
	Reserved []netip.Addr
}

// DefaultConfig returns a complete configuration for the host whose public id
// is self: both default pools.
func DefaultConfig(self id.ID) Config {
	return Config{Self: self, Pool4: DefaultPool4, Pool6: DefaultPool6}
}

// check validates c.
func (c *Config) check() error {
	if !c.Pool4.IsValid() && !c.Pool6.IsValid() {
		return fmt.Errorf("vaddr: config: no pool: set Pool4, Pool6 or both")
	}
	if c.Pool4.IsValid() {
		if err := ValidatePool(c.Pool4); err != nil {
			return err
		}
		if !c.Pool4.Addr().Is4() {
			return fmt.Errorf("vaddr: config: Pool4 %v is not IPv4", c.Pool4)
		}
	}
	if c.Pool6.IsValid() {
		if err := ValidatePool(c.Pool6); err != nil {
			return err
		}
		if !c.Pool6.Addr().Is6() {
			return fmt.Errorf("vaddr: config: Pool6 %v is not IPv6", c.Pool6)
		}
	}
	if c.Self.IsZero() {
		return fmt.Errorf("vaddr: config: Self is the zero id")
	}
	return nil
}
