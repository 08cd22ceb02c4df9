package ingress

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/i3net/i3net/internal/tomlconf"
	"github.com/i3net/i3net/proxy"
)

// Config is an ingress's configuration file (TOML); the keys are the toml
// tags. docs/ingress.md shows an example.
type Config struct {
	// RoleConfig holds servers, listen, tun, mtu, pool4, pool6 and
	// mapping_timeout: the ingress's own proxy, whose tun device carries
	// the connections into the overlay. Tun defaults to "i3in0".
	proxy.RoleConfig
	// Zone is the DNS zone delegated to this ingress ("i3.example.net").
	Zone string `toml:"zone"`
	// Nameserver are the zone's nameservers, as the parent zone's NS records
	// name them (with their addresses, the glue).
	Nameserver []Nameserver `toml:"nameserver"`
	// Hostmaster is the SOA's mailbox, as a name. Default hostmaster.ZONE.
	Hostmaster string `toml:"hostmaster"`
	// DNSListen are the addresses the DNS server listens on (UDP and TCP).
	// Default: port 53 of each nameserver address.
	DNSListen []netip.AddrPort `toml:"dns_listen"`
	// Waypoints are addresses of this host that clients connect to.
	Waypoints []netip.Addr `toml:"waypoints"`
	// HTTPPorts are routed by the HTTP Host header, TLSPorts by the TLS
	// server name; other ports by the heuristic.
	HTTPPorts []uint16 `toml:"http_ports"`
	TLSPorts  []uint16 `toml:"tls_ports"`
	// HeuristicWindow is how long after a DNS answer the first connection
	// to its waypoint is bound to the name. Default 1 s (the paper's).
	HeuristicWindow time.Duration `toml:"heuristic_window"`
	// BindingTimeout forgets a client's binding to a name unused this long.
	BindingTimeout time.Duration `toml:"binding_timeout"`
	// MaxBindings bounds the bindings kept (the least recently used go).
	MaxBindings int `toml:"max_bindings"`
	// ClientRate and ClientBurst limit new connections per client address
	// (an IPv6 client by its /64), per second and at once.
	ClientRate  float64 `toml:"client_rate"`
	ClientBurst int     `toml:"client_burst"`
	// MaxConns bounds the client connections carried at once; more are
	// refused (each holds a buffer and two sockets). Default 10000.
	MaxConns int `toml:"max_conns"`
	// DNSRate and DNSBurst limit DNS queries per source address.
	DNSRate  float64 `toml:"dns_rate"`
	DNSBurst int     `toml:"dns_burst"`
	// DialTimeout bounds reaching the overlay host; SniffTimeout waiting
	// for a client's first bytes on an HTTP or TLS port.
	DialTimeout  time.Duration `toml:"dial_timeout"`
	SniffTimeout time.Duration `toml:"sniff_timeout"`
	// PublicationLife is how long a publication lives when its host does
	// not offer it again (hosts offer every 30 s).
	PublicationLife time.Duration `toml:"publication_life"`
}

// Nameserver is one of the zone's nameservers.
type Nameserver struct {
	Name      string       `toml:"name"`
	Addresses []netip.Addr `toml:"addresses"`
}

// DefaultConfig returns the defaults of every key.
func DefaultConfig() Config {
	return Config{
		RoleConfig: proxy.DefaultRoleConfig("i3in0"),
		HTTPPorts:  []uint16{80}, TLSPorts: []uint16{443},
		HeuristicWindow: time.Second, BindingTimeout: 10 * time.Minute, MaxBindings: 65536,
		ClientRate: 20, ClientBurst: 40, MaxConns: 10000, DNSRate: 50, DNSBurst: 100,
		DialTimeout: 10 * time.Second, SniffTimeout: 5 * time.Second,
		PublicationLife: 100 * time.Second,
	}
}

// LoadConfig reads the configuration file at path over the defaults and
// checks it; every error names the file, the line and the key.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	meta, err := tomlconf.Load("ingress", path, &cfg)
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.check(meta)
}

