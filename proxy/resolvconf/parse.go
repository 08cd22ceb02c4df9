package resolvconf

import (
	"bufio"
	"bytes"
	"net/netip"
	"strings"
)

// MaxSize is the most of a resolv.conf this package reads, in bytes.
const MaxSize = 64 << 10

// Conf is a parsed resolv.conf.
type Conf struct {
	// Nameservers are the nameserver lines' addresses, in order (a scoped
	// IPv6 address keeps its zone). Lines with an unparsable address are
	// skipped, as glibc does.
	Nameservers []netip.Addr
	// Search is the search list: the last search or domain line wins.
	Search []string
	// Options are the words of the options lines, in order.
	Options []string
	// Kept are the search, domain, options and sortlist lines, verbatim (with
	// surrounding space trimmed): what a rewritten file keeps.
	Kept []string
}

// Parse reads a resolv.conf. Like glibc it never fails: comments (# or ;),
// blank and unknown lines are skipped, and only the first MaxSize bytes are
// read.
func Parse(data []byte) Conf {
	if len(data) > MaxSize {
		data = data[:MaxSize]
	}
	var c Conf
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), MaxSize+1)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0][0] == '#' || fields[0][0] == ';' {
			continue
		}
		args := fields[1:]
		for i, a := range args { // a comment after the arguments
			if a[0] == '#' || a[0] == ';' {
				args = args[:i]
				break
			}
		}
		switch fields[0] {
		case "nameserver":
			if len(args) > 0 {
				if a, err := netip.ParseAddr(args[0]); err == nil {
					c.Nameservers = append(c.Nameservers, a)
				}
			}
		case "search", "domain":
			c.Search = append([]string(nil), args...)
			c.Kept = append(c.Kept, line)
		case "options":
			c.Options = append(c.Options, args...)
			c.Kept = append(c.Kept, line)
		case "sortlist":
			c.Kept = append(c.Kept, line)
		}
	}
	return c
}

// ParseUpstreams returns the upstream servers of a resolv.conf: its
// nameservers on port 53, without loopback and unspecified addresses (a local
// stub would loop our queries back to us, see the package doc), which are
// returned as skipped.
func ParseUpstreams(data []byte) (upstreams []netip.AddrPort, skipped []netip.Addr) {
	for _, a := range Parse(data).Nameservers {
		if a.IsLoopback() || a.IsUnspecified() || a.Unmap().IsLoopback() {
			skipped = append(skipped, a)
			continue
		}
		upstreams = append(upstreams, netip.AddrPortFrom(a, 53))
	}
	return upstreams, skipped
}
