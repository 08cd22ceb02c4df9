package cli

import (
	"flag"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/i3net/i3net/internal/tomlconf"
	"github.com/i3net/i3net/internal/tundev"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/book"
	"github.com/i3net/i3net/proxy/dns"
)

// The main overlay's own settings in the --config file. The packaged service
// (packaging/systemd) runs "i3net proxy --config /etc/i3net/proxy.toml", so
// whatever a host must change there (a pool that clashes with another VPN's,
// the MTU of a smaller path, a fixed port for a firewall) belongs in the file
// too, not only in flags. A flag given on the command line wins over its key.

// hostFile is the part of proxyFile that stands for single-valued flags,
// under the flags' names (dashes as underscores).
type hostFile struct {
	Tun            string         `toml:"tun"`
	MTU            int            `toml:"mtu"`
	Pool4          string         `toml:"pool4"`
	Pool6          string         `toml:"pool6"`
	Suffix         string         `toml:"suffix"`
	Listen         netip.AddrPort `toml:"listen"`
	DNSMode        string         `toml:"dns_mode"`
	LogLevel       string         `toml:"log_level"`
	OnlyBook       *bool          `toml:"only_book"`
	MappingTimeout time.Duration  `toml:"mapping_timeout"`
}

// check returns the first bad value, naming the file's line and key.
func (h hostFile) check(meta tomlconf.Meta) error {
	bad := func(key, value, format string, args ...any) error {
		return meta.ValueErrorf([]string{key}, value, format, args...)
	}
	if err := tundev.CheckName(h.Tun); err != nil {
		return bad("tun", strconv.Quote(h.Tun), "%v", err)
	}
	if h.MTU != 0 && !proxy.ValidMTU(h.MTU) {
		return bad("mtu", strconv.Itoa(h.MTU), "want %d..%d: the path MTU less the overlay's headers (1360 for a 1500-byte path)", proxy.MinMTU, proxy.MaxMTU)
	}
	if h.Pool4 != "" {
		if p, err := netip.ParsePrefix(h.Pool4); err != nil || !p.Addr().Is4() {
			return bad("pool4", strconv.Quote(h.Pool4), "want an IPv4 range \"IP/BITS\", e.g. \"100.96.0.0/12\"")
		}
	}
	if !validPool6(h.Pool6) {
		return bad("pool6", strconv.Quote(h.Pool6), "want an IPv6 range \"IP/BITS\" or \"off\"")
	}
	if h.Suffix != "" {
		if err := checkSuffix(h.Suffix); err != nil {
			return bad("suffix", strconv.Quote(h.Suffix), "want a DNS suffix, e.g. \"i3\": %v", err)
		}
	}
	if h.DNSMode != "" {
		if _, err := dns.ParseMode(strings.ToLower(h.DNSMode)); err != nil {
			return bad("dns_mode", strconv.Quote(h.DNSMode), "choose \"auto\", \"resolvconf\", \"resolved\" or \"off\"")
		}
	}
	if h.LogLevel != "" {
		var lvl slog.Level
		if err := lvl.UnmarshalText([]byte(h.LogLevel)); err != nil {
			return bad("log_level", strconv.Quote(h.LogLevel), "choose \"debug\", \"info\", \"warn\" or \"error\"")
		}
	}
	if h.MappingTimeout < 0 {
		return bad("mapping_timeout", h.MappingTimeout.String(), "must be positive, e.g. \"10m\"")
	}
	return nil
}

// validPool6 reports whether s can be a file's pool6: unset, "off", or an
// IPv6 range.
func validPool6(s string) bool {
	if s == "" || s == "off" {
		return true
	}
	p, err := netip.ParsePrefix(s)
	return err == nil && p.Addr().Is6()
}

// checkSuffix checks an overlay's DNS suffix (dots at its ends allowed):
// labels of letters, digits and hyphens, as book names.
func checkSuffix(s string) error { return book.CheckName(strings.Trim(s, ".")) }

// given reports whether flag name was set on the command line.
func (a *proxyArgs) given(name string) bool { return flagGiven(a.flags, name) }

// flagGiven reports whether flag name of fs (nil: none) was set.
func flagGiven(fs *flag.FlagSet, name string) bool {
	found := false
	if fs != nil {
		fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	}
	return found
}

// fileHost takes the file's settings of the main overlay where no flag was
// given for them.
func (a *proxyArgs) fileHost(h hostFile) {
	take := func(flagName string, present bool, set func()) {
		if present && !a.given(flagName) {
			set()
		}
	}
	take("tun", h.Tun != "", func() { a.tun = h.Tun })
	take("mtu", h.MTU != 0, func() { a.mtu = h.MTU })
	take("pool4", h.Pool4 != "", func() { a.pool4 = h.Pool4 })
	take("pool6", h.Pool6 != "", func() { a.pool6 = h.Pool6 })
	take("suffix", h.Suffix != "", func() { a.suffix = h.Suffix })
	take("listen", h.Listen.IsValid(), func() { a.listen = h.Listen.String() })
	take("dns-mode", h.DNSMode != "" && !a.given("no-resolv-conf"), func() { a.dnsMode = h.DNSMode })
	take("log-level", h.LogLevel != "", func() { a.logLevel = h.LogLevel })
	take("only-book", h.OnlyBook != nil, func() { a.onlyBook = *h.OnlyBook })
	take("mapping-timeout", h.MappingTimeout > 0, func() { a.mappingTO = h.MappingTimeout })
}
