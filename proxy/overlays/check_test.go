package overlays

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/i3net/i3net/proxy"
)

func overlay(suffix, pool4, pool6, state string) proxy.Config {
	c := proxy.DefaultConfig()
	c.Suffix, c.StatePath = suffix, state
	c.Pool4 = netip.MustParsePrefix(pool4)
	c.Pool6 = netip.Prefix{}
	if pool6 != "" {
		c.Pool6 = netip.MustParsePrefix(pool6)
	}
	return c
}

func TestCheck(t *testing.T) {
	i3 := overlay("i3", "100.64.0.0/12", "fd7a:115c:a1e0::/64", "s/i3.json")
	good := overlay("lab", "100.96.0.0/12", "fd7a:1ab::/64", "s/lab.json")
	if err := Check([]proxy.Config{i3, good}); err != nil {
		t.Fatalf("two disjoint overlays refused: %v", err)
	}
	userspace := good
	userspace.Userspace = true
	cases := []struct {
		name   string
		other  proxy.Config
		key    string
		inText []string
	}{
		{"same suffix", overlay("I3.", "100.96.0.0/12", "", "s/lab.json"), "suffix", []string{"its own suffix"}},
		{"nested suffix", overlay("x.i3", "100.96.0.0/12", "", "s/lab.json"), "suffix", []string{"one under the other"}},
		{"pool4 overlaps", overlay("lab", "100.70.0.0/16", "", "s/lab.json"), "pool4",
			[]string{`overlaps overlay "i3" pool 100.64.0.0/12`, "e.g. 100.80.0.0/16"}},
		{"pool6 overlaps", overlay("lab", "100.96.0.0/12", "fd7a:115c:a1e0::/48", "s/lab.json"), "pool6", []string{`overlay "i3" pool fd7a:115c:a1e0::/64`}},
		{"same state", overlay("lab", "100.96.0.0/12", "", "s/i3.json"), "state", []string{"its own file"}},
		{"userspace", userspace, "userspace", []string{"tun device"}},
	}
	for _, c := range cases {
		err := Check([]proxy.Config{i3, c.other})
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Key != c.key || ce.Overlay != 1 {
			t.Errorf("%s: %v, want a ConfigError on overlay 1's %s", c.name, err, c.key)
			continue
		}
		for _, s := range c.inText {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: %q lacks %q", c.name, err, s)
			}
		}
	}
	if err := Check(nil); err == nil {
		t.Error("no overlay accepted")
	}
}

func TestFreePrefix(t *testing.T) {
	within := netip.MustParsePrefix("100.64.0.0/10")
	taken := []netip.Prefix{netip.MustParsePrefix("100.64.0.0/12"), netip.MustParsePrefix("100.80.0.0/12")}
	if p, ok := freePrefix(12, within, taken); !ok || p.String() != "100.96.0.0/12" {
		t.Errorf("freePrefix = %v %v, want 100.96.0.0/12", p, ok)
	}
	if _, ok := freePrefix(10, within, taken); ok {
		t.Error("found a free /10 inside a /10 that is taken")
	}
	if _, ok := freePrefix(8, within, nil); ok {
		t.Error("found a /8 inside a /10")
	}
}
