// Package atomicfile replaces files whole: a reader, or the next start after a
// crash, finds either the old content or the new one, never a mix or a
// truncated file. It writes a temporary file in the target's directory,
// syncs it, renames it over the target and syncs the directory.
//
// It is the only code in i3net that replaces a file (the identity, the
// address book, the proxy's state, resolv.conf and its backup).
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Options changes how Write replaces a file. The zero value replaces path
// itself, in a directory that must exist.
type Options struct {
	// MkdirPerm, when not zero, creates the directory of path (and its
	// parents) with this mode if it is missing.
	MkdirPerm fs.FileMode
	// FollowSymlink replaces the file a symbolic link at path points to,
	// keeping the link, rather than the link itself.
	FollowSymlink bool
	// InPlaceIfMount writes into the existing file when path cannot be
	// renamed over because it is a mount point (EBUSY), as /etc/resolv.conf
	// is inside `ip netns exec`. That write is not atomic.
	InPlaceIfMount bool
	// Rename replaces os.Rename (nil: os.Rename); tests act out a mount
	// point with it.
	Rename func(oldpath, newpath string) error
}

// tempFile is what Write needs of the temporary file; tests put a failing
// one in its place.
type tempFile interface {
	Name() string
	Write(b []byte) (int, error)
	Chmod(mode fs.FileMode) error
	Sync() error
	Close() error
}

// createTemp is os.CreateTemp; tests replace it.
var createTemp = func(dir, pattern string) (tempFile, error) { return os.CreateTemp(dir, pattern) }

// Write replaces path by a regular file holding data with mode perm. On any
// error path is left as it was and no temporary file remains; the error names
// the file and what failed.
func Write(path string, data []byte, perm fs.FileMode, opt Options) error {
	path, err := target(path, opt)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if opt.MkdirPerm != 0 {
		if err := os.MkdirAll(dir, opt.MkdirPerm); err != nil {
			return fmt.Errorf("create the directory of %s: %w", path, err)
		}
	}
	tmp, err := createTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after the rename: a no-op
	if err := fill(tmp, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := opt.rename(tmp.Name(), path); err != nil {
		if opt.InPlaceIfMount && errors.Is(err, syscall.EBUSY) {
			return writeInPlace(path, data)
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	return SyncDir(dir)
}

// target resolves a symbolic link at path when opt says so.
func target(path string, opt Options) (string, error) {
	if !opt.FollowSymlink {
		return path, nil
	}
	real, err := filepath.EvalSymlinks(path)
	switch {
	case err == nil:
		return real, nil
	case errors.Is(err, fs.ErrNotExist):
		return path, nil
	}
	return "", fmt.Errorf("write %s: %w", path, err)
}

// fill writes data into tmp, sets its mode, syncs and closes it; tmp is
// closed whatever fails.
func fill(tmp tempFile, data []byte, perm fs.FileMode) error {
	_, err := tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	return err
}

func (o Options) rename(oldpath, newpath string) error {
	if o.Rename != nil {
		return o.Rename(oldpath, newpath)
	}
	return os.Rename(oldpath, newpath)
}

// writeInPlace overwrites the regular file at path with data (a mount point,
// which cannot be renamed over). A reader can see a short file for a moment.
func writeInPlace(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("write %s in place: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s in place: %w", path, err)
	}
	return nil
}

// Symlink replaces path by a symbolic link to target, atomically: a link of
// a random name beside it, renamed over path. rename nil means os.Rename.
func Symlink(path, target string, rename func(oldpath, newpath string) error) error {
	if rename == nil {
		rename = os.Rename
	}
	dir := filepath.Dir(path)
	var tmp string
	for range 16 {
		var r [8]byte
		rand.Read(r[:])
		tmp = filepath.Join(dir, "."+filepath.Base(path)+".tmp-"+hex.EncodeToString(r[:]))
		err := os.Symlink(target, tmp)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("link %s to %s: %w", path, target, err)
		}
		tmp = ""
	}
	if tmp == "" {
		return fmt.Errorf("link %s to %s: no free temporary name", path, target)
	}
	if err := rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("link %s to %s: %w", path, target, err)
	}
	return SyncDir(dir)
}

// SyncDir makes a rename or a removal in dir durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
