package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/internal/tundev"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/dns"
	"github.com/i3net/i3net/proxy/publish"
)

func init() {
	register(&Command{
		Name:       "proxy",
		Order:      40,
		ShortUsage: "i3net proxy --server ADDR:PORT [flags]",
		ShortHelp:  "Run the proxy: programs on this host reach overlay hosts by name",
		LongHelp: `
The proxy lets unmodified programs reach the hosts of the address book by name:
"ssh home.i3", "curl http://home.i3/", "ping home.i3". It answers DNS for
NAME.i3 with a virtual address, captures the packets sent there on a tun device,
and carries them encrypted over the overlay to the proxy on the other host, whose
key the address book pins. Other hosts reach this one the same way, through its
public id (see "i3net id").

While it runs, the host's resolv.conf points at the proxy (other names are
forwarded to the resolvers it had); it is restored on exit, and after a crash on
the next start. Where systemd-resolved manages resolv.conf, the proxy leaves it
alone and instead registers ~i3 as a routing-only domain with its DNS address on
its tun link over D-Bus, so only overlay names reach it; resolved forgets that
when the proxy stops (--dns-mode chooses either way, or off). Mappings and private ids are saved in the state directory, so
open connections survive a restart of the proxy.

Given several servers (repeat --server), the proxy sends through the nearest
that answers, learns the rest of the overlay's servers from them, and moves to
the next when one stops answering. A host the address book marks "shortcut"
is reached directly, bypassing the servers, when it allows that too.

It runs on Linux only, and needs root (or CAP_NET_ADMIN) for the tun device.
Without root it runs in userspace mode (--userspace, or by itself when no tun
device can be made): a TCP/IP stack in the process stands for the device, the
overlay and the sessions are the same, and programs reach it through a SOCKS5
and HTTP proxy on --front (127.0.0.1:1080): "curl --socks5-hostname
127.0.0.1:1080 http://home.i3/", "http_proxy=http://127.0.0.1:1080 git clone
...", "ssh -o ProxyCommand='nc -X 5 -x 127.0.0.1:1080 %h %p' home.i3". Peers
reach the services of this host's loopback on the --expose ports. The
resolver file is only read (docs/userspace.md).

Names outside the overlay can go through an i3-to-IP gateway (see "i3net
gateway"): ordered rules in the --config file send "*.corp.example" to the
gateway the address book names office-gw, which resolves them in its network;
the programs get virtual addresses, so several intranets with the same address
range are reached at once.

A host the address book marks anonymous ("i3net book add NAME KEY
--anonymous"), or a gateway a rule with anonymous = true sends names through,
is reached anonymously: a fresh key and address per session, a relay picked at
random among the servers, no shortcut (docs/anonymity.md). --no-anonymous
refuses anonymous sessions from others.

One proxy serves several overlays at once: each [[overlay]] table of the
--config file (suffix, servers, pool4; optionally pool6, identity, book)
runs another overlay on the same tun device, and names route by suffix:
"ssh home.i3" over one ring, "ssh build.lab" over another (docs/overlays.md).

Examples:
  i3net proxy --server 198.18.0.1:5610
  i3net proxy --config /etc/i3net/proxy.toml
  i3net proxy --server 198.18.0.1:5610 --server 198.18.0.2:5610 --server 198.18.0.3:5610
  i3net proxy --server 198.18.0.1:5610 --state-dir /tmp/i3 --no-resolv-conf
  i3net proxy --server 198.18.0.1:5610 --userspace --expose 22,80     # no root
  i3net status`,
		Flags: func() (*flag.FlagSet, func(context.Context, []string) error) {
			fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
			a := &proxyArgs{}
			a.addFlags(fs)
			return fs, noArgs(a.run)
		},
	})
}

type proxyArgs struct {
	state       stateFlags
	configFile  string
	servers     addrList
	upstreams   addrList
	upstreamTO  time.Duration
	listen      string
	noExt       bool
	tun         string
	mtu         int
	pool4       string
	pool6       string
	suffix      string
	mappingTO   time.Duration
	resolvConf  string
	noResolv    bool
	dnsMode     string
	onlyBook    bool
	logLevel    string
	reserved    addrFlag
	userspace   bool
	front       string
	expose      portList
	noAnon      bool          // --no-anonymous
	anonRotate  time.Duration // --anonymous-rotate; 0: the file's, or the default
	queueTarget optDuration   // --queue-target
	splitLarge  bool          // --split-large
	procs       optProcs      // --procs
	file        proxyFile     // the --config file, as loaded
	flags       *flag.FlagSet // the parsed flags: which were given (proxyhost.go)
}

// addrList is a repeatable ADDR:PORT flag.
type addrList []netip.AddrPort

func (l *addrList) String() string {
	var s []string
	for _, a := range *l {
		s = append(s, a.String())
	}
	return strings.Join(s, ",")
}

func (l *addrList) Set(v string) error {
	for _, f := range strings.Split(v, ",") {
		ap, err := netip.ParseAddrPort(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("%q is not ADDR:PORT", f)
		}
		*l = append(*l, ap)
	}
	return nil
}

