package zone

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Defaults of Config.
const (
	DefaultNegativeTTL = 5
	DefaultTTL         = 3600
)

// SOA timers: no secondary servers read them, but resolvers see them.
const (
	soaRefresh = 3600
	soaRetry   = 600
	soaExpire  = 7 * 24 * 3600
)

// Zone answers queries for one zone. It is safe for concurrent use.
type Zone struct {
	origin string // lower case, final dot
	labels int    // of origin
	ns     []*nameserver
	hosts  map[string]*nameserver // in-zone nameservers by name relative to origin
	ents   map[string]bool        // empty non-terminals above in-zone nameservers
	soa    dns.SOA                // header TTL and owner set per answer
	ttl    uint32
	negTTL uint32
	names  Names
	allow  func(netip.Addr) bool
	log    *slog.Logger
	stats  counters
}

// nameserver is a checked NS.
type nameserver struct {
	name   string // lower case FQDN
	v4, v6 []netip.Addr
}

// New checks cfg and returns the zone.
func New(cfg Config) (*Zone, error) {
	origin, err := hostName("origin", cfg.Origin)
	if err != nil {
		return nil, err
	}
	z := &Zone{
		origin: origin, labels: dns.CountLabel(origin),
		hosts: map[string]*nameserver{}, ents: map[string]bool{},
		ttl: orDefault(cfg.TTL, DefaultTTL), negTTL: orDefault(cfg.NegativeTTL, DefaultNegativeTTL),
		names: cfg.Names, allow: cfg.Allow, log: cfg.Logger,
	}
	if z.log == nil {
		z.log = slog.Default()
	}
	if err := z.addNameservers(cfg.Nameservers); err != nil {
		return nil, err
	}
	mbox, err := hostmaster(cfg.Hostmaster, origin)
	if err != nil {
		return nil, err
	}
	z.soa = dns.SOA{
		Ns: z.ns[0].name, Mbox: mbox, Serial: uint32(time.Now().Unix()),
		Refresh: soaRefresh, Retry: soaRetry, Expire: soaExpire, Minttl: z.negTTL,
	}
	return z, nil
}

func orDefault(v, def uint32) uint32 {
	if v == 0 {
		return def
	}
	return v
}

// hostName checks a configured domain name and returns it in lower case with
// the final dot.
func hostName(what, s string) (string, error) {
	name := dns.Fqdn(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := dns.IsDomainName(name); !ok || name == "." || strings.ContainsAny(name, `\ `) ||
		strings.Contains(name, "..") {
		return "", fmt.Errorf("zone: %s %q: not a domain name (like \"i3.example.net\")", what, s)
	}
	return name, nil
}

// hostmaster is the SOA RNAME: s as a name ("a@b" becomes "a.b"), by default
// hostmaster.ORIGIN.
func hostmaster(s, origin string) (string, error) {
	if s == "" {
		return "hostmaster." + origin, nil
	}
	return hostName("hostmaster", strings.Replace(s, "@", ".", 1))
}

// addNameservers checks the nameservers and indexes the in-zone ones.
func (z *Zone) addNameservers(list []NS) error {
	if len(list) == 0 {
		return errors.New("zone: no nameserver: give at least one (its name and, inside the zone, its addresses)")
	}
	for _, c := range list {
		ns, err := z.nameserver(c)
		if err != nil {
			return err
		}
		z.ns = append(z.ns, ns)
		rel, inZone := z.relative(ns.name)
		if !inZone {
			continue
		}
		if z.hosts[rel] != nil {
			return fmt.Errorf("zone: nameserver %s given twice", ns.name)
		}
		z.hosts[rel] = ns
		for i := strings.IndexByte(rel, '.'); i >= 0; i = strings.IndexByte(rel, '.') {
			rel = rel[i+1:]
			z.ents[rel] = true
		}
	}
	return nil
}

// nameserver checks one NS.
func (z *Zone) nameserver(c NS) (*nameserver, error) {
	name, err := hostName("nameserver", c.Name)
	if err != nil {
		return nil, err
	}
	_, inZone := z.relative(name)
	if inZone && len(c.Addrs) == 0 {
		return nil, fmt.Errorf("zone: nameserver %s is inside the zone: give its addresses (glue)", name)
	}
	if !inZone && len(c.Addrs) > 0 {
		return nil, fmt.Errorf("zone: nameserver %s is outside the zone %s: its addresses would not be served; leave them out", name, z.origin)
	}
	ns := &nameserver{name: name}
	for _, a := range c.Addrs {
		a = a.Unmap()
		switch {
		case a.Is4():
			ns.v4 = append(ns.v4, a)
		case a.Is6() && a.Zone() == "":
			ns.v6 = append(ns.v6, a)
		default:
			return nil, fmt.Errorf("zone: nameserver %s: address %q is not an IPv4 or global IPv6 address", name, a)
		}
	}
	return ns, nil
}

// relative returns name (lower case, final dot) relative to the origin ("" for
// the origin itself) and whether it is inside the zone at all.
func (z *Zone) relative(name string) (string, bool) {
	idx := dns.Split(name)
	if len(idx) < z.labels {
		return "", false
	}
	cut := idx[len(idx)-z.labels]
	if name[cut:] != z.origin {
		return "", false
	}
	if cut == 0 {
		return "", true
	}
	return name[:cut-1], true
}
