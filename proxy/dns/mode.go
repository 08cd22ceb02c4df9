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
	// ModeResolved: systemd-resolved manages resolv.conf; the proxy would
	// register ~SUFFIX as a routing-only domain of its tun link over D-Bus. Not
	// implemented yet.
	ModeResolved
)

// String returns "resolvconf" or "resolved".
func (m Mode) String() string {
	if m == ModeResolved {
		return "resolved"
	}
	return "resolvconf"
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

// ErrResolvedUnsupported is returned (wrapped) by ChooseMode when resolved
// manages resolv.conf and the caller did not accept the fallback.
var ErrResolvedUnsupported = errors.New("systemd-resolved mode is not supported yet")

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

// ChooseMode decides how to hook the resolver for the resolv.conf at path.
// Without resolved it returns ModeResolvConf. With resolved it returns an
// error wrapping ErrResolvedUnsupported, unless fallback is true: then it
// returns ModeResolvConf, and the caller replaces resolv.conf (a symbolic link
// is backed up and put back as a link) and takes its upstreams from
// ResolvedUplink, since resolved's stub in the original file would send
// queries back to the proxy (resolved reads a foreign resolv.conf as its own
// upstream list).
func ChooseMode(path string, fallback bool) (Mode, error) {
	mode, why, err := DetectMode(path)
	if err != nil || mode == ModeResolvConf {
		return ModeResolvConf, err
	}
	if fallback {
		return ModeResolvConf, nil
	}
	return mode, fmt.Errorf("dns: %s: %w (it would register the overlay suffix as a routing-only domain "+
		"of the tun link over D-Bus); to replace resolv.conf while the proxy runs instead, choose the resolvconf DNS mode",
		why, ErrResolvedUnsupported)
}
