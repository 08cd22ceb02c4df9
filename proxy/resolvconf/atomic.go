package resolvconf

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// rename is os.Rename; tests replace it to act out a bind-mounted target.
var rename = os.Rename

// writeFile replaces path by a regular file holding data, atomically: a
// temporary file in the same directory, synced, renamed over path, and the
// directory synced. If path is a mount point (rename fails with EBUSY), data is
// written in place instead.
func writeFile(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".i3net-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename: a no-op
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := rename(tmp.Name(), path); err != nil {
		if errors.Is(err, syscall.EBUSY) {
			return writeInPlace(path, data)
		}
		return err
	}
	return syncDir(dir)
}

// writeInPlace overwrites the regular file at path with data (for a bind
// mount, which cannot be renamed over). Not atomic: a reader can see a short
// file for a moment.
func writeInPlace(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeLink replaces path by a symbolic link to target, atomically.
func writeLink(path, target string) error {
	dir := filepath.Dir(path)
	var tmp string
	for {
		var r [8]byte
		rand.Read(r[:])
		tmp = filepath.Join(dir, "."+filepath.Base(path)+".i3net-"+hex.EncodeToString(r[:]))
		err := os.Symlink(target, tmp)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) {
			return err
		}
	}
	if err := rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}
