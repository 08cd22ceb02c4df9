package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// failing is a temporary file whose Write, Chmod, Sync or Close fails.
type failing struct {
	*os.File
	fail string // "write", "chmod", "sync" or "close"
}

var errDisk = errors.New("disk on fire")

func (f *failing) Write(b []byte) (int, error) {
	if f.fail == "write" {
		n, _ := f.File.Write(b[:len(b)/2]) // a short write, as a full disk gives
		return n, errDisk
	}
	return f.File.Write(b)
}

func (f *failing) Chmod(m fs.FileMode) error {
	if f.fail == "chmod" {
		return errDisk
	}
	return f.File.Chmod(m)
}

func (f *failing) Sync() error {
	if f.fail == "sync" {
		return errDisk
	}
	return f.File.Sync()
}

func (f *failing) Close() error {
	err := f.File.Close()
	if f.fail == "close" {
		return errDisk
	}
	return err
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// onlyFile fails unless dir holds exactly the file name (no temporary left).
func onlyFile(t *testing.T, dir, name string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != name {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %v, want only %s", names, name)
	}
}

func TestWriteReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	for _, content := range []string{"first", "second, longer", ""} {
		if err := Write(path, []byte(content), 0o600, Options{}); err != nil {
			t.Fatal(err)
		}
		if got := read(t, path); got != content {
			t.Fatalf("file holds %q, want %q", got, content)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	onlyFile(t, dir, "state")
}

// TestFailedWriteKeepsOld: whatever step fails, the error comes back, the old
// content stays and no temporary file is left (a dropped Write error once let
// a truncated file be renamed over the proxy's saved state).
func TestFailedWriteKeepsOld(t *testing.T) {
	for _, step := range []string{"write", "chmod", "sync", "close"} {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state")
			if err := Write(path, []byte("old and whole"), 0o600, Options{}); err != nil {
				t.Fatal(err)
			}
			createTemp = func(dir, pattern string) (tempFile, error) {
				f, err := os.CreateTemp(dir, pattern)
				if err != nil {
					return nil, err
				}
				return &failing{File: f, fail: step}, nil
			}
			t.Cleanup(func() {
				createTemp = func(dir, pattern string) (tempFile, error) { return os.CreateTemp(dir, pattern) }
			})
			err := Write(path, []byte("new content that does not fit"), 0o600, Options{})
			if !errors.Is(err, errDisk) {
				t.Fatalf("Write = %v, want the %s error", err, step)
			}
			if got := read(t, path); got != "old and whole" {
				t.Fatalf("file holds %q after a failed write", got)
			}
			onlyFile(t, dir, "state")
		})
	}
}

func TestMkdir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "state")
	if err := Write(path, []byte("x"), 0o600, Options{}); err == nil {
		t.Fatal("Write into a missing directory without MkdirPerm succeeded")
	}
	if err := Write(path, []byte("x"), 0o600, Options{MkdirPerm: 0o700}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Fatalf("directory mode %v, want 0700", fi.Mode().Perm())
	}
}

func TestFollowSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.toml")
	link := filepath.Join(dir, "book.toml")
	if err := os.WriteFile(real, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := Write(link, []byte("new"), 0o644, Options{FollowSymlink: true}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", fi, err)
	}
	if got := read(t, real); got != "new" {
		t.Fatalf("target holds %q", got)
	}
}

// TestInPlaceIfMount acts out a bind-mounted target (`ip netns exec` mounts
// resolv.conf), which rename cannot replace: the content is written in place.
func TestInPlaceIfMount(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(path, []byte("nameserver 192.0.2.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	busy := func(from, to string) error {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: syscall.EBUSY}
	}
	before, _ := os.Stat(path)
	if err := Write(path, []byte("nameserver 100.64.0.1\n"), 0o644, Options{Rename: busy}); !errors.Is(err, syscall.EBUSY) {
		t.Fatalf("Write without InPlaceIfMount = %v, want EBUSY", err)
	}
	if err := Write(path, []byte("nameserver 100.64.0.1\n"), 0o644, Options{Rename: busy, InPlaceIfMount: true}); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(path)
	if !os.SameFile(before, after) {
		t.Fatal("the file was replaced, not written in place")
	}
	if got := read(t, path); got != "nameserver 100.64.0.1\n" {
		t.Fatalf("file holds %q", got)
	}
	onlyFile(t, dir, "resolv.conf")
}

func TestSymlink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Symlink(path, "/run/elsewhere", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := os.Readlink(path); err != nil || got != "/run/elsewhere" {
		t.Fatalf("link points at %q (%v)", got, err)
	}
	onlyFile(t, dir, "resolv.conf")
}