func (a *proxyArgs) config() (proxy.Config, error) {
	cfg := proxy.DefaultConfig()
	if a.configFile != "" {
		f, rs, err := loadProxyFile(a.configFile)
		if err != nil {
			return cfg, err
		}
		a.file = f
		a.servers = append(f.Servers, a.servers...)
		a.upstreams = append(f.Upstreams, a.upstreams...)
		cfg.Rules, cfg.Middlebox = rs, strings.ToLower(f.Middlebox)
		a.fileAnonymity(f)
		a.fileQueue(f)
		a.fileLarge(f)
		a.fileProcs(f)
		a.fileHost(f.hostFile)
	}
	if len(a.servers) == 0 {
		return cfg, usageErrorf("no overlay server: give one with --server ADDR:PORT (or servers in the --config file)")
	}
	ident, err := identity.Load(a.state.identityPath())
	if err != nil {
		return cfg, fmt.Errorf("%w (create one with: i3net id --state-dir %s)", stateError(err), a.state.dir)
	}
	cfg.Identity = ident
	cfg.BookPath = a.state.bookPath()
	cfg.StatePath = filepath.Join(a.state.dir, "proxy-state.json")
	cfg.ControlPath = controlPath(a.state.dir)
	cfg.PublishPath = filepath.Join(a.state.dir, publish.FileName)
	cfg.Servers = a.servers
	cfg.NoExtensions = a.noExt
	if a.listen != "" {
		if cfg.ListenAddr, err = parseAddrPort("listen", a.listen); err != nil {
			return cfg, err
		}
	}
	cfg.TunName, cfg.MTU, cfg.Suffix, cfg.MappingTimeout = a.tun, a.mtu, strings.Trim(a.suffix, "."), a.mappingTO
	if cfg.Pool4, err = parsePrefix("pool4", a.pool4); err != nil {
		return cfg, err
	}
	if a.pool6 == "off" {
		cfg.Pool6 = netip.Prefix{}
	} else if cfg.Pool6, err = parsePrefix("pool6", a.pool6); err != nil {
		return cfg, err
	}
	cfg.ResolvConf = a.resolvConf
	if cfg.DNSMode, err = parseDNSMode(a.dnsMode, a.noResolv); err != nil {
		return cfg, err
	}
	if cfg.DNSMode == dns.ModeOff {
		cfg.ResolvConf = "" // userspace mode then reads no resolver file either, as before
	}
	cfg.ResolvBackup = filepath.Join(a.state.dir, "resolv.conf.i3net-backup")
	cfg.Upstreams, cfg.UpstreamTimeout = a.upstreams, a.upstreamTO
	cfg.AcceptUnknown = !a.onlyBook
	a.applyAnonymity(&cfg)
	a.applyQueue(&cfg)
	cfg.SplitLarge = a.splitLarge
	cfg.Reserved = a.reserved
	cfg.Userspace, cfg.Expose = a.userspace, a.expose
	if cfg.Logger, err = newLogger(a.logLevel); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// controlPath is where the proxy of the state directory dir listens for
// "i3net status".
func controlPath(dir string) string { return filepath.Join(dir, "proxy.sock") }

func (a *proxyArgs) run(ctx context.Context) error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("i3net proxy runs on Linux only (it needs a tun device and netlink); this is %s, "+
			"where the other commands (server, id, book, ping) work", runtime.GOOS)
	}
	cfgs, err := a.configs()
	if err != nil {
		return err
	}
	if len(cfgs) > 1 {
		return a.runOverlays(ctx, cfgs) // proxyoverlays.go
	}
	cfg := cfgs[0]
	px, err := proxy.New(cfg)
	if err != nil && !cfg.Userspace && errors.Is(err, tundev.ErrPermission) {
		cfg.Logger.Warn("no tun device can be made here (it needs root or CAP_NET_ADMIN): running in userspace mode; "+
			"programs reach the overlay through the SOCKS5 and HTTP proxy", "front", a.front, "err", err)
		cfg.Userspace = true
		px, err = proxy.New(cfg)
	}
	if err != nil {
		return err
	}
	a.applyProcs(1, cfg.Userspace, cfg.Logger)
	if cfg.Userspace {
		return a.runUserspace(ctx, px, cfg)
	}
	if len(cfg.Expose) > 0 {
		cfg.Logger.Info("--expose has no effect in tun mode: peers reach every service of this host on its virtual address")
	}
	st := px.Status()
	fmt.Fprintf(Stdout, "i3net proxy up: this host is %s (%s), DNS on %s; status: i3net status --state-dir %s\n",
		st.Self.Addr4, st.Self.ID[:8], st.Self.DNS, a.state.dir)
	return px.Run(ctx)
}

// addrFlag is a repeatable IP address flag.
type addrFlag []netip.Addr

func (l *addrFlag) String() string {
	var s []string
	for _, a := range *l {
		s = append(s, a.String())
	}
	return strings.Join(s, ",")
}

