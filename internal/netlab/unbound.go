package netlab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// unboundBin is where Debian's unbound package puts unbound.
const unboundBin = "/usr/sbin/unbound"

// UnboundConfig is what StartUnbound runs: zones unbound serves
// authoritatively from zone files (a parent zone that delegates a child),
// zones it resolves by asking given servers (a recursive resolver without a
// root), or both.
type UnboundConfig struct {
	// Dir holds the configuration, zone files, pid file and log; it must
	// exist. Empty: a directory in the lab's log directory.
	Dir string
	// Auth are the zones served from zone files, to clients (answers with
	// the AA bit, referrals for delegated names); no recursion into them.
	Auth []UnboundAuthZone
	// Stubs are the zones resolved by iteration starting at the given
	// servers (there is no root): referrals are followed, as a recursive
	// resolver does.
	Stubs []UnboundStub
	// Allow are the client prefixes unbound answers; empty: the prefixes of
	// the host's net. Loopback is always allowed.
	Allow []netip.Prefix
	// Verbosity is unbound's log verbosity (0 to 5); queries and replies are
	// always logged.
	Verbosity int
}

// UnboundAuthZone is one zone unbound serves from a zone file.
type UnboundAuthZone struct {
	Name string // the zone's origin, e.g. "example.net"
	Text string // the zone file (ParentZone writes one)
}

// UnboundStub is one zone unbound resolves starting at Servers.
type UnboundStub struct {
	Name    string       // the zone, e.g. "example.net"
	Servers []netip.Addr // its authoritative servers (port 53)
}

// Unbound is an unbound started by StartUnbound.
type Unbound struct {
	*Proc
	Conf string // unbound.conf
	Log  string // unbound's log file (queries, replies, errors)
}

// Delegation is a child zone a ParentZone delegates, with the glue of its
// name server.
type Delegation struct {
	Child  string       // e.g. "i3.example.net"
	NSName string       // e.g. "ns1.i3.example.net" (in the child: glue needed)
	Addrs  []netip.Addr // the name server's addresses (A and AAAA glue)
}

// ParentZone returns a zone file for origin served by a name server at self
// ("ns.ORIGIN"), with SOA and NS records, which delegates each child with NS
// records and glue.
func ParentZone(origin string, self netip.Addr, children ...Delegation) string {
	origin = fqdn(origin)
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN %s\n$TTL 300\n", origin)
	fmt.Fprintf(&b, "@ IN SOA ns.%[1]s hostmaster.%[1]s 1 3600 600 86400 5\n", origin)
	fmt.Fprintf(&b, "@ IN NS ns.%s\n", origin)
	fmt.Fprintf(&b, "ns.%s IN %s %s\n", origin, rrType(self), self.Unmap())
	for _, c := range children {
		fmt.Fprintf(&b, "%s IN NS %s\n", fqdn(c.Child), fqdn(c.NSName))
		for _, a := range c.Addrs {
			fmt.Fprintf(&b, "%s IN %s %s\n", fqdn(c.NSName), rrType(a), a.Unmap())
		}
	}
	return b.String()
}

// StartUnbound runs unbound in h, in the foreground, listening on h's
// addresses, port 53, and returns once it answers there (UDP). The caller
// stops it (Proc.Stop); if ctx ends first, StartUnbound stops it and says
// so.
func (h *Host) StartUnbound(ctx context.Context, cfg UnboundConfig) (*Unbound, error) {
	if _, err := exec.LookPath(unboundBin); err != nil {
		return nil, fmt.Errorf("netlab: %s: unbound is not installed (scripts/deps installs Debian's unbound)", h.name)
	}
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(h.lab.logDir, "unbound-"+h.name)
		if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("netlab: %s: unbound: %w", h.name, err)
		}
	}
	if len(cfg.Allow) == 0 {
		if n := h.Net(); n != nil {
			cfg.Allow = validPrefixes(n.Prefix4(), n.Prefix6())
		}
	}
	u := &Unbound{Conf: filepath.Join(cfg.Dir, "unbound.conf"), Log: filepath.Join(cfg.Dir, "unbound.log")}
	conf, err := unboundConf(cfg, u.Log, h.Addr4(), h.Addr6())
	if err != nil {
		return nil, fmt.Errorf("netlab: %s: StartUnbound: %w", h.name, err)
	}
	for i, z := range cfg.Auth {
		if err := os.WriteFile(zoneFile(cfg.Dir, i), []byte(z.Text), 0o644); err != nil {
			return nil, fmt.Errorf("netlab: %s: unbound: %w", h.name, err)
		}
	}
	if err := os.WriteFile(u.Conf, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("netlab: %s: unbound: %w", h.name, err)
	}
	if u.Proc, err = h.Start(unboundBin, "-d", "-c", u.Conf); err != nil {
		return nil, err
	}
	if err := WaitUDP(ctx, h, 53); err != nil {
		stopErr := u.Proc.Stop()
		return nil, errors.Join(fmt.Errorf("netlab: %s: unbound did not listen on port 53: %w\n%s\n%s",
			h.name, err, tail(u.Proc.Output(), 512), u.LogTail(1024)), stopErr)
	}
	return u, nil
}

