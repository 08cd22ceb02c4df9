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
