package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
)

// stubResolvConf is what resolved puts in /etc/resolv.conf (its stub only).
const stubResolvConf = "# e2e: systemd-resolved's stub\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n"

// On a host where systemd-resolved manages resolv.conf (a real resolved on a
// private system bus, in desk's namespaces), the proxy in its default DNS
// mode leaves resolv.conf alone and registers ~i3 with its DNS address on its
// tun link: "resolvectl query home.i3" reaches the proxy. After the proxy
// stops, "resolvectl status" is as before.
func TestProxyWithResolved(t *testing.T) {
	t.Parallel()
	rd := newResolvedDesk(t)
	w, desk, res, resolvectl, ctx := rd.w, rd.desk, rd.res, rd.resolvectl, rd.ctx
	w.startServer()
	home := &node{w: w, dir: filepath.Join(t.TempDir(), "home")}
	home.makeIdentity()
	desk.dir = filepath.Join(t.TempDir(), "desk")
	desk.makeIdentity()
	desk.bookAdd("home", home.key)

	before, err := resolvectl("status")
	if err != nil {
		t.Fatalf("resolvectl status: %v: %s", err, before)
	}
	desk.runAs = []string{"env", "DBUS_SYSTEM_BUS_ADDRESS=" + res.Address}
	desk.startProxy(t)
	desk.waitProxy(t)
	checkResolvedLink(t, desk, resolvectl)
	out, err := resolvectl("query", "home.i3")
	if err != nil || !strings.Contains(out, home.derived4().String()) {
		t.Errorf("resolvectl query home.i3: %v: %s; want %v, the proxy's answer", err, out, home.derived4())
	}
	if b, err := os.ReadFile(filepath.Join("/etc/netns", desk.Namespace(), "resolv.conf")); err != nil || string(b) != stubResolvConf {
		t.Errorf("resolv.conf while the proxy runs: %q (%v), want it untouched", b, err)
	}
	desk.stopProxy(t)
	waitStatus(t, ctx, "after the proxy stopped", before, resolvectl)

	// A crash leaves nothing either: resolved forgets the link with it.
	desk.startProxy(t)
	desk.waitProxy(t)
	checkResolvedLink(t, desk, resolvectl)
	if err := desk.proxy.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-desk.proxy.Done()
	w.daemons = slices.DeleteFunc(w.daemons, func(p *netlab.Proc) bool { return p == desk.proxy })
	waitStatus(t, ctx, "after the proxy was killed", before, resolvectl)
}

// waitStatus waits, bounded by ctx, until "resolvectl status" says want.
func waitStatus(t *testing.T, ctx context.Context, when, want string, resolvectl func(...string) (string, error)) {
	t.Helper()
	var got string
	err := netlab.Poll(ctx, 20*time.Millisecond, func() error {
		var err error
		if got, err = resolvectl("status"); err == nil && got != want {
			err = errStatusDiffers
		}
		return err
	})
	if err != nil {
		t.Errorf("resolvectl status %s: %v:\n%s\nwant as before:\n%s", when, err, got, want)
	}
}

var errStatusDiffers = errors.New("resolvectl status differs from before the proxy")

// checkResolvedLink checks that the proxy's tun link has its DNS address and
// ~i3 as a routing-only domain, and is no default route.
func checkResolvedLink(t *testing.T, n *node, resolvectl func(...string) (string, error)) {
	t.Helper()
	for _, c := range []struct{ arg, want string }{
		{"dns", n.self.DNS.String()}, {"domain", "~i3"}, {"default-route", "no"},
	} {
		if out, err := resolvectl(c.arg, "i3net0"); err != nil || !strings.Contains(out, c.want) {
			t.Errorf("resolvectl %s i3net0: %v: %q; want %q", c.arg, err, out, c.want)
		}
	}
}

// Where resolv.conf is resolved's but resolved does not answer, or where the
// resolved mode is asked for without it, the proxy refuses to start, says
// what to do, and leaves resolv.conf as it was.
func TestProxyResolvedModeWithoutResolved(t *testing.T) {
	t.Parallel()
	lab := netlabtest.New(t)
	w := &world{t: t, lab: lab}
	desk := &node{Host: lab.Host("desk"), w: w, dir: filepath.Join(t.TempDir(), "desk")}
	desk.makeIdentity()
	for _, c := range []struct {
		resolvConf, mode, want string
	}{
		{stubResolvConf, "auto", "start systemd-resolved, or choose the resolvconf DNS mode"},
		{"nameserver 192.0.2.1\n", "resolved", "connect to the D-Bus system bus"},
	} {
		if err := desk.SetResolvConf(c.resolvConf); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		out, err := run(t, ctx, desk.Host, "env", "DBUS_SYSTEM_BUS_ADDRESS=unix:path="+filepath.Join(desk.dir, "no-bus"),
			i3netBin, "proxy", "--server", "198.18.0.1:5610", "--state-dir", desk.dir, "--dns-mode", c.mode)
		cancel()
		t.Logf("--dns-mode %s: %s", c.mode, out)
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("--dns-mode %s without resolved: %v: %s; want a failure saying %q", c.mode, err, out, c.want)
		}
		if b, err := os.ReadFile(filepath.Join("/etc/netns", desk.Namespace(), "resolv.conf")); err != nil || string(b) != c.resolvConf {
			t.Errorf("resolv.conf after the refusal: %q (%v), want %q", b, err, c.resolvConf)
		}
	}
}

// resolvedDesk is a world whose host desk has its resolver managed by
// systemd-resolved: a real resolved on a private system bus, in desk's
// namespaces, and resolv.conf its stub.
type resolvedDesk struct {
	w          *world
	desk       *node
	res        *netlab.Resolved
	ctx        context.Context
	resolvectl func(args ...string) (string, error)
}

// newResolvedDesk builds it, or skips t when resolved is not installed.
func newResolvedDesk(t *testing.T) *resolvedDesk {
	needProgram(t, "resolvectl", "dbus-daemon", "busctl")
	if _, err := os.Stat("/lib/systemd/systemd-resolved"); err != nil {
		t.Skip("systemd-resolved is not installed (scripts/deps installs it)")
	}
	lab := netlabtest.New(t)
	w := &world{t: t, lab: lab, srv: lab.Host("srv1")}
	desk := &node{Host: lab.Host("desk"), w: w, resolvConf: stubResolvConf}
	if err := desk.SetResolvConf(stubResolvConf); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.checkDaemons)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	t.Cleanup(cancel)
	res, err := desk.StartResolved(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := res.Stop(); err != nil {
			t.Error(err)
		}
	})
	resolvectl := func(args ...string) (string, error) {
		out, err := run(t, ctx, desk.Host, "env", append([]string{"DBUS_SYSTEM_BUS_ADDRESS=" + res.Address, "resolvectl"}, args...)...)
		return string(out), err
	}
	return &resolvedDesk{w: w, desk: desk, res: res, ctx: ctx, resolvectl: resolvectl}
}
