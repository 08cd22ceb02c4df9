package pkgbuild

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// ManPage is one generated manual page, gzipped.
type ManPage struct {
	Name string // file name, e.g. "i3net-proxy.1.gz"
	Gz   []byte
}

// ManPages runs binary ("i3net help", then "i3net CMD --help" for each command
// the list names) and turns each help text into a roff page of section 1:
// i3net.1.gz and i3net-CMD.1.gz. version and date go into the page footers.
func ManPages(ctx context.Context, binary, version string, date time.Time) ([]ManPage, error) {
	root, err := helpText(ctx, binary, "help")
	if err != nil {
		return nil, err
	}
	names := commandNames(root)
	if len(names) == 0 {
		return nil, fmt.Errorf("pkgbuild: %s help lists no commands under \"Commands:\"", binary)
	}
	th := thLine{version: version, date: date.UTC().Format("2006-01-02")}
	pages := []ManPage{}
	page, err := gzipPage("i3net.1.gz", rootPage(root, names, th))
	if err != nil {
		return nil, err
	}
	pages = append(pages, page)
	for _, name := range names {
		text, err := helpText(ctx, binary, name, "--help")
		if err != nil {
			return nil, err
		}
		page, err := gzipPage("i3net-"+name+".1.gz", commandPage(name, text, th))
		if err != nil {
			return nil, err
		}
		pages = append(pages, page)
	}
	return pages, nil
}

// helpText runs binary with args and returns what it printed; it must exit 0.
func helpText(ctx context.Context, binary string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "I3NET_STATE_DIR=/var/lib/i3net", "HOME=/nonexistent"}
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("pkgbuild: %s %s: %w", binary, strings.Join(args, " "), err)
	}
	return string(out), nil
}

// commandNames reads the command list of "i3net help": the first word of each
// indented line after "Commands:", up to the next blank line.
func commandNames(root string) []string {
	var names []string
	in := false
	for line := range strings.Lines(root) {
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "Commands:":
			in = true
		case in && strings.TrimSpace(line) == "":
			return names
		case in:
			if f := strings.Fields(line); len(f) > 0 {
				names = append(names, f[0])
			}
		}
	}
	return names
}

func gzipPage(name, roff string) (ManPage, error) {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return ManPage{}, err
	}
	zw.Name = strings.TrimSuffix(name, ".gz")
	if _, err := zw.Write([]byte(roff)); err != nil {
		return ManPage{}, err
	}
	if err := zw.Close(); err != nil {
		return ManPage{}, err
	}
	return ManPage{Name: name, Gz: b.Bytes()}, nil
}
