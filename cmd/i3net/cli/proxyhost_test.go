package cli

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/proxy/dns"
)

const hostSettings = `tun = "i3x0"
mtu = 1300
pool4 = "100.96.0.0/12"
pool6 = "off"
suffix = "home"
listen = "0.0.0.0:5611"
dns_mode = "off"
log_level = "warn"
only_book = true
mapping_timeout = "30m"
`

// The main overlay's settings from the file reach the proxy's configuration
// as their flags would.
func TestProxyFileHost(t *testing.T) {
	a, _ := overlayArgs(t, hostSettings)
	cfg, err := a.config()
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case cfg.TunName != "i3x0", cfg.MTU != 1300, cfg.Pool4 != netip.MustParsePrefix("100.96.0.0/12"), cfg.Pool6.IsValid():
		t.Errorf("tun %q mtu %d pools %v %v", cfg.TunName, cfg.MTU, cfg.Pool4, cfg.Pool6)
	case cfg.Suffix != "home", cfg.ListenAddr != netip.MustParseAddrPort("0.0.0.0:5611"):
		t.Errorf("suffix %q listen %v", cfg.Suffix, cfg.ListenAddr)
	case cfg.DNSMode != dns.ModeOff, cfg.AcceptUnknown, cfg.MappingTimeout != 30*time.Minute:
		t.Errorf("dns mode %v, accept unknown %v, mapping timeout %v", cfg.DNSMode, cfg.AcceptUnknown, cfg.MappingTimeout)
	case cfg.Logger.Enabled(t.Context(), -4) || !cfg.Logger.Enabled(t.Context(), 4):
		t.Error("log_level = warn: the logger does not log at warn and above only")
	}
}

// A flag given on the command line wins over its key in the file; a key
// without its flag still counts.
func TestProxyFileHostFlagWins(t *testing.T) {
	a, _ := overlayArgs(t, hostSettings, "--mtu", "1400", "--pool4", "100.64.0.0/12", "--no-resolv-conf")
	cfg, err := a.config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MTU != 1400 || cfg.Pool4 != netip.MustParsePrefix("100.64.0.0/12") {
		t.Errorf("flags lost to the file: mtu %d pool4 %v", cfg.MTU, cfg.Pool4)
	}
	if cfg.DNSMode != dns.ModeOff || cfg.TunName != "i3x0" {
		t.Errorf("dns mode %v tun %q", cfg.DNSMode, cfg.TunName)
	}
	// --no-resolv-conf with the file's dns_mode = "resolved" is not a
	// contradiction: the flag wins.
	a, _ = overlayArgs(t, "dns_mode = \"resolved\"\n", "--no-resolv-conf")
	if cfg, err := a.config(); err != nil || cfg.DNSMode != dns.ModeOff {
		t.Errorf("--no-resolv-conf over dns_mode = resolved: %v %v", cfg.DNSMode, err)
	}
}

// A bad value names the file, the line, the key, and what to write.
func TestProxyFileHostErrors(t *testing.T) {
	for _, tt := range []struct{ text, want string }{
		{"mtu = 100\n", ":1: mtu = 100: want 1280..9000"},
		{"\npool4 = \"fd00::/64\"\n", ":2: pool4 = \"fd00::/64\": want an IPv4 range"},
		{"pool6 = \"10.0.0.0/8\"\n", ":1: pool6 = \"10.0.0.0/8\": want an IPv6 range"},
		{"suffix = \"a b\"\n", ":1: suffix = \"a b\": want a DNS suffix"},
		{"dns_mode = \"systemd\"\n", ":1: dns_mode = \"systemd\": choose"},
		{"log_level = \"loud\"\n", ":1: log_level = \"loud\": choose"},
		{"tun = \"a-very-long-interface-name\"\n", ":1: tun = \"a-very-long-interface-name\": an interface name has at most 15 bytes"},
		{"mapping_timeout = \"-1m\"\n", ":1: mapping_timeout = -1m0s: must be positive"},
		{"listen = \"5611\"\n", ":1:"},
	} {
		path := writeProxyFile(t, tt.text)
		_, _, err := loadProxyFile(path)
		if err == nil || !strings.Contains(err.Error(), path+tt.want) {
			t.Errorf("%q: error %v, want %q", tt.text, err, path+tt.want)
		}
	}
}
