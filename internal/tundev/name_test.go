package tundev

import (
	"strings"
	"testing"
)

// TestCheckName: the names Linux takes pass; too long ones and ones with a
// character the kernel refuses are refused, saying why.
func TestCheckName(t *testing.T) {
	for _, name := range []string{"i3net0", "a", "i3-gw_0.lab", "exactly15chars!"} {
		if err := CheckName(name); err != nil {
			t.Errorf("%q: %v", name, err)
		}
	}
	for name, want := range map[string]string{
		"sixteen-chars-xx": "at most 15 bytes",
		"tun/0":            "not an interface name",
		"tun:0":            "not an interface name",
		"tun 0":            "not an interface name",
		"tun%d":            "not an interface name",
		".":                "not an interface name",
		"..":               "not an interface name",
	} {
		if err := CheckName(name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", name, err, want)
		}
	}
}
