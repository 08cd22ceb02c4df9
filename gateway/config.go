package gateway

import (
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/i3net/i3net/internal/tomlconf"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/resolvconf"
	"github.com/i3net/i3net/proxy/rules"
)

// Config is a gateway's configuration file (TOML); the keys are the toml
// tags. docs/gateway.md shows an example.
type Config struct {
	// RoleConfig holds servers, listen, tun, mtu, pool4, pool6 and
	// mapping_timeout (the gateway's pools are its clients' addresses, the
	// sources of their flows before NAT). Tun defaults to "i3gw0".
	proxy.RoleConfig
	// ServeNames are the names clients may ask for: "corp.example" (that
	// name), "*.corp.example" (names under it), "re:REGEXP".
	ServeNames []string `toml:"serve_names"`
	// ServeCIDRs are the destinations clients may reach; a name that
	// resolves elsewhere is refused, and so is a packet to elsewhere.
	ServeCIDRs []netip.Prefix `toml:"serve_cidrs"`
	// Resolvers are the resolvers names are asked of (inside the network).
	// Empty: the nameservers of /etc/resolv.conf.
	Resolvers []netip.AddrPort `toml:"resolvers"`
	// ResolverTimeout bounds a name's resolution; then the client gets
	// SERVFAIL. Default 2 s.
	ResolverTimeout time.Duration `toml:"resolver_timeout"`
	// Anycast names this gateway in a group of gateways that share one
	// identity; each member a different name. Empty: not in a group.
	Anycast string `toml:"anycast"`
	// AllowAnonymous accepts clients whose key is not on the allowlist when
	// they announce an anonymous session (an ephemeral key, paper §6.3):
	// anybody may then use the gateway without saying who they are. Their
	// status shows only the ephemeral key. Default false.
	AllowAnonymous bool `toml:"allow_anonymous"`

	names []rules.Pattern
}

// DefaultConfig returns the defaults of every key.
func DefaultConfig() Config {
	p := proxy.DefaultConfig()
	return Config{RoleConfig: proxy.DefaultRoleConfig("i3gw0"), ResolverTimeout: p.UpstreamTimeout}
}

// LoadConfig reads the configuration file at path over the defaults and
// checks it; every error names the file, the line and the key.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	meta, err := tomlconf.Load("gateway", path, &cfg)
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.check(meta)
}

// check validates cfg, naming the key (and its line, from meta) of a bad
// value.
func (c *Config) check(meta tomlconf.Meta) error {
	if len(c.ServeCIDRs) == 0 {
		return meta.Errorf([]string{"serve_cidrs"}, "the gateway serves no addresses: list the networks clients may reach, e.g. serve_cidrs = [\"10.1.0.0/24\"]")
	}
	for i, p := range c.ServeCIDRs {
		if p != p.Masked() {
			return meta.Errorf([]string{"serve_cidrs"}, "element %d, %v, has host bits set: write %v", i, p, p.Masked())
		}
	}
	if len(c.ServeNames) == 0 {
		return meta.Errorf([]string{"serve_names"}, "the gateway serves no names: list those clients may ask for, e.g. serve_names = [\"*.corp.example\"]")
	}
	c.names = c.names[:0]
	for i, s := range c.ServeNames {
		p, err := rules.ParsePattern(s)
		if err != nil {
			return meta.Errorf([]string{"serve_names"}, "element %d, %q: %v", i, s, err)
		}
		c.names = append(c.names, p)
	}
	if c.ResolverTimeout <= 0 {
		return meta.Errorf([]string{"resolver_timeout"}, "must be positive, e.g. \"2s\"")
	}
	return c.RoleConfig.Check(meta)
}

// resolvers returns the configured resolvers, or those of /etc/resolv.conf.
func (c *Config) resolvers() ([]netip.AddrPort, error) {
	if len(c.Resolvers) > 0 {
		return c.Resolvers, nil
	}
	data, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return nil, fmt.Errorf("gateway: no resolvers configured and /etc/resolv.conf unreadable (%v): set resolvers = [\"IP:53\"]", err)
	}
	var ups []netip.AddrPort
	for _, a := range resolvconf.Parse(data).Nameservers {
		ups = append(ups, netip.AddrPortFrom(a, 53))
	}
	if len(ups) == 0 {
		return nil, fmt.Errorf("gateway: no resolvers configured and none in /etc/resolv.conf: set resolvers = [\"IP:53\"]")
	}
	return ups, nil
}
