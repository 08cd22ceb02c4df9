package proxy

import (
	"golang.zx2c4.com/wireguard/tun"

	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/internal/clock"
	"github.com/i3net/i3net/proxy/dns"
	"github.com/i3net/i3net/proxy/rules"
	"github.com/i3net/i3net/proxy/vaddr"
)

// Config configures a Proxy. Start from DefaultConfig; New copies and freezes it.
type Config struct {
	// Identity is this host's key: its public id carries the public trigger,
	// and it authenticates the sessions. Required.
	Identity *identity.Identity

	// BookPath is the address book (proxy/book); it is reloaded when it
	// changes. Required.
	BookPath string

	// StatePath is where the mappings and private ids are saved (JSON, written
	// atomically) every SaveInterval and at exit, and read at start. Empty: no
	// state is kept, and a restart breaks open connections.
	StatePath string
	// SaveInterval is how often the state is saved while mappings change.
	// Default 5 s.
	SaveInterval time.Duration

	// Servers are the overlay servers to use (at least one).
	Servers []netip.AddrPort
	// ListenAddr is the UDP address of the overlay client. Zero: an ephemeral
	// port on the wildcard address.
	ListenAddr netip.AddrPort
	// NoExtensions makes the overlay client speak only the original 2004
	// protocol (client.Config.NoExtensions); without it the client sends
	// i3net's extensions only to servers that have shown they speak them.
	// The proxy's public trigger needs them (signatures).
	NoExtensions bool

	// Tun, if set, is the device to use as it is: the proxy neither creates one
	// nor configures addresses (the caller gives it this host's own addresses,
	// see Status). Tests use an in-memory device.
	Tun tun.Device

	// Userspace makes the tun device a TCP/IP stack in the process
	// (userspace.go): no root needed, no device, routes or resolver file
	// (ResolvConf is only read, for the upstreams); programs come in through
	// a front door (proxy/front) dialing through Router.
	Userspace bool
	// Expose are the TCP ports of this host's loopback that peers reach on
	// its virtual addresses, in userspace mode.
	Expose []uint16

	// TunName is the name of the tun device. Default "i3net0".
	TunName string
	// MTU of the tun device: the path MTU (1500) less everything the proxy
	// adds (IPv6 40 + UDP 8 + overlay header with SENDER 56 + session 25), so
	// nothing is fragmented; larger packets are answered with ICMP "too big".
	// Default 1360; MinMTU..MaxMTU.
	MTU int

	// Pool4 and Pool6 are the virtual address pools (vaddr.DefaultPool4,
	// vaddr.DefaultPool6). A zero Pool6 disables IPv6.
	Pool4, Pool6 netip.Prefix

	// Reserved are virtual addresses never given to a peer. A peer whose
	// derived address is reserved gets another one, and its packets are
	// rewritten (§3.3): this forces a collision, for tests and for showing what
	// header rewriting breaks.
	Reserved []netip.Addr

	// Suffix is the overlay's DNS suffix, without dots. Default "i3".
	Suffix string

	// MappingTimeout is how long a mapping lives without packets or DNS
	// answers (the paper's TO, §7.2). Default 7200 s.
	MappingTimeout time.Duration

	// ResolvConf is the resolver file the proxy points at itself while it runs
	// and restores at exit (and, after a crash, at the next start). Empty:
	// the resolver is left alone and DNS is reachable only on the service
	// address. Default "/etc/resolv.conf".
	ResolvConf string
	// DNSMode is how the host's resolver is hooked (proxy/dns.Mode): auto
	// (the default) registers the suffix with systemd-resolved where it
	// manages resolv.conf and replaces ResolvConf elsewhere; off leaves the
	// resolver alone. Userspace mode only reads ResolvConf.
	DNSMode dns.Mode
	// ResolvBackup is where the original resolver file is kept while the
	// proxy runs. Default: next to StatePath, "resolv.conf.i3net-backup".
	ResolvBackup string
	// Upstreams are the resolvers other names go to. Empty: those of the
	// original resolver file.
	Upstreams []netip.AddrPort
	// UpstreamTimeout is how long a forwarded query waits for the upstreams
	// in all (they are asked staggered, proxy/dns.ForwarderConfig.Budget)
	// before the program gets SERVFAIL; keep it under the stub resolver's
	// time-out (glibc: 5 s). Default 2 s.
	UpstreamTimeout time.Duration

	// AcceptUnknown lets hosts that are not in the address book open
	// sessions to this one (they are authenticated all the same, and show in
	// status by key). Default true, like a public server: only the hosts this
	// one names are pinned to keys.
	AcceptUnknown bool
	// AcceptAnonymous lets hosts this one does not know open anonymous
	// sessions (paper §6.3: an ephemeral key made for the session, flagged
	// so in the handshake); AcceptUnknown does not apply to them, as their
	// key is never in a book. They show in status as anonymous and are
	// forgotten after min(MappingTimeout, 10 min) unused. Default true; a
	// gateway's default is false (allow_anonymous).
	AcceptAnonymous bool
	// AnonRotate is how old a session with a peer reached anonymously (a
	// book entry or a name rule says anonymous = true) may get: the next
	// use after a pause of 2 s ends it and starts one with a new key,
	// address and relay (docs/anonymity.md). Default 10 min.
	AnonRotate time.Duration

	// QueueTarget is the longest the proxy lets packets from the overlay
	// wait, as a standing queue, in its socket (CoDel, codel.go): when the
	// wait stays above it for QueueInterval, packets are marked
	// (ECN-capable ones) or dropped so the senders slow down. Default 5 ms
	// and 100 ms (RFC 8289); a negative QueueTarget turns the limit off.
	QueueTarget, QueueInterval time.Duration
	// SplitLarge makes the proxy read the tun device through wireguard-go,
	// which splits every large packet the kernel hands over (TSO, USO) and
	// computes each piece's checksum, and never carry one whole to a peer
	// (outraw.go). The default carries them whole between proxies with tun
	// devices; this is for comparison and as a way out.
	SplitLarge bool

	// HandshakeTimeout is how long the proxy tries to reach a peer (message 1
	// resent with backoff) before it gives up, drops the queued packets and
	// answers the programs with ICMP unreachable. Default 10 s.
	HandshakeTimeout time.Duration
	// ControlPath is the unix socket "i3net status" reads. Empty: none.
	ControlPath string

	// Rules send names to i3-to-IP gateways (paper §4.4.1, §7.3): the first
	// rule whose pattern matches a name the programs ask for decides: through
	// a gateway (its address book name), directly (the upstreams), or
	// refused. Nil: every name outside the overlay suffix goes upstream.
	Rules *rules.Rules

	// PublishPath is the services file (proxy/publish): the services this
	// host publishes through ingresses, reloaded when it changes. Empty:
	// none.
	PublishPath string

	// Ingress, if set, makes this proxy the overlay side of an ingress
	// (ingress.go): it takes its peers' published services.
	Ingress *IngressMode

	// Gateway, if set, makes this proxy an i3-to-IP gateway (gateway.go).
	Gateway *GatewayMode

	// Middlebox, if set, is the book name of a middlebox (§6.4) this host
	// imposes on every session (middlebox.go): peers send through it, and
	// their data is accepted only when it passed it. A book entry's own
	// middlebox applies to that peer instead.
	Middlebox string

	// Clock and Logger: nil means the real clock and slog.Default().
	Clock  clock.Clock
	Logger *slog.Logger

	// Also are the other overlays this proxy's host is in (proxy/overlays),
	// each a proxy with a suffix of its own on a port of the same device:
	// this proxy's DNS responder answers their names with them, its hook on
	// the host's resolver covers their suffixes too, and its Status holds
	// theirs (Status.Overlays). Nil: this overlay only.
	Also []*Proxy

	// DeviceCounters, if set, adds the counters of the device this proxy
	// runs on to its status (proxy/overlays: the shared tun's dispatcher).
	DeviceCounters func() map[string]uint64
}

