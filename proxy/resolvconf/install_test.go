package resolvconf

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

var proxyAddr = netip.MustParseAddr("100.127.255.254")

// setup writes content as resolv.conf in a temporary directory and returns its
// path and the backup path (in another directory, as /var/lib/i3net would be).
func setup(t *testing.T, content string) (path, backupPath string) {
	t.Helper()
	dir := t.TempDir()
	path = filepath.Join(dir, "etc", "resolv.conf")
	backupPath = filepath.Join(dir, "state", "resolv.conf.orig")
	for _, d := range []string{filepath.Dir(path), filepath.Dir(backupPath)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if content != "" {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return path, backupPath
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// noTemps fails if a temporary file was left in dir.
func noTemps(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".i3net-") {
			t.Fatalf("temporary file %s left behind", e.Name())
		}
	}
}

func TestInstallRestore(t *testing.T) {
	path, backupPath := setup(t, debianConf)
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	ups, err := Install(path, backupPath, proxyAddr, "i3")
	if err != nil {
		t.Fatal(err)
	}
	wantUps, _ := ParseUpstreams([]byte(debianConf))
	if !reflect.DeepEqual(ups, wantUps) {
		t.Fatalf("Install returned upstreams %v, want %v", ups, wantUps)
	}
	if got := read(t, backupPath); got != debianConf {
		t.Fatalf("backup holds %q", got)
	}
	got := read(t, path)
	if !strings.HasPrefix(got, Marker) || !strings.Contains(got, backupPath) {
		t.Fatalf("installed file lacks the header naming the backup:\n%s", got)
	}
	c := Parse([]byte(got))
	if !reflect.DeepEqual(c.Nameservers, []netip.Addr{proxyAddr}) {
		t.Fatalf("installed nameservers %v", c.Nameservers)
	}
	if orig := Parse([]byte(debianConf)); !reflect.DeepEqual(c.Kept, orig.Kept) {
		t.Fatalf("kept lines %q, want %q", c.Kept, orig.Kept)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Fatalf("installed file mode %v, want the original's 0640", fi.Mode().Perm())
	}

	// A second Install (no Restore between) keeps the first backup.
	ups2, err := Install(path, backupPath, proxyAddr, "i3")
	if err != nil || !reflect.DeepEqual(ups2, wantUps) || read(t, backupPath) != debianConf {
		t.Fatalf("second Install: %v, upstreams %v; backup must still be the original", err, ups2)
	}

	if err := Restore(path, backupPath); err != nil {
		t.Fatal(err)
	}
	if got := read(t, path); got != debianConf {
		t.Fatalf("restored %q", got)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Fatalf("restored file mode %v, want 0640", fi.Mode().Perm())
	}
	if _, err := os.Lstat(backupPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("backup not deleted")
	}
	if err := Restore(path, backupPath); err != nil {
		t.Fatalf("Restore without a backup: %v", err)
	}
	noTemps(t, filepath.Dir(path))
	noTemps(t, filepath.Dir(backupPath))
}

func TestRecoverAfterCrash(t *testing.T) {
	path, backupPath := setup(t, debianConf)
	if ok, err := RecoverAfterCrash(path, backupPath); ok || err != nil {
		t.Fatalf("RecoverAfterCrash with no backup = %v, %v", ok, err)
	}
	if _, err := Install(path, backupPath, proxyAddr, "i3"); err != nil {
		t.Fatal(err)
	}
	// The proxy dies here; the next start recovers.
	ok, err := RecoverAfterCrash(path, backupPath)
	if !ok || err != nil {
		t.Fatalf("RecoverAfterCrash = %v, %v", ok, err)
	}
	if read(t, path) != debianConf {
		t.Fatal("original not restored")
	}
	if _, err := os.Lstat(backupPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("backup not deleted")
	}
}

func TestSymlink(t *testing.T) {
	path, backupPath := setup(t, "")
	stubDir := filepath.Join(filepath.Dir(filepath.Dir(path)), "run", "systemd", "resolve")
	os.MkdirAll(stubDir, 0o755)
	stub := filepath.Join(stubDir, "stub-resolv.conf")
	stubContent := "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch corp.example.com\n"
	if err := os.WriteFile(stub, []byte(stubContent), 0o644); err != nil {
		t.Fatal(err)
	}
	target := "../run/systemd/resolve/stub-resolv.conf" // relative, as Debian links it
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}

	ups, err := Install(path, backupPath, proxyAddr, "i3")
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 0 {
		t.Fatalf("upstreams %v: the loopback stub must be skipped", ups)
	}
	if fi, _ := os.Lstat(path); !fi.Mode().IsRegular() {
		t.Fatalf("installed resolv.conf is %v, want a regular file", fi.Mode())
	}
	if read(t, stub) != stubContent {
		t.Fatal("the link's target was written")
	}
	if got, err := os.Readlink(backupPath); err != nil || got != target {
		t.Fatalf("backup is %q, %v; want a link to %q", got, err, target)
	}
	if c := Parse([]byte(read(t, path))); !reflect.DeepEqual(c.Search, []string{"corp.example.com"}) {
		t.Fatalf("search list %q not kept", c.Search)
	}

	// A crash, then a second Install reads the original through the backup link.
	if _, err := Install(path, backupPath, proxyAddr, "i3"); err != nil {
		t.Fatal(err)
	}
	if err := Restore(path, backupPath); err != nil {
		t.Fatal(err)
	}
	if got, err := os.Readlink(path); err != nil || got != target {
		t.Fatalf("restored resolv.conf is %q, %v; want the link to %q", got, err, target)
	}
	if read(t, path) != stubContent {
		t.Fatal("restored link does not reach the stub")
	}
	noTemps(t, filepath.Dir(path))
}

