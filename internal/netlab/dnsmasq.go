package netlab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// dnsmasqFallback is where Debian's dnsmasq-base puts dnsmasq, outside the
// PATH of a user who is not root.
const dnsmasqFallback = "/usr/sbin/dnsmasq"

// StartDNS starts dnsmasq in h as a small DNS server for a LAN (an
// intranet's resolver) on h's IPv4 address, port 53. It answers each name of
// records (e.g. "wiki.corp.example") with its address (A or AAAA),
// NXDOMAIN for any other name in the domains of those names (the name
// without its first label: "corp.example"), and nothing else: no upstream,
// no /etc/hosts. It logs each query to its output (Proc.Output). It returns
// once dnsmasq listens; if ctx ends first, it stops dnsmasq and says so.
func (h *Host) StartDNS(ctx context.Context, records map[string]netip.Addr) (*Proc, error) {
	bin, err := Dnsmasq()
	if err != nil {
		return nil, fmt.Errorf("netlab: %s: %w", h.name, err)
	}
	listen := h.Addr4()
	if !listen.IsValid() {
		return nil, fmt.Errorf("netlab: %s: StartDNS needs an IPv4 address on the host", h.name)
	}
	pidFile := filepath.Join(h.lab.logDir, fmt.Sprintf("dnsmasq-%s.pid", h.name))
	args, err := dnsmasqArgs(listen, pidFile, records)
	if err != nil {
		return nil, fmt.Errorf("netlab: %s: %w", h.name, err)
	}
	p, err := h.Start(bin, args...)
	if err != nil {
		return nil, err
	}
	if err := WaitUDP(ctx, h, 53); err != nil {
		stopErr := p.Stop()
		return nil, errors.Join(fmt.Errorf("netlab: %s: dnsmasq did not listen on port 53: %w\n%s", h.name, err, tail(p.Output(), 512)), stopErr)
	}
	return p, nil
}

// Dnsmasq returns the path of the dnsmasq program StartDNS runs, or an error
// that says how to install it.
func Dnsmasq() (string, error) {
	if bin, err := exec.LookPath("dnsmasq"); err == nil {
		return bin, nil
	}
	if _, err := os.Stat(dnsmasqFallback); err != nil {
		return "", errors.New("dnsmasq is not installed (scripts/deps installs it: Debian's dnsmasq-base)")
	}
	return dnsmasqFallback, nil
}

// dnsmasqArgs returns dnsmasq's arguments for StartDNS: in the foreground,
// as root (it writes nothing outside pidFile), bound to listen only,
// authoritative for records and their domains, with no cache (every query
// reaches the log).
func dnsmasqArgs(listen netip.Addr, pidFile string, records map[string]netip.Addr) ([]string, error) {
	if len(records) == 0 {
		return nil, errors.New("StartDNS: no records: give at least one name and its address")
	}
	args := []string{"--no-daemon", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
		"--user=root", "--pid-file=" + pidFile,
		"--listen-address=" + listen.String(), "--bind-interfaces",
		"--log-queries", "--log-facility=-", "--cache-size=0"}
	var names, domains []string
	for name := range records {
		names = append(names, name)
	}
	slices.Sort(names) // the same records give the same command line
	for _, name := range names {
		addr := records[name]
		clean := strings.ToLower(strings.TrimSuffix(name, "."))
		if err := checkDNSName(clean); err != nil {
			return nil, fmt.Errorf("StartDNS: record %q: %w", name, err)
		}
		if !addr.IsValid() {
			return nil, fmt.Errorf("StartDNS: record %q: no address: give an IPv4 or IPv6 address", name)
		}
		args = append(args, fmt.Sprintf("--host-record=%s,%s", clean, addr.Unmap()))
		if _, domain, ok := strings.Cut(clean, "."); ok && !slices.Contains(domains, domain) {
			domains = append(domains, domain)
		}
	}
	for _, d := range domains {
		args = append(args, "--local=/"+d+"/")
	}
	return args, nil
}

// checkDNSName says what is wrong with name as a record's name: dnsmasq
// takes letters, digits, '-' and '.' between labels.
func checkDNSName(name string) error {
	if name == "" || len(name) > 253 {
		return errors.New("want a DNS name of 1 to 253 characters, such as wiki.corp.example")
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return errors.New("empty or over-long label: want labels of 1 to 63 characters between dots")
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("character %q: want letters, digits, '-' and '.'", c)
			}
		}
	}
	return nil
}