func (l *addrFlag) Set(v string) error {
	a, err := netip.ParseAddr(strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("%q is not an IP address", v)
	}
	*l = append(*l, a)
	return nil
}

// parseDNSMode reads --dns-mode; --no-resolv-conf is "off" and contradicts
// any mode but auto and off.
func parseDNSMode(s string, noResolv bool) (dns.Mode, error) {
	mode, err := dns.ParseMode(strings.ToLower(strings.TrimSpace(s)))
	if err != nil {
		return mode, usageErrorf("--dns-mode %q: choose auto, resolvconf, resolved or off", s)
	}
	if noResolv {
		if mode != dns.ModeAuto && mode != dns.ModeOff {
			return mode, usageErrorf("--no-resolv-conf leaves the resolver alone, but --dns-mode %s hooks it: give one of them", mode)
		}
		return dns.ModeOff, nil
	}
	return mode, nil
}

// addFlags defines the proxy's flags on fs, bound to a.
func (a *proxyArgs) addFlags(fs *flag.FlagSet) {
	a.flags = fs
	a.state.addDirFlag(fs)
	a.state.addBookFlag(fs)
	def := proxy.DefaultConfig()
	fs.StringVar(&a.configFile, "config", "", "configuration `FILE` (TOML): servers, upstreams, name rules ([[rule]] match/via/action/anonymous), further overlays ([[overlay]] suffix/servers/pool4…), "+
		"this overlay's tun, mtu, pool4, pool6, suffix, listen, dns_mode, log_level, only_book, mapping_timeout (as their flags); flags add to it, and a flag given wins over its key")
	fs.Var(&a.servers, "server", "overlay server `ADDR:PORT` (repeat for several: the nearest is used, the others on failure)")
	fs.StringVar(&a.listen, "listen", "", "UDP `ADDR:PORT` of the overlay client (default: any free port)")
	fs.BoolVar(&a.noExt, "no-extensions", false, "speak only the original 2004 i3 protocol to the servers (by default i3net's extensions go only to servers that answer them); the proxy's own public trigger is signed, an extension, so it then fails to start")
	fs.StringVar(&a.tun, "tun", def.TunName, "tun device `NAME`")
	intVar(fs, &a.mtu, "mtu", def.MTU, "tun MTU: the path MTU less the overlay's headers")
	fs.StringVar(&a.pool4, "pool4", def.Pool4.String(), "IPv4 virtual address `PREFIX`")
	fs.StringVar(&a.pool6, "pool6", def.Pool6.String(), "IPv6 virtual address `PREFIX` (\"off\" disables IPv6)")
	fs.StringVar(&a.suffix, "suffix", def.Suffix, "the overlay's DNS `SUFFIX`")
	durationVar(fs, &a.mappingTO, "mapping-timeout", def.MappingTimeout, "forget a peer's mapping after this long unused (the paper's TO)")
	fs.StringVar(&a.resolvConf, "resolv-conf", def.ResolvConf, "resolver `FILE` to point at the proxy while it runs")
	fs.BoolVar(&a.noResolv, "no-resolv-conf", false, "leave the resolver alone (DNS then only on the service address); as --dns-mode off")
	fs.StringVar(&a.dnsMode, "dns-mode", def.DNSMode.String(), "how to hook the host's resolver: `MODE` auto (resolved where systemd-resolved manages resolv.conf, else resolvconf), resolvconf (point --resolv-conf at the proxy), resolved (register ~SUFFIX on the tun link with systemd-resolved over D-Bus) or off")
	fs.Var(&a.upstreams, "upstream", "resolver `ADDR:PORT` for other names (default: those of the resolv.conf)")
	durationVar(fs, &a.upstreamTO, "upstream-timeout", def.UpstreamTimeout, "answer SERVFAIL when no upstream resolver answered within this long (all of them together)")
	fs.BoolVar(&a.onlyBook, "only-book", false, "accept sessions only from hosts in the address book")
	fs.Var(&a.reserved, "reserve-addr", "never give virtual `ADDR` to a peer: forces a collision and header rewriting, for tests (repeatable)")
	fs.StringVar(&a.logLevel, "log-level", "info", "`LEVEL` of logs: debug, info, warn, error")
	fs.BoolVar(&a.userspace, "userspace", false, "run without root: a network stack in the process instead of a tun device; programs use the SOCKS5/HTTP proxy on --front (chosen by itself when no tun device can be made)")
	fs.StringVar(&a.front, "front", defaultFront, "userspace mode: the SOCKS5 and HTTP proxy's `ADDR:PORT` (loopback: only this host's programs)")
	fs.Var(&a.expose, "expose", "userspace mode: TCP `PORTS` of this host's loopback that peers reach on its virtual address (comma-separated, e.g. 22,80)")
	a.addAnonFlags(fs)
	a.addQueueFlags(fs)
	a.addLargeFlags(fs)
	a.addProcsFlags(fs)
}
