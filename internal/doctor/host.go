package doctor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/i3net/i3net/proxy/resolved"
)

// userspaceHint is the remedy when the proxy cannot have a tun device.
const userspaceHint = "run the proxy with --userspace (a network stack in the process: no tun device, root or capabilities needed)"

// CheckOS checks that goos is Linux, the only system the proxy runs on.
func CheckOS(goos string) Result {
	if goos != "linux" {
		return fail("os", goos+": the proxy needs Linux (tun device, netlink)",
			"run the proxy on a Linux host; server, id, book and ping work here")
	}
	return ok("os", "linux")
}

// CheckTun checks that the tun device at path (normally /dev/net/tun) is
// there, is a character device and opens for reading and writing. Opening
// it makes no interface.
func CheckTun(path string) Result {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fail("tun", path+" is missing",
			"load the tun module (modprobe tun) or, in a container, pass the device in (--device /dev/net/tun); or "+userspaceHint)
	}
	if err != nil {
		return fail("tun", err.Error(), userspaceHint)
	}
	if fi.Mode()&fs.ModeCharDevice == 0 {
		return fail("tun", path+" is not a character device", "recreate it: mknod "+path+" c 10 200; or "+userspaceHint)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fail("tun", fmt.Sprintf("%s does not open: %v", path, err),
			"run the proxy as root or with CAP_NET_ADMIN; or "+userspaceHint)
	}
	f.Close()
	return ok("tun", path+" opens")
}

// capNetAdmin is CAP_NET_ADMIN's bit in the capability sets.
const capNetAdmin = 12

// EffectiveCaps reads the effective capability set (CapEff) from the
// contents of /proc/self/status.
func EffectiveCaps(status []byte) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		v, found := strings.CutPrefix(sc.Text(), "CapEff:")
		if !found {
			continue
		}
		caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return 0, fmt.Errorf("CapEff %q: want hexadecimal", strings.TrimSpace(v))
		}
		return caps, nil
	}
	return 0, errors.New("no CapEff line")
}

// CheckCaps checks that the process may configure the network: root, or
// CAP_NET_ADMIN in the effective set read from status (/proc/self/status).
func CheckCaps(euid int, status []byte) Result {
	caps, err := EffectiveCaps(status)
	switch {
	case err != nil && euid == 0:
		return ok("capabilities", "root")
	case err != nil:
		return warn("capabilities", "cannot read the capabilities: "+err.Error(), userspaceHint)
	case caps&(1<<capNetAdmin) != 0 && euid == 0:
		return ok("capabilities", "root, with CAP_NET_ADMIN")
	case caps&(1<<capNetAdmin) != 0:
		return ok("capabilities", "CAP_NET_ADMIN in the effective set")
	}
	return warn("capabilities", "neither root nor CAP_NET_ADMIN: the proxy cannot make its tun device, routes or addresses",
		"run it as root or give it CAP_NET_ADMIN (setcap cap_net_admin+ep $(command -v i3net), or AmbientCapabilities= in its unit); or "+userspaceHint)
}

// resolvedStubDir is where systemd-resolved keeps the files /etc/resolv.conf
// links to when it manages the resolver.
const resolvedStubDir = "/run/systemd/resolve/"

// CheckResolver checks the resolver file the proxy points at itself (path,
// normally /etc/resolv.conf; "" when told to leave it alone): whether it is
// systemd-resolved's, and whether the proxy may replace it.
func CheckResolver(path string) Result {
	if path == "" {
		return ok("resolver", "left alone (--no-resolv-conf): overlay names resolve only on the proxy's DNS address")
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return warn("resolver", err.Error(), "create "+path+", or run the proxy with --no-resolv-conf")
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, _ := os.Readlink(path)
		if strings.HasPrefix(target, resolvedStubDir) || strings.Contains(target, "/systemd/resolve/") {
			return resolvedCheck(path, target)
		}
	}
	if unix.Access(filepath.Dir(path), unix.W_OK) != nil && unix.Access(path, unix.W_OK) != nil {
		return fail("resolver", path+" is not writable here: the proxy cannot point it at itself",
			"run the proxy as root, or with --no-resolv-conf")
	}
	return ok("resolver", path+" is a file the proxy points at itself while it runs")
}

// resolvedCheck judges a resolver file that is systemd-resolved's: the
// proxy (--dns-mode auto) then registers its suffix with resolved over
// D-Bus and leaves the file alone, which needs resolved running.
func resolvedCheck(path, target string) Result {
	if up, err := resolved.Running(); err != nil || !up {
		return fail("resolver", path+" is systemd-resolved's ("+target+") but resolved does not answer on D-Bus",
			"start systemd-resolved, or run the proxy with --dns-mode resolvconf (it then replaces the file while it runs)")
	}
	return ok("resolver", path+" is systemd-resolved's: the proxy registers its suffix with resolved (--dns-mode auto) and leaves the file alone")
}
