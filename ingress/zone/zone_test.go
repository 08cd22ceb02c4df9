package zone

import (
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"

	"github.com/i3net/i3net/internal/testwait"
)

func TestMain(m *testing.M) { testwait.Main(m) }

const origin = "i3.example.net."

// book is a Names for tests: rel → addresses (zero: published without that
// family); it records the Resolve calls.
type book struct {
	mu    sync.Mutex
	v4    map[string]netip.Addr
	v6    map[string]netip.Addr
	calls []string
}

func newBook() *book {
	return &book{
		v4: map[string]netip.Addr{
			"home":     netip.MustParseAddr("198.51.100.10"),
			"www.home": netip.MustParseAddr("198.51.100.11"),
			"v6only":   {},
		},
		v6: map[string]netip.Addr{
			"home":   netip.MustParseAddr("2001:db8::10"),
			"v6only": netip.MustParseAddr("2001:db8::11"),
		},
	}
}

func (b *book) Resolve(rel string, v6 bool) (netip.Addr, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, rel)
	a4, ok := b.v4[rel]
	if v6 {
		return b.v6[rel], ok
	}
	return a4, ok
}

func (b *book) Resolves() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.calls...)
}

// existenceBook adds Existence: a name exists if published or above one.
type existenceBook struct{ *book }

func (b existenceBook) Exists(rel string) bool {
	for name := range b.v4 {
		if name == rel || strings.HasSuffix(name, "."+rel) {
			return true
		}
	}
	return false
}

func testConfig(names Names) Config {
	return Config{
		Origin: "I3.Example.NET",
		Nameservers: []NS{
			{Name: "ns1.i3.example.net", Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.53"), netip.MustParseAddr("2001:db8::53")}},
			{Name: "ns2.dns.i3.example.net", Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.54")}},
			{Name: "ns.other.example."},
		},
		Names: names,
	}
}

func newZone(t testing.TB, cfg Config) *Zone {
	t.Helper()
	z, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// query builds a query message.
func query(name string, qtype uint16, edns bool) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	if edns {
		m.SetEdns0(4096, false)
	}
	return m
}

func TestNewErrors(t *testing.T) {
	ok := testConfig(nil)
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no origin", func(c *Config) { c.Origin = "" }, "origin"},
		{"root origin", func(c *Config) { c.Origin = "." }, "origin"},
		{"bad origin", func(c *Config) { c.Origin = "a..b" }, "origin"},
		{"no nameserver", func(c *Config) { c.Nameservers = nil }, "no nameserver"},
		{"in-zone without glue", func(c *Config) { c.Nameservers = []NS{{Name: "ns9.i3.example.net"}} }, "give its addresses"},
		{"out-of-zone with addresses", func(c *Config) {
			c.Nameservers = []NS{{Name: "ns.other.example", Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}}
		}, "outside the zone"},
		{"invalid address", func(c *Config) { c.Nameservers = []NS{{Name: "ns1.i3.example.net", Addrs: []netip.Addr{{}}}} }, "not an IPv4"},
		{"twice", func(c *Config) { c.Nameservers = append(c.Nameservers, c.Nameservers[0]) }, "twice"},
		{"hostmaster", func(c *Config) { c.Hostmaster = "not a name" }, "hostmaster"},
	}
	for _, c := range cases {
		cfg := ok
		c.edit(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: New = %v, want an error with %q", c.name, err, c.want)
		}
	}
	z := newZone(t, ok)
	if z.origin != origin || z.soa.Mbox != "hostmaster."+origin || z.ttl != DefaultTTL || z.negTTL != DefaultNegativeTTL {
		t.Fatalf("defaults: origin %q mbox %q ttl %d neg %d", z.origin, z.soa.Mbox, z.ttl, z.negTTL)
	}
	cfg := ok
	cfg.Hostmaster = "dns-admin@example.org"
	if z := newZone(t, cfg); z.soa.Mbox != "dns-admin.example.org." {
		t.Fatalf("hostmaster as e-mail: %q", z.soa.Mbox)
	}
}
