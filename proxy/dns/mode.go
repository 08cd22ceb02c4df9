package dns

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/i3net/i3net/proxy/resolvconf"
)

// Mode is how the proxy hooks the host's resolver.
type Mode int

const (
	// ModeResolvConf: back up resolv.conf, point it at the proxy, forward
	// every other name upstream, restore it on exit (proxy/resolvconf).
	ModeResolvConf Mode = iota
	// ModeResolved: systemd-resolved manages resolv.conf; the proxy registers
	// ~SUFFIX as a routing-only domain of its tun link over D-Bus
	// (proxy/resolved) and changes nothing else.
	ModeResolved
	// ModeOff: the resolver is left alone; DNS only on the service address.
	ModeOff
	// ModeAuto: ModeResolved when resolved manages resolv.conf and runs,
	// ModeResolvConf otherwise (ChooseMode).
	ModeAuto
)

// modeNames are the names ParseMode accepts and String returns.
var modeNames = map[Mode]string{ModeResolvConf: "resolvconf", ModeResolved: "resolved", ModeOff: "off", ModeAuto: "auto"}

// String returns "resolvconf", "resolved", "off" or "auto".
func (m Mode) String() string {
	if n, ok := modeNames[m]; ok {
		return n
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode reads a mode's name: auto, resolvconf, resolved or off.
func ParseMode(s string) (Mode, error) {
	for m, n := range modeNames {
		if s == n {
			return m, nil
		}
	}
	return ModeAuto, fmt.Errorf("dns: unknown DNS mode %q: choose auto, resolvconf, resolved or off", s)
}

// Files of systemd-resolved.
const (
	// ResolvedStub is resolved's resolv.conf naming its stub, 127.0.0.53.
	ResolvedStub = "/run/systemd/resolve/stub-resolv.conf"
	// ResolvedUplink is resolved's resolv.conf naming the servers it uses
	// itself: the upstreams of the fallback to ModeResolvConf.
	ResolvedUplink = "/run/systemd/resolve/resolv.conf"
)

// resolvedFiles are the targets a resolv.conf managed by resolved links to.
var resolvedFiles = []string{ResolvedStub, ResolvedUplink, "/usr/lib/systemd/resolv.conf", "/lib/systemd/resolv.conf"}

// resolvedStubAddrs are resolved's stub listeners.
var resolvedStubAddrs = []string{"127.0.0.53", "127.0.0.54"}

// DetectMode reports how the resolv.conf at path is managed: ModeResolved when
// it is a symbolic link (possibly through other links) to one of resolved's
// files, or a file whose only nameservers are resolved's stub (127.0.0.53 or
// 127.0.0.54); ModeResolvConf otherwise. The second result describes what was
// seen, for messages. A missing file is ModeResolvConf; only failures to read
// path are errors.
func DetectMode(path string) (Mode, string, error) {
	p := path
	for range 16 {
		fi, err := os.Lstat(p)
		if errors.Is(err, os.ErrNotExist) {
			break // no file, or a dangling link to elsewhere: not resolved's
		}
		if err != nil {
			return ModeResolvConf, "", fmt.Errorf("dns: detect mode: %w", err)
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			break
		}
		target, err := os.Readlink(p)
		if err != nil {
			return ModeResolvConf, "", fmt.Errorf("dns: detect mode: %w", err)
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = filepath.Clean(target)
		for _, f := range resolvedFiles {
			if p == f {
				return ModeResolved, fmt.Sprintf("%s links to %s", path, p), nil
			}
		}
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return ModeResolvConf, "", nil
	}
	if err != nil {
		return ModeResolvConf, "", fmt.Errorf("dns: detect mode: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, resolvconf.MaxSize))
	if err != nil {
		return ModeResolvConf, "", fmt.Errorf("dns: detect mode: %w", err)
	}
	ns := resolvconf.Parse(data).Nameservers
	stubs := 0
	for _, a := range ns {
		for _, s := range resolvedStubAddrs {
			if a.String() == s {
				stubs++
			}
		}
	}
	if len(ns) > 0 && stubs == len(ns) {
		return ModeResolved, fmt.Sprintf("%s names only resolved's stub %v", path, ns[0]), nil
	}
	return ModeResolvConf, "", nil
}

// ChooseMode decides what ModeAuto means for the resolv.conf at path:
// ModeResolved when resolved manages it (DetectMode) and running (whether
// resolved owns its D-Bus name) says it runs; ModeResolvConf when resolved
// does not manage it. A resolv.conf of resolved's without resolved running
// is an error saying what to do. The string says why, for the log.
func ChooseMode(path string, running func() (bool, error)) (Mode, string, error) {
	mode, why, err := DetectMode(path)
	if err != nil {
		return ModeResolvConf, "", err
	}
	if mode == ModeResolvConf {
		return ModeResolvConf, path + " is not systemd-resolved's", nil
	}
	ok, err := running()
	if err == nil && !ok {
		err = errors.New("org.freedesktop.resolve1 has no owner on the system bus")
	}
	if err != nil {
		return ModeResolvConf, "", fmt.Errorf("dns: %s, but systemd-resolved does not answer on D-Bus (%w): "+
			"start systemd-resolved, or choose the resolvconf DNS mode (--dns-mode resolvconf) to replace %s while the proxy runs", why, err, path)
	}
	return ModeResolved, why + " and systemd-resolved runs", nil
}
