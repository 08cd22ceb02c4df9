package resolved

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
)

func TestRegisterRefusesBadInput(t *testing.T) {
	for _, c := range []struct {
		ifindex int
		servers []netip.Addr
		suffix  string
	}{
		{0, []netip.Addr{netip.MustParseAddr("100.64.0.1")}, "i3"},
		{3, nil, "i3"},
		{3, []netip.Addr{netip.MustParseAddr("100.64.0.1")}, "."},
	} {
		if _, err := Register(c.ifindex, c.servers, c.suffix); err == nil || !strings.Contains(err.Error(), "need a link index") {
			t.Errorf("Register(%d, %v, %q) = %v, want the bad input named", c.ifindex, c.servers, c.suffix, err)
		}
	}
}

// resolvedHost is a lab host running systemd-resolved on a private system
// bus, which this process's D-Bus clients then use, with a tun link i3t0.
func resolvedHost(t *testing.T) (h *netlab.Host, r *netlab.Resolved, ifindex int) {
	t.Helper()
	if _, err := exec.LookPath("/lib/systemd/systemd-resolved"); err != nil {
		t.Skip("systemd-resolved is not installed (scripts/deps installs it)")
	}
	lab := netlabtest.New(t)
	h = lab.Host("desk")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := h.StartResolved(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Error(err)
		}
	})
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", r.Address)
	for _, args := range [][]string{{"tuntap", "add", "dev", "i3t0", "mode", "tun"}, {"link", "set", "i3t0", "up"}} {
		if out, err := h.Run(ctx, "ip", args...); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	err = h.Do(func() error {
		ifi, err := net.InterfaceByName("i3t0")
		if err == nil {
			ifindex = ifi.Index
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return h, r, ifindex
}

// resolvectl runs resolvectl in h against r's bus.
func resolvectl(t *testing.T, h *netlab.Host, r *netlab.Resolved, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := h.Run(ctx, "env", append([]string{"DBUS_SYSTEM_BUS_ADDRESS=" + r.Address, "resolvectl"}, args...)...)
	if err != nil {
		t.Fatalf("resolvectl %v: %v: %s", args, err, out)
	}
	return string(out)
}

// Against a real systemd-resolved: the link gets the server, ~i3 and no
// default route; after Revert resolved's whole status is as before.
func TestRegisterWithRealResolved(t *testing.T) {
	h, r, ifindex := resolvedHost(t)
	running, err := Running()
	if err != nil || !running {
		t.Fatalf("Running() = %v, %v; want true", running, err)
	}
	before := resolvectl(t, h, r, "status")
	dns4, dns6 := netip.MustParseAddr("100.64.0.1"), netip.MustParseAddr("fd00:6933::1")
	reg, err := Register(ifindex, []netip.Addr{dns4, dns6}, ".i3.", "lab")
	if err != nil {
		t.Fatal(err)
	}
	if got := resolvectl(t, h, r, "dns", "i3t0"); !strings.Contains(got, dns4.String()) || !strings.Contains(got, dns6.String()) {
		t.Errorf("resolvectl dns i3t0 = %q, want %v and %v", got, dns4, dns6)
	}
	if got := resolvectl(t, h, r, "domain", "i3t0"); !strings.Contains(got, "~i3") || !strings.Contains(got, "~lab") {
		t.Errorf("resolvectl domain i3t0 = %q, want ~i3 and ~lab (two overlays)", got)
	}
	if got := resolvectl(t, h, r, "default-route", "i3t0"); !strings.Contains(got, "no") {
		t.Errorf("resolvectl default-route i3t0 = %q, want no", got)
	}
	if err := reg.Revert(); err != nil {
		t.Fatal(err)
	}
	if after := resolvectl(t, h, r, "status"); after != before {
		t.Errorf("resolvectl status after Revert:\n%s\nwant as before:\n%s", after, before)
	}
	if err := reg.Revert(); err != nil {
		t.Errorf("a second Revert: %v, want nothing to do", err)
	}
}

// A link resolved does not know is refused with the method and link named.
func TestRegisterUnknownLink(t *testing.T) {
	resolvedHost(t)
	_, err := Register(99999, []netip.Addr{netip.MustParseAddr("100.64.0.1")}, "i3")
	if err == nil || !strings.Contains(err.Error(), "SetLinkDNS on link 99999") {
		t.Fatalf("Register on a missing link: %v, want SetLinkDNS on link 99999 refused", err)
	}
}

// Without a system bus (no resolved), Running and Register say what failed.
func TestNoSystemBus(t *testing.T) {
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+t.TempDir()+"/no-bus")
	if ok, err := Running(); ok || err == nil || !strings.Contains(err.Error(), "connect to the D-Bus system bus") {
		t.Errorf("Running() = %v, %v; want false and the bus named", ok, err)
	}
	if _, err := Register(3, []netip.Addr{netip.MustParseAddr("100.64.0.1")}, "i3"); err == nil ||
		!strings.Contains(err.Error(), "connect to the D-Bus system bus") {
		t.Errorf("Register without a bus: %v, want the bus named", err)
	}
}
