// Command i3net-package builds i3net's Debian package (internal/pkgbuild);
// scripts/package runs it after building the binary.
//
//	i3net-package --binary bin/i3net --version 0.1.0 [--arch amd64] [--out dist]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/i3net/i3net/internal/pkgbuild"
)

func main() {
	o := pkgbuild.Options{}
	var epoch int64
	flag.StringVar(&o.Binary, "binary", "bin/i3net", "the i3net `BINARY` to package")
	flag.StringVar(&o.Packaging, "packaging", "packaging", "the packaging `DIR` (systemd/, etc/, scripts/)")
	flag.StringVar(&o.OutDir, "out", "dist", "output `DIR`")
	flag.StringVar(&o.Version, "version", "", "package `VERSION` (required)")
	flag.StringVar(&o.Arch, "arch", runtime.GOARCH, "package `ARCH`")
	flag.Int64Var(&epoch, "date", time.Now().Unix(), "files' and manual pages' date, in `SECONDS` since 1970")
	flag.Parse()
	if flag.NArg() > 0 || o.Version == "" {
		fmt.Fprintln(os.Stderr, "usage: i3net-package --version VERSION [--binary BINARY] [--arch ARCH] [--out DIR]")
		os.Exit(2)
	}
	o.Date = time.Unix(epoch, 0).UTC()
	path, err := pkgbuild.Build(context.Background(), o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "i3net-package:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}
