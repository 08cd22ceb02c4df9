package proxy

import (
	"net/netip"
	"time"

	"github.com/i3net/i3net/internal/tomlconf"
)

// RoleConfig holds the keys of a role's configuration file (gateway,
// ingress) that configure the proxy the role wraps; the role's Config
// embeds it, so the keys sit at the file's top level.
type RoleConfig struct {
	// Servers are the overlay servers (at least one, here or by --server).
	Servers []netip.AddrPort `toml:"servers"`
	// Listen is the UDP address of the overlay client; zero: any free port.
	Listen netip.AddrPort `toml:"listen"`
	// Tun is the tun device's name.
	Tun string `toml:"tun"`
	// MTU of the tun device. Default 1360.
	MTU int `toml:"mtu"`
	// Pool4 and Pool6 are the virtual addresses of the role's peers.
	// Defaults as the proxy's.
	Pool4 netip.Prefix `toml:"pool4"`
	Pool6 netip.Prefix `toml:"pool6"`
	// MappingTimeout forgets a peer unused this long. Default 7200 s.
	MappingTimeout time.Duration `toml:"mapping_timeout"`
}

// DefaultRoleConfig returns the defaults, with the tun device named tun.
func DefaultRoleConfig(tun string) RoleConfig {
	p := DefaultConfig()
	return RoleConfig{Tun: tun, MTU: p.MTU, Pool4: p.Pool4, Pool6: p.Pool6, MappingTimeout: p.MappingTimeout}
}

// Check validates the keys, naming the bad one (and its line, from meta).
func (r RoleConfig) Check(meta tomlconf.Meta) error {
	if !ValidMTU(r.MTU) {
		return meta.Errorf([]string{"mtu"}, "%d is out of range %d..%d", r.MTU, MinMTU, MaxMTU)
	}
	if r.Tun == "" {
		return meta.Errorf([]string{"tun"}, "empty: name the tun device")
	}
	if r.MappingTimeout <= 0 {
		return meta.Errorf([]string{"mapping_timeout"}, "must be positive, e.g. \"2h\"")
	}
	return nil
}

// Apply completes pcfg (from the command line) with the keys: the servers
// and listen address unless the flags gave them, the device and the pools.
// A role serves no programs of its own host (the resolver is left alone),
// and only the hosts of its address book.
func (r RoleConfig) Apply(pcfg *Config) {
	if len(r.Servers) > 0 && len(pcfg.Servers) == 0 {
		pcfg.Servers = r.Servers
	}
	if !pcfg.ListenAddr.IsValid() {
		pcfg.ListenAddr = r.Listen
	}
	pcfg.TunName, pcfg.MTU, pcfg.Pool4, pcfg.Pool6 = r.Tun, r.MTU, r.Pool4, r.Pool6
	pcfg.MappingTimeout = r.MappingTimeout
	pcfg.ResolvConf = ""
	pcfg.AcceptUnknown = false
	pcfg.AcceptAnonymous = false // a role's allowlist is its book (a gateway may allow anonymous clients)
}
