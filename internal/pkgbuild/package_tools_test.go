package pkgbuild

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// checkManPages formats every installed page with man -l, and fails on
// groff's warnings or a page that does not name its command.
func checkManPages(t *testing.T, p builtPackage) {
	if _, err := exec.LookPath("man"); err != nil {
		t.Skip("skipping: no man on PATH to format the pages")
	}
	pages, err := filepath.Glob(filepath.Join(p.root, "usr/share/man/man1/i3net*.1.gz"))
	if err != nil || len(pages) < 2 {
		t.Fatalf("installed man pages: %v %v", pages, err)
	}
	for _, page := range pages {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		cmd := exec.CommandContext(ctx, "man", "--warnings", "-l", page)
		cmd.Env = append(os.Environ(), "MANWIDTH=80", "MANPAGER=cat", "PAGER=cat")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		cancel()
		name := strings.TrimSuffix(filepath.Base(page), ".1.gz")
		if err != nil || stderr.Len() > 0 {
			t.Errorf("man -l %s: %v\n%s", name, err, stderr.String())
		}
		if !strings.Contains(string(out), "NAME") || !strings.Contains(string(out), name) {
			t.Errorf("man -l %s shows no NAME section naming it:\n%s", name, out)
		}
	}
}

// checkUnitsVerify runs systemd-analyze verify --root on the installed units.
// The scratch root gets a copy of this host's system units first, for the
// targets and slices the units depend on; MANPATH points the check of their
// Documentation= pages at the installed ones. Verify exits 0 on unknown keys
// (it only warns), so any output fails the test too.
func checkUnitsVerify(t *testing.T, p builtPackage) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("skipping: no systemd-analyze on PATH to verify the units")
	}
	const hostUnits = "/usr/lib/systemd/system"
	if _, err := os.Stat(filepath.Join(hostUnits, "sysinit.target")); err != nil {
		t.Skipf("skipping: no systemd units at %s to verify against", hostUnits)
	}
	unitDir := filepath.Join(p.root, "usr/lib/systemd/system")
	run(t, "cp", "-a", "--no-clobber", hostUnits+"/.", unitDir+"/")
	if out, err := verify(t, p.root, "i3net-server.service", "i3net-proxy.service"); err != nil || out != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The check has teeth: an unknown key in a copy of a unit is reported.
	unit, err := os.ReadFile(filepath.Join(unitDir, "i3net-server.service"))
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(unit), "[Service]\n", "[Service]\nNoSuchKey=yes\n", 1)
	if err := os.WriteFile(filepath.Join(unitDir, "i3net-bad.service"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _ := verify(t, p.root, "i3net-bad.service"); !strings.Contains(out, "NoSuchKey") {
		t.Errorf("systemd-analyze verify did not report an unknown key: %q", out)
	}
}

func verify(t *testing.T, root string, units ...string) (string, error) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "systemd-analyze", append([]string{"verify", "--root=" + root}, units...)...)
	cmd.Env = append(os.Environ(), "MANPATH="+filepath.Join(root, "usr/share/man"), "SYSTEMD_LOG_COLOR=0")
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// run runs a command that must succeed and returns its trimmed output.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func mustHelp(t *testing.T, binary string) string {
	text, err := helpText(t.Context(), binary, "help")
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func fileSize(t *testing.T, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