// check validates cfg, naming the key (and its line, from meta) of a bad
// value, and fills what defaults from other keys.
func (c *Config) check(meta tomlconf.Meta) error {
	c.Zone = strings.ToLower(strings.TrimSuffix(c.Zone, "."))
	if _, ok := mdns.IsDomainName(c.Zone); !ok || !strings.Contains(c.Zone, ".") {
		return meta.ValueErrorf([]string{"zone"}, fmt.Sprintf("%q", c.Zone), "give the DNS zone delegated to this ingress, e.g. zone = \"i3.example.net\"")
	}
	if err := c.checkNameservers(meta); err != nil {
		return err
	}
	if len(c.Waypoints) == 0 {
		return meta.Errorf([]string{"waypoints"}, "no waypoint: list addresses of this host clients connect to, e.g. waypoints = [\"198.51.100.10\"]")
	}
	if err := c.checkNumbers(meta); err != nil {
		return err
	}
	if len(c.DNSListen) == 0 {
		for _, ns := range c.Nameserver {
			for _, a := range ns.Addresses {
				c.DNSListen = append(c.DNSListen, netip.AddrPortFrom(a, 53))
			}
		}
	}
	if len(c.DNSListen) == 0 {
		return meta.Errorf([]string{"dns_listen"}, "the DNS server listens nowhere: give dns_listen = [\"ADDR:53\"] or the nameservers' addresses")
	}
	return nil
}

// checkNameservers checks the zone's nameservers: at least one, and an
// in-zone one has addresses (glue).
func (c *Config) checkNameservers(meta tomlconf.Meta) error {
	if len(c.Nameserver) == 0 {
		return meta.Errorf([]string{"nameserver"}, "no nameserver: add [[nameserver]] with name = \"ns1.%s\" and addresses = [\"IP\"], as the parent zone's NS and glue records name them", c.Zone)
	}
	for i, ns := range c.Nameserver {
		key := []string{"nameserver", fmt.Sprint(i), "name"}
		ns.Name = strings.ToLower(strings.TrimSuffix(ns.Name, "."))
		if _, ok := mdns.IsDomainName(ns.Name); !ok || ns.Name == "" {
			return meta.ValueErrorf(key, fmt.Sprintf("%q", ns.Name), "not a DNS name")
		}
		inZone := ns.Name == c.Zone || strings.HasSuffix(ns.Name, "."+c.Zone)
		if inZone && len(ns.Addresses) == 0 {
			return meta.Errorf([]string{"nameserver", fmt.Sprint(i), "addresses"}, "%s is inside the zone: give its addresses (the glue)", ns.Name)
		}
		c.Nameserver[i].Name = ns.Name
	}
	return nil
}

// checkNumbers checks the ports, durations, rates and sizes.
func (c *Config) checkNumbers(meta tomlconf.Meta) error {
	positive := map[string]time.Duration{
		"heuristic_window": c.HeuristicWindow, "binding_timeout": c.BindingTimeout,
		"dial_timeout": c.DialTimeout, "sniff_timeout": c.SniffTimeout,
		"publication_life": c.PublicationLife,
	}
	for k, d := range positive {
		if d <= 0 {
			return meta.Errorf([]string{k}, "must be positive, e.g. \"1s\"")
		}
	}
	for k, r := range map[string]float64{"client_rate": c.ClientRate, "dns_rate": c.DNSRate} {
		if r <= 0 {
			return meta.Errorf([]string{k}, "must be positive (per second)")
		}
	}
	for k, n := range map[string]int{"client_burst": c.ClientBurst, "dns_burst": c.DNSBurst, "max_bindings": c.MaxBindings, "max_conns": c.MaxConns} {
		if n < 1 {
			return meta.Errorf([]string{k}, "must be at least 1")
		}
	}
	for _, k := range []string{"http_ports", "tls_ports"} {
		for _, p := range map[string][]uint16{"http_ports": c.HTTPPorts, "tls_ports": c.TLSPorts}[k] {
			if p == 0 {
				return meta.Errorf([]string{k}, "port 0: give TCP ports (1-65535)")
			}
		}
	}
	return c.RoleConfig.Check(meta)
}
