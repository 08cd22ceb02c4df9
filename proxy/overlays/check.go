package overlays

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/i3net/i3net/proxy"
)

// ConfigError is a problem with one overlay's configuration, or between two
// overlays'. Overlay is the index in the list given to Check (0: the
// primary); Key names the proxy.Config field as the configuration file
// writes it (suffix, pool4, pool6, state, listen), so the caller can point
// at the file's line.
type ConfigError struct {
	Overlay int
	Suffix  string
	Key     string
	Value   string
	Msg     string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("overlays: overlay %q: %s %s: %s", e.Suffix, e.Key, e.Value, e.Msg)
}

// Check checks that the overlays of cfgs can run together: suffixes
// distinct and none under another's, pools pairwise disjoint, state files
// and listening addresses distinct, no userspace mode. It returns the first
// problem as a *ConfigError. It does not look at the host (Open does).
func Check(cfgs []proxy.Config) error {
	if len(cfgs) == 0 {
		return fmt.Errorf("overlays: no overlay")
	}
	for i := range cfgs {
		if err := checkPair(cfgs, i); err != nil {
			return err
		}
	}
	return nil
}

// checkPair checks overlay i alone and against those before it.
func checkPair(cfgs []proxy.Config, i int) error {
	c := cfgs[i]
	suffix := strings.ToLower(strings.Trim(c.Suffix, "."))
	fail := func(key, value, format string, args ...any) error {
		return &ConfigError{Overlay: i, Suffix: suffix, Key: key, Value: value, Msg: fmt.Sprintf(format, args...)}
	}
	if c.Userspace && len(cfgs) > 1 {
		return fail("userspace", "true", "several overlays need the tun device: userspace mode serves one overlay (drop the other overlays, or run as root)")
	}
	if suffix == "" {
		return fail("suffix", `""`, "every overlay needs a DNS suffix of its own")
	}
	for j, o := range cfgs[:i] {
		other := strings.ToLower(strings.Trim(o.Suffix, "."))
		switch {
		case suffix == other:
			return fail("suffix", quote(suffix), "the overlay before has it too: give each overlay its own suffix")
		case strings.HasSuffix(suffix, "."+other), strings.HasSuffix(other, "."+suffix):
			return fail("suffix", quote(suffix), "it and overlay %q's suffix are one under the other, so names would be ambiguous: choose suffixes that are not", other)
		}
		if err := checkPools(cfgs, i, j, fail); err != nil {
			return err
		}
		if c.StatePath != "" && c.StatePath == o.StatePath {
			return fail("state", quote(c.StatePath), "overlay %q keeps its state there too: give each its own file", other)
		}
		if c.ListenAddr.Port() != 0 && c.ListenAddr == o.ListenAddr {
			return fail("listen", quote(c.ListenAddr.String()), "overlay %q listens there too: give each its own port", other)
		}
	}
	return nil
}

// checkPools refuses pools of overlay i that overlap overlay j's.
func checkPools(cfgs []proxy.Config, i, j int, fail func(key, value, format string, args ...any) error) error {
	c, o := cfgs[i], cfgs[j]
	for _, k := range []struct {
		key        string
		mine, them netip.Prefix
		within     netip.Prefix
	}{
		{"pool4", c.Pool4, o.Pool4, netip.MustParsePrefix("100.64.0.0/10")},
		{"pool6", c.Pool6, o.Pool6, netip.MustParsePrefix("fd00::/8")},
	} {
		if !k.mine.IsValid() || !k.them.IsValid() || !k.mine.Overlaps(k.them) {
			continue
		}
		hint := "choose another that overlaps no other overlay's"
		if free, ok := freePrefix(k.mine.Bits(), k.within, pools(cfgs)); ok {
			hint = "choose another, e.g. " + free.String()
		}
		if j == 0 && k.them == k.within {
			hint += fmt.Sprintf(" (overlay %q has all of %v, the default: give it a smaller pool with --%s, or give this one a range outside it)",
				strings.Trim(o.Suffix, "."), k.them, k.key)
		}
		return fail(k.key, quote(k.mine.String()), "overlaps overlay %q pool %v: %s", strings.Trim(o.Suffix, "."), k.them, hint)
	}
	return nil
}

// pools lists every pool of cfgs.
func pools(cfgs []proxy.Config) []netip.Prefix {
	var out []netip.Prefix
	for _, c := range cfgs {
		for _, p := range []netip.Prefix{c.Pool4, c.Pool6} {
			if p.IsValid() {
				out = append(out, p)
			}
		}
	}
	return out
}

// freePrefix finds a prefix of bits bits inside within that overlaps none
// of taken (looking at the first 4096 candidates).
func freePrefix(bits int, within netip.Prefix, taken []netip.Prefix) (netip.Prefix, bool) {
	if bits < within.Bits() || bits > within.Addr().BitLen() {
		return netip.Prefix{}, false
	}
	p := netip.PrefixFrom(within.Addr(), bits)
	for range 4096 {
		if !within.Contains(p.Addr()) {
			return netip.Prefix{}, false
		}
		if !overlapsAny(p, taken) {
			return p, true
		}
		next, ok := nextPrefix(p)
		if !ok {
			return netip.Prefix{}, false
		}
		p = next
	}
	return netip.Prefix{}, false
}

func overlapsAny(p netip.Prefix, taken []netip.Prefix) bool {
	for _, t := range taken {
		if p.Overlaps(t) {
			return true
		}
	}
	return false
}

// nextPrefix returns the prefix of p's length right after p.
func nextPrefix(p netip.Prefix) (netip.Prefix, bool) {
	b := p.Addr().AsSlice()
	bit := p.Bits() - 1 // add 1 at the prefix's last bit, carrying
	for ; bit >= 0; bit-- {
		i, m := bit/8, byte(0x80>>(bit%8))
		if b[i]&m == 0 {
			b[i] |= m
			break
		}
		b[i] &^= m
	}
	if bit < 0 {
		return netip.Prefix{}, false
	}
	a, _ := netip.AddrFromSlice(b)
	return netip.PrefixFrom(a, p.Bits()), true
}

func quote(s string) string { return fmt.Sprintf("%q", s) }
