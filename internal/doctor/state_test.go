package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/i3net/i3net/identity"
)

func TestCheckIdentity(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "identity.pem")
	if r := CheckIdentity(path, dir); r.Level != Fail || !strings.Contains(r.Fix, "i3net id --state-dir "+dir) {
		t.Errorf("missing: %v", r)
	}
	if err := os.WriteFile(path, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := CheckIdentity(path, dir); r.Level != Fail || !strings.Contains(r.Detail, "not an i3net identity") {
		t.Errorf("garbage: %v", r)
	}
	x, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Save(path); err != nil {
		t.Fatal(err)
	}
	if r := CheckIdentity(path, dir); r.Level != OK || !strings.Contains(r.Detail, x.ID().Short()) {
		t.Errorf("good: %v", r)
	}
}

func TestCheckBook(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "book.toml")
	if r := CheckBook(path); r.Level != OK || !strings.Contains(r.Detail, "0 names") {
		t.Errorf("no book yet: %v", r)
	}
	if r := CheckBook(filepath.Join(dir, "nodir", "book.toml")); r.Level != Fail {
		t.Errorf("no directory: %v", r)
	}
	if err := os.WriteFile(path, []byte("[home\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := CheckBook(path); r.Level != Fail || !strings.Contains(r.Detail, "book.toml") {
		t.Errorf("broken: %v", r)
	}
}

func TestCheckRunningAndItsPools(t *testing.T) {
	clash := fail("pools", "proxy: the pool 100.64.0.0/10 is already routed into tun device i3net0: another i3net proxy runs", "")
	other := fail("pools", "proxy: pool 100.64.0.0/10 overlaps the route 100.64.0.0/16", "")
	r, running := CheckRunning("/x/proxy.sock", func(p string) bool { return p == "/x/proxy.sock" })
	if !running || r.Level != OK || !strings.Contains(r.Detail, "a proxy runs") {
		t.Errorf("running: %v %v", r, running)
	}
	if got := RunningPools(clash); got.Level != OK {
		t.Errorf("its own pools: %v", got)
	}
	if got := RunningPools(other); got.Level != Fail {
		t.Errorf("another clash: %v", got)
	}
	if _, running := CheckRunning("/x/proxy.sock", func(string) bool { return false }); running {
		t.Error("none runs: running")
	}
}