// LogTail returns the last n bytes of unbound's log.
func (u *Unbound) LogTail(n int) string {
	b, _ := os.ReadFile(u.Log)
	return string(tail(b, n))
}

// unboundConf returns unbound.conf for cfg, listening on a4 and a6 (those
// valid), logging to logFile.
func unboundConf(cfg UnboundConfig, logFile string, a4, a6 netip.Addr) (string, error) {
	if len(cfg.Auth) == 0 && len(cfg.Stubs) == 0 {
		return "", errors.New("no zones: give Auth zones, Stubs, or both")
	}
	if !a4.IsValid() && !a6.IsValid() {
		return "", errors.New("the host has no address to listen on")
	}
	var b strings.Builder
	b.WriteString("# written by internal/netlab: unbound in a lab host\nserver:\n")
	for _, a := range []netip.Addr{a4, a6} {
		if a.IsValid() {
			fmt.Fprintf(&b, "\tinterface: %s\n", a.Unmap())
		}
	}
	fmt.Fprintf(&b, unboundServer, cfg.Dir, logFile, max(cfg.Verbosity, 1))
	for _, p := range cfg.Allow {
		fmt.Fprintf(&b, "\taccess-control: %s allow\n", p.Masked())
	}
	for i, z := range cfg.Auth {
		if err := checkDNSName(strings.ToLower(strings.TrimSuffix(z.Name, "."))); err != nil {
			return "", fmt.Errorf("auth zone %q: %w", z.Name, err)
		}
		fmt.Fprintf(&b, "auth-zone:\n\tname: %q\n\tzonefile: %q\n\tfor-downstream: yes\n\tfor-upstream: no\n\tfallback-enabled: no\n",
			fqdn(z.Name), zoneFile(cfg.Dir, i))
	}
	for _, s := range cfg.Stubs {
		if err := checkDNSName(strings.ToLower(strings.TrimSuffix(s.Name, "."))); err != nil {
			return "", fmt.Errorf("stub zone %q: %w", s.Name, err)
		}
		if len(s.Servers) == 0 {
			return "", fmt.Errorf("stub zone %q: no servers: give the zone's name servers' addresses", s.Name)
		}
		fmt.Fprintf(&b, "stub-zone:\n\tname: %q\n", fqdn(s.Name))
		for _, a := range s.Servers {
			fmt.Fprintf(&b, "\tstub-addr: %s\n", a.Unmap())
		}
	}
	b.WriteString("remote-control:\n\tcontrol-enable: no\n")
	return b.String(), nil
}

// unboundServer is the rest of the server clause: %[1]s is the directory,
// %[2]s the log file, %[3]d the verbosity. Root in the foreground, no chroot,
// iterator only (no validator: no trust anchor), no cache floor (the
// ingress answers with TTL 0), and the lab's addresses allowed as answers.
const unboundServer = `	port: 53
	do-daemonize: no
	chroot: ""
	username: ""
	directory: %[1]q
	pidfile: "%[1]s/unbound.pid"
	logfile: %[2]q
	use-syslog: no
	log-time-ascii: yes
	verbosity: %[3]d
	log-queries: yes
	log-replies: yes
	log-servfail: yes
	num-threads: 1
	so-reuseport: no
	module-config: "iterator"
	cache-min-ttl: 0
	cache-max-negative-ttl: 5
	prefetch: no
	serve-expired: no
	access-control: 127.0.0.0/8 allow
	access-control: ::1 allow
`

// zoneFile is the path of the i-th auth zone's file in dir.
func zoneFile(dir string, i int) string { return filepath.Join(dir, fmt.Sprintf("zone%d.txt", i)) }

// fqdn returns name lower case with one final dot.
func fqdn(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) + "." }

// rrType is "A" for an IPv4 address, else "AAAA".
func rrType(a netip.Addr) string {
	if a.Unmap().Is4() {
		return "A"
	}
	return "AAAA"
}

// validPrefixes returns those of ps that are valid.
func validPrefixes(ps ...netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range ps {
		if p.IsValid() {
			out = append(out, p)
		}
	}
	return out
}