// DefaultMappingTimeout is how long a mapping lives without use (paper §7.2:
// TCP's keep-alive interval, and longer than programs cache DNS answers).
const DefaultMappingTimeout = 7200 * time.Second

// The tun device's MTU range: IPv6's minimum link MTU up to a jumbo frame's.
const (
	MinMTU = 1280
	MaxMTU = 9000
)

// ValidMTU reports whether mtu is in MinMTU..MaxMTU.
func ValidMTU(mtu int) bool { return mtu >= MinMTU && mtu <= MaxMTU }

// DefaultConfig returns a complete configuration but for Identity, BookPath and
// Servers.
func DefaultConfig() Config {
	return Config{
		SaveInterval:     5 * time.Second,
		TunName:          "i3net0",
		MTU:              1360,
		Pool4:            vaddr.DefaultPool4,
		Pool6:            vaddr.DefaultPool6,
		Suffix:           "i3",
		MappingTimeout:   DefaultMappingTimeout,
		ResolvConf:       "/etc/resolv.conf",
		DNSMode:          dns.ModeAuto,
		UpstreamTimeout:  dns.DefaultForwardBudget,
		AcceptUnknown:    true,
		AcceptAnonymous:  true,
		AnonRotate:       DefaultAnonRotate,
		QueueTarget:      DefaultQueueTarget,
		QueueInterval:    DefaultQueueInterval,
		HandshakeTimeout: 10 * time.Second,
	}
}

