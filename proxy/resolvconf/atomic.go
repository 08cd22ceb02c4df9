package resolvconf

import (
	"os"

	"github.com/i3net/i3net/internal/atomicfile"
)

// rename is os.Rename; tests replace it to act out a bind-mounted target.
var rename = os.Rename

// writeFile replaces path by a regular file holding data, atomically. If path
// is a mount point (rename fails with EBUSY, as inside `ip netns exec`), data
// is written in place instead.
func writeFile(path string, data []byte, perm os.FileMode) error {
	return atomicfile.Write(path, data, perm, atomicfile.Options{InPlaceIfMount: true, Rename: rename})
}

// writeLink replaces path by a symbolic link to target, atomically.
func writeLink(path, target string) error {
	return atomicfile.Symlink(path, target, rename)
}
