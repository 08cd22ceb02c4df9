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

// DefaultResolvConf is a new host's /etc/resolv.conf: a resolver on the
// host's own loopback, where nothing listens, so a name lookup fails at once
// instead of leaving the lab.
const DefaultResolvConf = "# written by internal/netlab: no resolver unless the lab's owner sets one\nnameserver 127.0.0.1\noptions timeout:1 attempts:1\n"

// Host is a network namespace attached to one Net through its Uplink.
type Host struct {
	lab  *Lab
	name string
	ns   string

	// guarded by lab.mu
	net          *Net
	port         string // the peer of Uplink on net's bridge
	addr4, addr6 netip.Addr
}

// newHost creates host name's namespace, its /etc/netns/<ns>/resolv.conf,
// and kernel settings that make addresses usable at once.
func (l *Lab) newHost(name string) (*Host, error) {
	if !hostName.MatchString(name) || name == "inet" {
		return nil, fmt.Errorf("bad host name %q: want 1 to 20 of [a-z0-9-], not starting with '-', and not \"inet\"", name)
	}
	l.mu.Lock()
	dup := l.names[name]
	l.names[name] = true
	l.mu.Unlock()
	if dup {
		return nil, fmt.Errorf("host %q exists", name)
	}
	ns, err := l.addNamespace(name)
	if err != nil {
		return nil, err
	}
	h := &Host{lab: l, name: name, ns: ns}
	// ip netns exec bind-mounts this file over /etc/resolv.conf only if it
	// exists: without it a program that edits its resolver would edit this
	// machine's.
	if err := os.MkdirAll(filepath.Join(etcNetnsDir, ns), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(h.resolvPath(), []byte(DefaultResolvConf), 0o644); err != nil {
		return nil, err
	}
	err = h.Do(func() error {
		return writeSysctls(map[string]string{
			// No duplicate address detection (not even for link-local
			// addresses) and no autoconfiguration.
			"net.ipv6.conf.all.accept_dad":     "0",
			"net.ipv6.conf.default.accept_dad": "0",
			"net.ipv6.conf.all.accept_ra":      "0",
			"net.ipv6.conf.default.accept_ra":  "0",
			"net.ipv6.conf.default.autoconf":   "0",
			// Renumber adds the new address before deleting the old one,
			// which must not take the new one with it.
			"net.ipv4.conf.all.promote_secondaries":     "1",
			"net.ipv4.conf.default.promote_secondaries": "1",
			// SetLinkDown keeps the addresses, like IPv4 does.
			"net.ipv6.conf.all.keep_addr_on_down":     "1",
			"net.ipv6.conf.default.keep_addr_on_down": "1",
		})
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// Name returns the host's name in the lab, e.g. "web".
func (h *Host) Name() string { return h.name }

// String returns the host's name.
func (h *Host) String() string { return h.name }

// Namespace returns the name of the host's network namespace, for
// "ip netns exec" and the like.
func (h *Host) Namespace() string { return h.ns }

// Addr4 returns the host's IPv4 address on its net, invalid when it has none.
func (h *Host) Addr4() netip.Addr {
	h.lab.mu.Lock()
	defer h.lab.mu.Unlock()
	return h.addr4
}

// Addr6 returns the host's IPv6 address on its net, invalid when it has none.
func (h *Host) Addr6() netip.Addr {
	h.lab.mu.Lock()
	defer h.lab.mu.Unlock()
	return h.addr6
}

// Net returns the net the host is attached to.
func (h *Host) Net() *Net {
	h.lab.mu.Lock()
	defer h.lab.mu.Unlock()
	return h.net
}

// Exec returns a command that runs name with args inside the host (through
// "ip netns exec", which also gives it the host's resolv.conf). ctx kills it;
// the caller runs and waits for it. Prefer Run or Start.
func (h *Host) Exec(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.ns, name}, args...)...)
	cmd.WaitDelay = killWait
	return cmd
}

// Run runs name with args inside the host and returns its combined output. A
// ctx without deadline gets RunTimeout. The error names the host and the
// command and ends with the output's last lines.
func (h *Host) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, RunTimeout)
		defer cancel()
	}
	out, err := h.Exec(ctx, name, args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("netlab: %s: %s %s: %w: %s", h.name, name, strings.Join(args, " "), err, strings.TrimSpace(string(tail(out, 512))))
	}
	return out, nil
}

// SetResolvConf sets the host's /etc/resolv.conf. The file is rewritten in
// place, so processes already running see the change too.
func (h *Host) SetResolvConf(text string) error {
	if err := os.WriteFile(h.resolvPath(), []byte(text), 0o644); err != nil {
		return fmt.Errorf("netlab: %s: resolv.conf: %w", h.name, err)
	}
	return nil
}

func (h *Host) resolvPath() string { return filepath.Join(etcNetnsDir, h.ns, "resolv.conf") }

// Sysctl sets a kernel setting of the host's namespace, e.g.
// Sysctl("net.ipv4.ip_forward", "1").
func (h *Host) Sysctl(key, value string) error {
	if err := h.Do(func() error { return writeSysctls(map[string]string{key: value}) }); err != nil {
		return fmt.Errorf("netlab: %s: %w", h.name, err)
	}
	return nil
}

// Nft loads an nftables ruleset (nft -f syntax) into the host's namespace.
func (h *Host) Nft(ruleset string) error {
	if err := runTool(ruleset, "ip", "netns", "exec", h.ns, "nft", "-f", "-"); err != nil {
		return fmt.Errorf("netlab: %s: %w", h.name, err)
	}
	return nil
}

