package demo

import (
	"os"
	"testing"
)

// TestUserspaceReason: --userspace picks the userspace part on Linux; other
// systems get the lab, which says it needs Linux; an unprivileged user gets
// the userspace part.
func TestUserspaceReason(t *testing.T) {
	if got := userspaceReason("linux", true); got != "--userspace" {
		t.Errorf("forced on Linux: %q, want --userspace", got)
	}
	if got := userspaceReason("darwin", true); got != "" {
		t.Errorf("on darwin: %q, want the lab (which says it needs Linux)", got)
	}
	if os.Geteuid() != 0 {
		if got := userspaceReason("linux", false); got != "not root" {
			t.Errorf("not root: %q, want \"not root\"", got)
		}
	}
}

// TestHasCaps checks the test of CapEff's bits.
func TestHasCaps(t *testing.T) {
	all := uint64(1)<<capNetAdmin | 1<<capSysAdmin
	for _, c := range []struct {
		eff  uint64
		want bool
	}{{all, true}, {^uint64(0), true}, {1 << capNetAdmin, false}, {1 << capSysAdmin, false}, {0, false}} {
		if got := hasCaps(c.eff, capNetAdmin, capSysAdmin); got != c.want {
			t.Errorf("hasCaps(%#x) = %v, want %v", c.eff, got, c.want)
		}
	}
	if os.Geteuid() == 0 && !hasCaps(readCapEff(), capNetAdmin, capSysAdmin) {
		t.Log("this root process lacks CAP_NET_ADMIN or CAP_SYS_ADMIN: the demo shows the userspace part here")
	}
}
