// Package pkgbuild builds i3net's Debian package with nfpm, used as a library:
// the binary, the systemd units and default configuration of the packaging
// directory, and a manual page per subcommand generated from the binary's
// --help texts. cmd/i3net-package (run by scripts/package) is its command
// line; the i3net binary does not link it.
package pkgbuild

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb" // registers the "deb" packager
	"github.com/goreleaser/nfpm/v2/files"
)

// Options says what to package and where.
type Options struct {
	Binary    string    // the built i3net binary
	Packaging string    // the packaging directory (systemd/, etc/, scripts/)
	OutDir    string    // where the .deb goes (created if missing)
	Version   string    // Debian version, e.g. "0.0~git20261202.11a84e1"
	Arch      string    // Debian/Go architecture, e.g. "amd64"
	Date      time.Time // the files' time and the manual pages' date
}

// Build writes OutDir/i3net_VERSION_ARCH.deb and returns its path.
func Build(ctx context.Context, o Options) (string, error) {
	if o.Binary == "" || o.Packaging == "" || o.OutDir == "" || o.Version == "" || o.Arch == "" {
		return "", fmt.Errorf("pkgbuild: binary, packaging, output directory, version and arch are all needed")
	}
	pages, err := ManPages(ctx, o.Binary, o.Version, o.Date)
	if err != nil {
		return "", err
	}
	staging, err := os.MkdirTemp("", "i3net-package-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(staging)
	contents, err := packageContents(o, staging, pages)
	if err != nil {
		return "", err
	}
	info := packageInfo(o, contents)
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return "", fmt.Errorf("pkgbuild: %w", err)
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(o.OutDir, deb.Default.ConventionalFileName(info))
	return path, writePackage(info, path)
}

// packageInfo is the package's metadata and contents.
func packageInfo(o Options, contents files.Contents) *nfpm.Info {
	script := func(name string) string { return filepath.Join(o.Packaging, "scripts", name) }
	return nfpm.WithDefaults(&nfpm.Info{
		Name:       "i3net",
		Arch:       o.Arch,
		Platform:   "linux",
		Version:    o.Version,
		Section:    "net",
		Priority:   "optional",
		Maintainer: "i3net developers <i3net@users.noreply.github.com>",
		Description: "reach hosts by name through the i3 indirection overlay\n" +
			"i3net is an Internet Indirection Infrastructure (i3) overlay: a server\n" +
			"that stores triggers and forwards packets, and a proxy that lets\n" +
			"unmodified programs reach overlay hosts by name.",
		Homepage: "https://github.com/i3net/i3net",
		License:  "see /usr/share/doc/i3net",
		Overridables: nfpm.Overridables{
			Contents: contents,
			Scripts: nfpm.Scripts{
				PostInstall: script("postinst"),
				PreRemove:   script("prerm"),
				PostRemove:  script("postrm"),
			},
		},
	})
}

// writePackage packages info into path, replacing it only when complete.
func writePackage(info *nfpm.Info, path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".i3net-*.deb")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := deb.Default.Package(info, tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("pkgbuild: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
