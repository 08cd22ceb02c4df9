package pkgbuild

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/goreleaser/nfpm/v2/files"
)

// Where the package puts things.
const (
	binDest    = "/usr/bin/i3net"
	unitDir    = "/usr/lib/systemd/system"
	configDir  = "/etc/i3net"
	manDir     = "/usr/share/man/man1"
	stateDir   = "/var/lib/i3net"
	unitServer = "i3net-server.service"
	unitProxy  = "i3net-proxy.service"
)

// packageContents lists the package's files: the binary, the units, the
// configuration files (kept on upgrade if the admin changed them), the manual
// pages (written to staging first) and the state directory.
func packageContents(o Options, staging string, pages []ManPage) (files.Contents, error) {
	c := files.Contents{
		file(o.Binary, binDest, files.TypeFile, 0o755, o),
		file(filepath.Join(o.Packaging, "systemd", unitServer), unitDir+"/"+unitServer, files.TypeFile, 0o644, o),
		file(filepath.Join(o.Packaging, "systemd", unitProxy), unitDir+"/"+unitProxy, files.TypeFile, 0o644, o),
		file(filepath.Join(o.Packaging, "etc", "server.toml"), configDir+"/server.toml", files.TypeConfigNoReplace, 0o644, o),
		file(filepath.Join(o.Packaging, "etc", "proxy.toml"), configDir+"/proxy.toml", files.TypeConfigNoReplace, 0o644, o),
		{Destination: stateDir, Type: files.TypeDir, FileInfo: &files.ContentFileInfo{Mode: 0o700, MTime: o.Date}},
	}
	for _, p := range pages {
		src := filepath.Join(staging, p.Name)
		if err := os.WriteFile(src, p.Gz, 0o644); err != nil {
			return nil, fmt.Errorf("pkgbuild: %w", err)
		}
		c = append(c, file(src, manDir+"/"+p.Name, files.TypeFile, 0o644, o))
	}
	for _, f := range c {
		if f.Source == "" {
			continue
		}
		if _, err := os.Stat(f.Source); err != nil {
			return nil, fmt.Errorf("pkgbuild: %w (is the packaging directory %s?)", err, o.Packaging)
		}
	}
	return c, nil
}

func file(src, dest, typ string, mode os.FileMode, o Options) *files.Content {
	return &files.Content{
		Source:      src,
		Destination: dest,
		Type:        typ,
		FileInfo:    &files.ContentFileInfo{Mode: mode, Owner: "root", Group: "root", MTime: o.Date},
	}
}
