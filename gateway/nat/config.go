package nat

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/i3net/i3net/internal/tundev"
)

// DefaultTable is the name of the nftables table when Config.Table is empty.
const DefaultTable = "i3net-gateway"

const (
	// maxTableName is the longest nftables table name (NFT_NAME_MAXLEN - 1).
	maxTableName = 255
)

// Config says what the kernel forwards for the gateway.
type Config struct {
	// Tun is the gateway's tun device: client flows enter and leave the host
	// here. Matched by name, so it may be recreated while the rules stand.
	Tun string
	// Pools are the clients' source addresses (their virtual pools), IPv4
	// and/or IPv6: traffic from them that leaves by another interface is
	// masqueraded behind that interface's address.
	Pools []netip.Prefix
	// Serve are the destinations clients may reach; anything else arriving
	// from Tun is dropped and counted (Counters.Refused).
	Serve []netip.Prefix
	// Table is the nftables table's name; empty means DefaultTable.
	Table string
}

// Counters are the packet counts of the rules, read from the kernel's named
// counters. A new Install of the same table starts them from zero.
type Counters struct {
	Served      uint64 // packets from Tun forwarded to a served destination
	Refused     uint64 // packets from Tun dropped: destination not served
	Unsolicited uint64 // packets towards Tun dropped: not a reply, not expected
}

// ErrNeedsNetAdmin is Install's error (wrapped) when the process may not
// change the kernel's firewall or forwarding settings.
var ErrNeedsNetAdmin = errors.New("the gateway needs root or CAP_NET_ADMIN to set up forwarding and NAT")

// validate checks cfg and returns it with defaults filled in and prefixes
// masked.
func (cfg Config) validate() (Config, error) {
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	if len(cfg.Table) > maxTableName || strings.ContainsRune(cfg.Table, 0) {
		return cfg, fmt.Errorf("nat: table name %q: want at most %d bytes and no NUL", cfg.Table, maxTableName)
	}
	if err := checkIfName(cfg.Tun); err != nil {
		return cfg, err
	}
	if len(cfg.Serve) == 0 {
		return cfg, errors.New("nat: no destinations to serve: set serve_cidrs to the intranet prefixes the gateway serves (e.g. serve_cidrs = [\"10.1.0.0/24\"])")
	}
	if len(cfg.Pools) == 0 {
		return cfg, errors.New("nat: no client address pool: set pool4 (and pool6 for IPv6 clients) to the clients' virtual pools (e.g. pool4 = \"100.64.0.0/10\")")
	}
	var err error
	if cfg.Serve, err = masked("serve_cidrs", cfg.Serve); err != nil {
		return cfg, err
	}
	if cfg.Pools, err = masked("pool4/pool6", cfg.Pools); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// checkIfName checks that name can be an interface's name.
func checkIfName(name string) error {
	if name == "" {
		return errors.New("nat: no tun device named: Config.Tun must be the gateway's tun device (e.g. \"i3gw0\")")
	}
	if err := tundev.CheckName(name); err != nil {
		return fmt.Errorf("nat: tun device name %q: %w", name, err)
	}
	return nil
}

// masked returns ps masked, or an error naming key for an invalid prefix.
func masked(key string, ps []netip.Prefix) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ps))
	for i, p := range ps {
		if !p.IsValid() {
			return nil, fmt.Errorf("nat: %s: entry %d is not a valid prefix", key, i+1)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			if !p.IsValid() {
				return nil, fmt.Errorf("nat: %s: entry %d (%v) is an IPv4-mapped prefix shorter than ::ffff:0:0/96", key, i+1, ps[i])
			}
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// hasIPv6 reports whether any of ps is IPv6.
func hasIPv6(ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Addr().Is6() {
			return true
		}
	}
	return false
}
