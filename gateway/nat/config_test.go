package nat

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	p := netip.MustParsePrefix
	good := Config{Tun: "i3gw0", Pools: []netip.Prefix{p("100.64.0.0/10")}, Serve: []netip.Prefix{p("10.1.0.0/24")}}
	with := func(f func(*Config)) Config {
		c := good
		f(&c)
		return c
	}
	tests := []struct {
		name    string
		cfg     Config
		want    Config // when no error
		wantErr string // a substring of the error
	}{
		{name: "defaults", cfg: good, want: with(func(c *Config) { c.Table = DefaultTable })},
		{name: "prefixes masked, mapped unmapped",
			cfg: with(func(c *Config) {
				c.Table = "t"
				c.Serve = []netip.Prefix{p("10.1.0.7/24"), p("::ffff:10.2.0.0/112")}
				c.Pools = []netip.Prefix{p("fd7a:115c:a1e0::5/64")}
			}),
			want: with(func(c *Config) {
				c.Table = "t"
				c.Serve = []netip.Prefix{p("10.1.0.0/24"), p("10.2.0.0/16")}
				c.Pools = []netip.Prefix{p("fd7a:115c:a1e0::/64")}
			})},
		{name: "no serve", cfg: with(func(c *Config) { c.Serve = nil }), wantErr: "set serve_cidrs"},
		{name: "no pool", cfg: with(func(c *Config) { c.Pools = nil }), wantErr: "set pool4"},
		{name: "no tun", cfg: with(func(c *Config) { c.Tun = "" }), wantErr: "Config.Tun"},
		{name: "long tun", cfg: with(func(c *Config) { c.Tun = "a-very-long-tun-name" }), wantErr: "longer than 15"},
		{name: "bad tun", cfg: with(func(c *Config) { c.Tun = "tun/0" }), wantErr: "not an interface name"},
		{name: "invalid serve", cfg: with(func(c *Config) { c.Serve = append(c.Serve, netip.Prefix{}) }), wantErr: "serve_cidrs: entry 2"},
		{name: "invalid pool", cfg: with(func(c *Config) { c.Pools = []netip.Prefix{{}} }), wantErr: "pool4/pool6: entry 1"},
		{name: "short mapped", cfg: with(func(c *Config) { c.Serve = []netip.Prefix{p("::ffff:0:0/80")} }), wantErr: "IPv4-mapped"},
		{name: "long table", cfg: with(func(c *Config) { c.Table = strings.Repeat("t", 256) }), wantErr: "at most 255"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.validate()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("validate: %v, want an error containing %q", err, tt.wantErr)
				}
				if _, ierr := Install(tt.cfg); ierr == nil || ierr.Error() != err.Error() {
					t.Fatalf("Install: %v, want the validation error before touching the kernel", ierr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("validate:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestHasIPv6(t *testing.T) {
	p := netip.MustParsePrefix
	if hasIPv6([]netip.Prefix{p("100.64.0.0/10")}) {
		t.Error("an IPv4 pool is not IPv6")
	}
	if !hasIPv6([]netip.Prefix{p("100.64.0.0/10"), p("fd7a:115c:a1e0::/64")}) {
		t.Error("a pool list with an IPv6 prefix has IPv6")
	}
}
