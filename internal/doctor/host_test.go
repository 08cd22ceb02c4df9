package doctor

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckOS(t *testing.T) {
	if r := CheckOS("linux"); r.Level != OK {
		t.Errorf("linux: %v", r)
	}
	if r := CheckOS("darwin"); r.Level != Fail || !strings.Contains(r.Fix, "Linux") {
		t.Errorf("darwin: %v", r)
	}
}

func TestCheckTunMissingAndNotADevice(t *testing.T) {
	dir := t.TempDir()
	r := CheckTun(filepath.Join(dir, "tun"))
	if r.Level != Fail || !strings.Contains(r.Detail, "missing") || !strings.Contains(r.Fix, "--userspace") {
		t.Errorf("missing: %v", r)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := CheckTun(file); r.Level != Fail || !strings.Contains(r.Detail, "not a character device") {
		t.Errorf("regular file: %v", r)
	}
}

// The real device opens for root (opening it makes no interface).
func TestCheckTunReal(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to open /dev/net/tun")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skip("no /dev/net/tun here")
	}
	if r := CheckTun("/dev/net/tun"); r.Level != OK {
		t.Errorf("%v", r)
	}
}

func TestEffectiveCaps(t *testing.T) {
	caps, err := EffectiveCaps([]byte("Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t0000000000001000\nCapBnd:\t000001ffffffffff\n"))
	if err != nil || caps != 1<<capNetAdmin {
		t.Errorf("got %x, %v", caps, err)
	}
	if _, err := EffectiveCaps([]byte("Name:\tx\n")); err == nil {
		t.Error("no CapEff line: no error")
	}
	if _, err := EffectiveCaps([]byte("CapEff:\tzz\n")); err == nil {
		t.Error("bad hex: no error")
	}
}

func FuzzEffectiveCaps(f *testing.F) {
	f.Add([]byte("CapEff:\t0000000000001000\n"))
	f.Add([]byte("CapEff:\n"))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = EffectiveCaps(b) })
}

func TestCheckCaps(t *testing.T) {
	const none, admin = "CapEff:\t0000000000000000\n", "CapEff:\t0000000000001000\n"
	for _, c := range []struct {
		euid   int
		status string
		want   Level
		detail string
	}{
		{0, "CapEff:\t000001ffffffffff\n", OK, "root"},
		{1000, admin, OK, "CAP_NET_ADMIN"},
		{1000, none, Warn, "neither root"},
		{0, none, Warn, "neither root"}, // root in a user namespace without the capability
		{1000, "garbage", Warn, "cannot read"},
		{0, "garbage", OK, "root"},
	} {
		r := CheckCaps(c.euid, []byte(c.status))
		if r.Level != c.want || !strings.Contains(r.Detail, c.detail) {
			t.Errorf("euid %d %q: %v, want %v %q", c.euid, c.status, r, c.want, c.detail)
		}
		if r.Level != OK && !strings.Contains(r.Fix, "--userspace") {
			t.Errorf("euid %d %q: remedy %q does not name --userspace", c.euid, c.status, r.Fix)
		}
	}
}

func TestCheckResolver(t *testing.T) {
	dir := t.TempDir()
	if r := CheckResolver(""); r.Level != OK || !strings.Contains(r.Detail, "left alone") {
		t.Errorf("none: %v", r)
	}
	if r := CheckResolver(filepath.Join(dir, "missing")); r.Level != Warn {
		t.Errorf("missing: %v", r)
	}
	file := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(file, []byte("nameserver 192.0.2.53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := CheckResolver(file); r.Level != OK {
		t.Errorf("file: %v", r)
	}
	stub := filepath.Join(dir, "stub")
	if err := os.Symlink("/run/systemd/resolve/stub-resolv.conf", stub); err != nil {
		t.Fatal(err)
	}
	// resolved's file with no resolved on the bus (a bus that is not there):
	// the proxy's auto mode would stop, so doctor says what to do.
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+filepath.Join(dir, "no-bus"))
	if r := CheckResolver(stub); r.Level != Fail || !strings.Contains(r.Detail, "systemd-resolved") ||
		!strings.Contains(r.Fix, "--dns-mode resolvconf") {
		t.Errorf("stub: %v", r)
	}
}

// A resolver file in a directory the process may not write fails. Root
// writes everywhere, so this runs as another user only.
func TestCheckResolverNotWritable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may write any file: run as another user")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(file, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	if r := CheckResolver(file); r.Level != Fail {
		t.Errorf("read-only: %v", r)
	}
}

func TestCheckPools(t *testing.T) {
	p4, p6 := netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("fd69:3369:3300::/48")
	clash := errors.New("proxy: pool 100.64.0.0/10 overlaps the route 100.64.1.0/24")
	r := CheckPools(p4, p6, func(a, b netip.Prefix) error {
		if a != p4 || b != p6 {
			t.Errorf("pools %v %v", a, b)
		}
		return clash
	})
	if r.Level != Fail || r.Detail != clash.Error() || !strings.Contains(r.Fix, "--pool4") {
		t.Errorf("clash: %v", r)
	}
	if r := CheckPools(p4, netip.Prefix{}, func(a, b netip.Prefix) error { return nil }); r.Level != OK || strings.Contains(r.Detail, "and") {
		t.Errorf("no clash: %v", r)
	}
}

// The real check reads this namespace's routes and changes nothing.
func TestCheckPoolsReal(t *testing.T) {
	r := CheckPools(netip.MustParsePrefix("100.64.0.0/10"), netip.Prefix{}, nil)
	if r.Level == Fail && !strings.Contains(r.Detail, "overlap") && !strings.Contains(r.Detail, "routed") {
		t.Errorf("%v", r)
	}
}

func TestWorstAndString(t *testing.T) {
	rs := []Result{ok("a", "x"), warn("b", "y", "do z")}
	if Worst(rs) != Warn || Worst(nil) != OK || Worst(append(rs, fail("c", "", ""))) != Fail {
		t.Error("Worst")
	}
	if s := rs[1].String(); !strings.HasPrefix(s, "warn") || !strings.HasSuffix(s, "y — do z") {
		t.Errorf("%q", s)
	}
}