func TestRestoreLeavesAForeignFile(t *testing.T) {
	path, backupPath := setup(t, debianConf)
	if _, err := Install(path, backupPath, proxyAddr, "i3"); err != nil {
		t.Fatal(err)
	}
	dhcp := "# written by dhclient\nnameserver 10.9.9.9\n"
	os.WriteFile(path, []byte(dhcp), 0o644)
	if err := Restore(path, backupPath); err != nil {
		t.Fatal(err)
	}
	if read(t, path) != dhcp {
		t.Fatal("Restore clobbered a file another program wrote")
	}
	if _, err := os.Lstat(backupPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("stale backup kept")
	}
}

func TestInstallReplacesStaleBackup(t *testing.T) {
	path, backupPath := setup(t, debianConf)
	os.WriteFile(backupPath, []byte("nameserver 10.0.0.1\n"), 0o644) // from long ago
	ups, err := Install(path, backupPath, proxyAddr, "i3")
	if err != nil {
		t.Fatal(err)
	}
	if read(t, backupPath) != debianConf || len(ups) != 3 {
		t.Fatalf("stale backup used: backup %q, upstreams %v", read(t, backupPath), ups)
	}
}

func TestInstallRefuses(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		path, backupPath := setup(t, "")
		if _, err := Install(path, backupPath, proxyAddr, "i3"); err == nil || !strings.HasPrefix(err.Error(), "resolvconf: install ") {
			t.Fatalf("Install of a missing file: %v", err)
		}
	})
	t.Run("ours without backup", func(t *testing.T) {
		path, backupPath := setup(t, string(Render(Conf{}, proxyAddr, "i3", "/gone")))
		_, err := Install(path, backupPath, proxyAddr, "i3")
		if err == nil || !strings.Contains(err.Error(), "by hand") {
			t.Fatalf("Install over our own file without a backup: %v", err)
		}
		if _, err := os.Lstat(backupPath); !errors.Is(err, os.ErrNotExist) {
			t.Fatal("our own file was backed up as the original")
		}
	})
	t.Run("directory", func(t *testing.T) {
		path, backupPath := setup(t, "")
		os.Mkdir(path, 0o755)
		if _, err := Install(path, backupPath, proxyAddr, "i3"); err == nil {
			t.Fatal("Install of a directory succeeded")
		}
	})
	t.Run("no nameserver", func(t *testing.T) {
		path, backupPath := setup(t, debianConf)
		if _, err := Install(path, backupPath, netip.Addr{}, "i3"); err == nil {
			t.Fatal("Install without a nameserver succeeded")
		}
	})
}

// TestBindMountFallback acts out `ip netns exec`, where resolv.conf is a bind
// mount and rename over it fails with EBUSY: the content is written in place.
func TestBindMountFallback(t *testing.T) {
	path, backupPath := setup(t, debianConf)
	rename = func(from, to string) error {
		if to == path {
			return &os.LinkError{Op: "rename", Old: from, New: to, Err: syscall.EBUSY}
		}
		return os.Rename(from, to)
	}
	t.Cleanup(func() { rename = os.Rename })
	before, _ := os.Stat(path)
	if _, err := Install(path, backupPath, proxyAddr, "i3"); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(path)
	if !os.SameFile(before, after) {
		t.Fatal("the file was replaced, not written in place")
	}
	if !bytes.HasPrefix([]byte(read(t, path)), []byte(Marker)) {
		t.Fatal("not installed")
	}
	if err := Restore(path, backupPath); err != nil {
		t.Fatal(err)
	}
	if read(t, path) != debianConf {
		t.Fatal("not restored in place")
	}
	noTemps(t, filepath.Dir(path))
}
