package tundev

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInUse is wrapped by Create's error when another program holds a device
// of that name.
var ErrInUse = errors.New("the tun device is in use")

// ErrPermission is wrapped by Create's error when the process may not make
// tun devices.
var ErrPermission = errors.New("needs root or CAP_NET_ADMIN")

// MaxNameLen is the longest interface name Linux takes (IFNAMSIZ less the
// terminating NUL).
const MaxNameLen = 15

// CheckName reports whether name can be a Linux interface's name, as the
// kernel's dev_valid_name does: at most MaxNameLen bytes, no slash, colon,
// white space or percent sign, not "." or "..". An empty name is the
// caller's to judge (often: the default).
func CheckName(name string) error {
	switch {
	case len(name) > MaxNameLen:
		return fmt.Errorf("an interface name has at most %d bytes, this one is %d bytes long (longer than %d is refused by Linux)",
			MaxNameLen, len(name), MaxNameLen)
	case strings.ContainsAny(name, "/: \t\n\x00%") || name == "." || name == "..":
		return errors.New("not an interface name: use letters and digits, e.g. \"i3net0\"")
	}
	return nil
}