// Renumber moves the host's address of to's family on its net to to, adding
// the new address before removing the old one and restoring the default
// route. An invalid to means the next free IPv4 address of the net. It returns
// the new address. On a NAT's outside address, the masquerade mappings of
// the old address are gone when it returns (dropMappings), so inside hosts'
// flows continue from the new one.
func (h *Host) Renumber(to netip.Addr) (netip.Addr, error) {
	got, err := h.renumber(to)
	if err != nil {
		return got, fmt.Errorf("netlab: %s: renumber to %v: %w", h.name, to, err)
	}
	return got, nil
}

func (h *Host) renumber(to netip.Addr) (netip.Addr, error) {
	l := h.lab
	l.mu.Lock()
	n := h.net
	if n == nil {
		l.mu.Unlock()
		return to, errors.New("not attached to a net")
	}
	p, gw, old := n.p4, n.gw4, h.addr4
	if to.Is6() {
		p, gw, old = n.p6, n.gw6, h.addr6
	}
	var err error
	switch {
	case !to.IsValid():
		to, err = n.alloc(p, gw)
	case !usable(p, to) || to == gw || n.used[to]:
		err = fmt.Errorf("not a free host address of %s (%v)", n, p)
	}
	if err == nil && !to.IsValid() {
		err = fmt.Errorf("%s has no such family", n)
	}
	if err != nil {
		l.mu.Unlock()
		return to, err
	}
	n.mark(to, true)
	l.mu.Unlock()

	lines := addrLines("add", to, p, netip.Addr{}, p)
	if to.Is6() {
		lines = addrLines("add", netip.Addr{}, p, to, p)
	}
	if old.IsValid() {
		lines = append(lines, fmt.Sprintf("addr del %s dev %s", netip.PrefixFrom(old, p.Bits()), Uplink))
	}
	if to.Is4() {
		lines = append(lines, routeLines(gw, netip.Addr{})...)
	} else {
		lines = append(lines, routeLines(netip.Addr{}, gw)...)
	}
	if err := ipBatch(h.ns, lines...); err != nil {
		l.mu.Lock()
		n.mark(to, false)
		l.mu.Unlock()
		return to, err
	}
	if old.IsValid() {
		if err := dropMappings(h.ns, old); err != nil {
			return to, fmt.Errorf("dropping the mappings of %v: %w", old, err)
		}
	}
	l.mu.Lock()
	n.mark(old, false)
	if to.Is4() {
		h.addr4 = to
	} else {
		h.addr6 = to
	}
	l.mu.Unlock()
	return to, h.waitReady()
}

// MoveTo detaches the host from its net and attaches it to n with n's next
// free addresses (a laptop moving from the internet to behind a NAT, say).
// Sockets bound to the old addresses stop working, as they would.
func (h *Host) MoveTo(n *Net) error {
	if old := h.Net(); old != nil {
		if err := old.detach(h); err != nil {
			return fmt.Errorf("netlab: %s: leaving %s: %w", h.name, old, err)
		}
	}
	if err := n.attach(h, netip.Addr{}); err != nil {
		return fmt.Errorf("netlab: %s: joining %s: %w", h.name, n, err)
	}
	return nil
}

// SetLinkDown takes the host's Uplink down: the host is cut off from its net.
func (h *Host) SetLinkDown() error {
	if err := ipBatch(h.ns, "link set "+Uplink+" down"); err != nil {
		return fmt.Errorf("netlab: %s: link down: %w", h.name, err)
	}
	return nil
}

// SetLinkUp brings the host's Uplink up and restores its addresses and
// default routes.
func (h *Host) SetLinkUp() error {
	l := h.lab
	l.mu.Lock()
	n, a4, a6 := h.net, h.addr4, h.addr6
	l.mu.Unlock()
	if n == nil {
		return fmt.Errorf("netlab: %s: link up: not attached to a net", h.name)
	}
	lines := append([]string{"link set " + Uplink + " up"}, addrLines("replace", a4, n.p4, a6, n.p6)...)
	lines = append(lines, routeLines(n.gw4, n.gw6)...)
	if err := ipBatch(h.ns, lines...); err != nil {
		return fmt.Errorf("netlab: %s: link up: %w", h.name, err)
	}
	if err := h.waitReady(); err != nil {
		return fmt.Errorf("netlab: %s: link up: %w", h.name, err)
	}
	return nil
}

// bridgeNetfilterOff keeps a namespace's bridges pure layer 2: with
// br_netfilter built into the kernel, bridged frames would otherwise go
// through that namespace's IP firewall (a NAT's forward filter would drop
// traffic between two hosts on its LAN). Kernels without br_netfilter lack
// these files, which is the same.
var bridgeNetfilterOff = map[string]string{
	"net.bridge.bridge-nf-call-iptables":  "0",
	"net.bridge.bridge-nf-call-ip6tables": "0",
	"net.bridge.bridge-nf-call-arptables": "0",
}

// writeSysctls writes kernel settings through /proc/sys. Run inside Do, it
// sets them in that namespace: /proc/sys/net follows the calling thread's
// network namespace.
func writeSysctls(kv map[string]string) error {
	for k, v := range kv {
		path := filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/"))
		err := os.WriteFile(path, []byte(v), 0o644)
		if errors.Is(err, os.ErrNotExist) && strings.HasPrefix(k, "net.bridge.") {
			continue // no br_netfilter
		}
		if err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", k, v, err)
		}
	}
	return nil
}