func (c *Config) validate() error {
	var errs []error
	if c.Identity == nil {
		errs = append(errs, errors.New("no identity"))
	}
	if c.BookPath == "" {
		errs = append(errs, errors.New("no address book path"))
	}
	if len(c.Servers) == 0 {
		errs = append(errs, errors.New("no overlay server: give at least one (--server ADDR:PORT)"))
	}
	if !ValidMTU(c.MTU) {
		errs = append(errs, fmt.Errorf("mtu %d out of range %d..%d", c.MTU, MinMTU, MaxMTU))
	}
	if err := vaddr.ValidatePool(c.Pool4); err != nil || !c.Pool4.Addr().Is4() {
		errs = append(errs, fmt.Errorf("pool4 %v: not a usable IPv4 pool: %v", c.Pool4, err))
	}
	if c.Pool6.IsValid() {
		if err := vaddr.ValidatePool(c.Pool6); err != nil || !c.Pool6.Addr().Is6() {
			errs = append(errs, fmt.Errorf("pool6 %v: not a usable IPv6 pool: %v", c.Pool6, err))
		}
	}
	if c.Suffix == "" {
		errs = append(errs, errors.New("empty overlay suffix"))
	}
	if c.MappingTimeout <= 0 || c.HandshakeTimeout <= 0 || c.SaveInterval <= 0 {
		errs = append(errs, errors.New("timeouts must be positive"))
	}
	if c.Gateway != nil {
		errs = append(errs, c.Gateway.validate()...)
	}
	if c.AnonRotate <= 0 {
		errs = append(errs, fmt.Errorf("anonymous rotation %v: must be positive (--anonymous-rotate)", c.AnonRotate))
	}
	if c.QueueTarget > 0 && c.QueueInterval <= 0 {
		errs = append(errs, fmt.Errorf("queue interval %v: must be positive with a queue target (%v)", c.QueueInterval, c.QueueTarget))
	}
	if c.UpstreamTimeout <= 0 {
		errs = append(errs, fmt.Errorf("upstream timeout %v: must be positive (--upstream-timeout)", c.UpstreamTimeout))
	}
	errs = append(errs, c.validateAlso()...)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("proxy: config: %w", err)
	}
	return nil
}

// validateAlso refuses missing overlays and suffixes that clash with this
// one's (proxy/overlays.Check says more, with the config's keys).
func (c *Config) validateAlso() []error {
	var errs []error
	seen := map[string]bool{strings.ToLower(strings.Trim(c.Suffix, ".")): true}
	for i, o := range c.Also {
		if o == nil {
			errs = append(errs, fmt.Errorf("also[%d]: no proxy", i))
			continue
		}
		s := strings.ToLower(strings.Trim(o.cfg.Suffix, "."))
		if seen[s] {
			errs = append(errs, fmt.Errorf("also[%d]: suffix %q is another overlay's too: give each its own", i, s))
		}
		seen[s] = true
	}
	return errs
}
