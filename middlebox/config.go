package middlebox

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/internal/tomlconf"
	"github.com/i3net/i3net/internal/tundev"
	"github.com/i3net/i3net/proxy/book"
)

// Config is a middlebox's configuration file (TOML); the keys are the toml
// tags. docs/middlebox.md shows an example.
type Config struct {
	// Servers are the overlay servers (at least one, here or by --server).
	Servers []netip.AddrPort `toml:"servers"`
	// Listen is the UDP address of the overlay client; zero: any free port.
	Listen netip.AddrPort `toml:"listen"`
	// IDSTun is the tun device the middlebox writes the plaintext packets
	// into, for an IDS beside it to read (suricata -i IDSTUN). Empty: no IDS.
	IDSTun string `toml:"ids_tun"`
	// IDSMTU is the IDS device's MTU; it must hold the largest packet the
	// hosts send. Default 65535.
	IDSMTU int `toml:"ids_mtu"`
	// EveJSON is the IDS's event log (Suricata's eve.json), followed for
	// alerts. Empty: no alerts.
	EveJSON string `toml:"eve_json"`
	// EvePoll is how often the event log is read. Default 200 ms.
	EvePoll time.Duration `toml:"eve_poll"`
	// Anycast names this member in a group of middleboxes that share one
	// identity; each member a different name. Empty: member 0.
	Anycast string `toml:"anycast"`
	// Hosts are the hosts that impose this middlebox (at least one).
	Hosts []HostConfig `toml:"host"`
}

// HostConfig is a host that imposes the middlebox ([[host]]).
type HostConfig struct {
	// Name names the host in the status and the logs (a name as the address
	// book takes).
	Name string `toml:"name"`
	// KeyText is the host's public key, as "i3net id" prints it there.
	KeyText string `toml:"key"`
	// Key is KeyText parsed (by LoadConfig, or Check).
	Key identity.PublicKey `toml:"-"`
}

// Defaults of the keys.
const (
	DefaultIDSMTU  = 65535
	DefaultEvePoll = 200 * time.Millisecond
)

// DefaultConfig returns the defaults of every key.
func DefaultConfig() Config {
	return Config{IDSMTU: DefaultIDSMTU, EvePoll: DefaultEvePoll}
}

// LoadConfig reads the configuration file at path over the defaults and
// checks it; every error names the file, the line and the key.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	meta, err := tomlconf.Load("middlebox", path, &cfg)
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.check(meta)
}

// check validates c and parses the hosts' keys, naming the key (and its line,
// from meta) of a bad value.
func (c *Config) check(meta tomlconf.Meta) error {
	if len(c.Hosts) == 0 {
		return meta.Errorf([]string{"host"}, "the middlebox serves no host: add one [[host]] with name and key per host that imposes it")
	}
	names := map[string]int{}
	keys := map[identity.PublicKey]int{}
	for i := range c.Hosts {
		if err := c.checkHost(meta, i, names, keys); err != nil {
			return err
		}
	}
	if c.IDSTun != "" {
		if err := tundev.CheckName(c.IDSTun); err != nil {
			return meta.ValueErrorf([]string{"ids_tun"}, strconv.Quote(c.IDSTun), "%v", err)
		}
	}
	if c.IDSMTU < 1280 || c.IDSMTU > 65535 {
		return meta.Errorf([]string{"ids_mtu"}, "%d is out of range 1280..65535", c.IDSMTU)
	}
	if c.EvePoll <= 0 || c.EvePoll > time.Minute {
		return meta.Errorf([]string{"eve_poll"}, "%v: want a positive duration of at most 1m, e.g. \"200ms\"", c.EvePoll)
	}
	return nil
}

// checkHost checks the i-th [[host]]: a valid name and key, neither used by
// an earlier host (names and keys hold the index of the host that has them).
func (c *Config) checkHost(meta tomlconf.Meta, i int, names map[string]int, keys map[identity.PublicKey]int) error {
	h := &c.Hosts[i]
	at := func(k string) []string { return []string{"host", strconv.Itoa(i), k} }
	if !meta.IsDefined(at("name")...) {
		return meta.Errorf(at("name"), "missing: name the host (e.g. name = \"home\")")
	}
	if err := book.CheckName(h.Name); err != nil {
		return meta.ValueErrorf(at("name"), strconv.Quote(h.Name), "%v", err)
	}
	h.Name = strings.ToLower(h.Name)
	if j, ok := names[h.Name]; ok {
		return meta.ValueErrorf(at("name"), strconv.Quote(h.Name), "the name of host[%d] (line %d) too: give each host its own", j, meta.Line("host", strconv.Itoa(j), "name"))
	}
	names[h.Name] = i
	if !meta.IsDefined(at("key")...) {
		return meta.Errorf(at("key"), "missing: the host's key, key = \"i3pk1…\" as \"i3net id\" prints it on that host")
	}
	k, legacy, err := identity.ParseKeyText(h.KeyText)
	if err != nil {
		return meta.ValueErrorf(at("key"), strconv.Quote(h.KeyText), "%v", err)
	}
	if legacy {
		return meta.ValueErrorf(at("key"), strconv.Quote(h.KeyText), "the old form without a checksum: write %q", k.String())
	}
	if j, ok := keys[k]; ok {
		return meta.ValueErrorf(at("key"), strconv.Quote(h.KeyText), "the key of host[%d] (%s) too: one [[host]] per host", j, c.Hosts[j].Name)
	}
	keys[k] = i
	h.Key = k
	return nil
}
