package netlab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// resolvedBin is Debian's systemd-resolved (package systemd-resolved).
const resolvedBin = "/lib/systemd/systemd-resolved"

// Resolved is a systemd-resolved of a host with the private D-Bus system bus
// it registers on (StartResolved).
type Resolved struct {
	Bus      *Proc  // dbus-daemon
	Resolved *Proc  // systemd-resolved
	Address  string // the bus's D-Bus address: DBUS_SYSTEM_BUS_ADDRESS for clients
	dir      string // the bus's socket and configuration
}

// busConf is a system bus for one test: it listens on %s (a unix socket of
// the test's own) and lets every user (resolved runs as its own) own and call
// anything.
const busConf = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`

// StartResolved runs a dbus-daemon with a private system bus and
// systemd-resolved on it in h, resolved in a mount namespace of its own with
// a fresh /run (so nothing of this machine's /run/systemd changes), and
// returns once resolved owns its bus name. The machine's resolv.conf is only
// read (resolved reads a foreign one as its upstream list). Stop stops both.
func (h *Host) StartResolved(ctx context.Context) (*Resolved, error) {
	for _, bin := range []string{resolvedBin, "dbus-daemon", "busctl", "unshare"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("netlab: %s: %s is not installed (scripts/deps installs systemd-resolved and dbus)", h.name, bin)
		}
	}
	// Resolved drops to its own user, which must reach the bus's socket: a
	// directory of its own that every user may enter (Stop removes it).
	dir, err := os.MkdirTemp("", "i3net-bus-"+h.name+"-")
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err != nil {
		return nil, fmt.Errorf("netlab: %s: resolved: %w", h.name, err)
	}
	sock := filepath.Join(dir, "system_bus_socket")
	conf := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, busConf, sock), 0o644); err != nil {
		return nil, fmt.Errorf("netlab: %s: resolved: %w", h.name, err)
	}
	r := &Resolved{Address: "unix:path=" + sock, dir: dir}
	if r.Bus, err = h.Start("dbus-daemon", "--config-file="+conf, "--nofork", "--nopidfile"); err != nil {
		return nil, err
	}
	if err := Poll(ctx, 10*time.Millisecond, func() error { _, err := os.Stat(sock); return err }); err != nil {
		return nil, errors.Join(fmt.Errorf("netlab: %s: dbus-daemon did not listen: %w\n%s", h.name, err, tail(r.Bus.Output(), 512)), r.Stop())
	}
	script := "mount -t tmpfs tmpfs /run && mkdir /run/systemd && exec env DBUS_SYSTEM_BUS_ADDRESS=" + r.Address + " " + resolvedBin
	if r.Resolved, err = h.Start("unshare", "--mount", "--propagation", "private", "sh", "-c", script); err != nil {
		return nil, errors.Join(err, r.Stop())
	}
	owned := func() error {
		out, err := exec.CommandContext(ctx, "busctl", "--address="+r.Address, "call", "org.freedesktop.DBus",
			"/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner", "s", "org.freedesktop.resolve1").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "true") {
			return fmt.Errorf("NameHasOwner org.freedesktop.resolve1: %v: %s", err, out)
		}
		return nil
	}
	if err := Poll(ctx, 20*time.Millisecond, owned); err != nil {
		return nil, errors.Join(fmt.Errorf("netlab: %s: systemd-resolved did not take its bus name: %w\n%s",
			h.name, err, tail(r.Resolved.Output(), 1024)), r.Stop())
	}
	return r, nil
}

// Stop stops resolved, then the bus.
func (r *Resolved) Stop() error {
	var errs []error
	for _, p := range []*Proc{r.Resolved, r.Bus} {
		if p != nil {
			errs = append(errs, p.Stop())
		}
	}
	errs = append(errs, os.RemoveAll(r.dir))
	return errors.Join(errs...)
}
