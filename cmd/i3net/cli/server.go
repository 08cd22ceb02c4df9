package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/i3net/i3net/server"
)

var serverCmd = &Command{
	Name: "server",
	ShortUsage: "i3net server [--listen ADDR] [--advertise ADDR] [--trigger-ttl D] [--config FILE] " +
		"[--metrics ADDR] [--log-level LEVEL] [--allow-unsigned-public] " +
		"[--ring] [--join ADDR]... [--gossip ADDR] [--gossip-advertise ADDR] [--ring-position HEX] " +
		"[--replicas N] [--ring-preset default|lan] [--ring-key-file FILE]",
	ShortHelp: "Run an overlay server: hold triggers, forward packets",
	LongHelp: `
Server runs one i3 overlay server on a UDP port. Hosts insert triggers (id →
address, or id → stack of ids) and send packets to ids; the server forwards each
packet to the targets of the triggers that match its id (unicast, multicast,
anycast, stacks of ids). Triggers live --trigger-ttl after their last refresh.
Insertions are challenged: the server sends a nonce to the trigger's target,
which must echo it, so nobody can point a trigger at an address that did not ask
for it. The original Berkeley i3 clients and proxies work with it.

When the socket is bound, it prints "i3net server listening on ADDR" and serves
until interrupted (SIGINT or SIGTERM). It logs a few lines to stderr; packets are
counted, never logged: --metrics serves the counters for Prometheus.

Configuration: the defaults, then the TOML file given with --config, then the
flags. The file's keys (documented at the server package's Config):
` + wrapWords("  ", server.ConfigKeys(), 80) + `
Durations are strings with a unit, such as "30s" or "500ms" (a bare number is
an error); rates are per second and per source.
An unknown key or a bad value is an error naming the file, the line and the key.

  # /etc/i3net/server.toml
  listen_addr = "0.0.0.0:5610"
  public_addr = "198.18.0.1:5610"   # what hosts are told to use (NAT, port forward)
  trigger_ttl = "30s"
  insert_rate = 100                 # insertions per second per source address
  insert_burst = 200
  max_triggers = 1000000

Many servers, one overlay: servers that join one another share the ids
between them (paper §2). Each has a position on a ring of 128-bit values
and owns the ids whose first 128 bits fall between its predecessor's
position and its own. A packet that reaches a server for an id another owns
goes there in one hop, and its sender gets a cache hint, so that its next
packets go straight to the owner. Each trigger is copied to the next
--replicas servers of the ring: when a server dies, the next one serves its
triggers as soon as the others notice (about 1 s with --ring-preset lan,
5 s with default). Servers gossip (UDP and TCP, one port) with
hashicorp/memberlist; --join names the gossip address of any server already
in the overlay, and one that answers is enough. A server in a ring needs a
specific data address (--listen with an IP, or --advertise): the others
recognise its datagrams by it. --ring, --gossip or --join turns the ring on;
the first server of an overlay joins nobody. --join replaces the file's join
list; the other flags replace the file's key of the same name.

On an open network, give every server of a ring the same secret with
--ring-key-file (32 random bytes in base64: head -c 32 /dev/urandom | base64
> ring.key): gossip is then encrypted and only holders of the key join, and
servers take copies of triggers only from datagrams that prove the key.
Without it, a server trusts any datagram from a member's address, which
whoever can spoof that address can send.

Original clients pick "private" ids with the public bit set about half of the
time and cannot sign: serve them with --allow-unsigned-public (then anyone may
insert a trigger on a public id).

Examples:

  # A server on the standard port, all IPv4 addresses
  i3net server

  # On loopback only, with Prometheus metrics
  i3net server --listen 127.0.0.1:5610 --metrics 127.0.0.1:9610

  # Behind a port forward, for original i3 clients, from a configuration file
  i3net server --config /etc/i3net/server.toml --advertise 198.18.0.1:5610 --allow-unsigned-public

  # Three servers, one overlay: the first starts it, the others join it
  # (gossip on the data port + 1 unless --gossip says otherwise)
  i3net server --listen 198.18.0.1:5610 --ring
  i3net server --listen 198.18.0.2:5610 --join 198.18.0.1:5611
  i3net server --listen 198.18.0.3:5610 --join 198.18.0.1:5611,198.18.0.2:5611

  # Behind a NAT that forwards UDP and TCP 5611 and UDP 5610 to this host
  i3net server --listen 10.0.0.5:5610 --advertise 203.0.113.7:5610 \
      --gossip 10.0.0.5:5611 --gossip-advertise 203.0.113.7:5611 --join 198.18.0.1:5611
`,
	Order: 10,
	Flags: func() (*flag.FlagSet, func(ctx context.Context, args []string) error) {
		a := &serverArgs{}
		fs := a.flagSet()
		return fs, noArgs(func(ctx context.Context) error {
			a.noteSet(fs)
			return runServer(ctx, *a)
		})
	},
}

func init() { register(serverCmd) }

type serverArgs struct {
	listen, advertise, config, metrics, logLevel string
	ttl                                          time.Duration
	allowUnsigned                                bool

	// The ring of servers.
	ring                                  bool
	join                                  joinList
	gossip, gossipAdvertise, ringPosition string
	ringPreset, ringKeyFile               string
	replicas                              int

	set map[string]bool // flags given on the command line
}

// flagSet returns the command's flags, bound to a.
func (a *serverArgs) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.StringVar(&a.listen, "listen", "", "bind the UDP `ADDR` (IP:PORT; default 0.0.0.0:5610, [::]:5610 for IPv6)")
	fs.StringVar(&a.advertise, "advertise", "", "tell hosts to reach this server at `ADDR` (default: the address they used)")
	durationVar(fs, &a.ttl, "trigger-ttl", 0, "trigger lifetime `D` without refresh, with a unit (default 30s)")
	fs.StringVar(&a.config, "config", "", "read the TOML configuration `FILE`")
	fs.StringVar(&a.metrics, "metrics", "", "serve Prometheus metrics over HTTP on `ADDR` (host:port), at /metrics")
	fs.StringVar(&a.logLevel, "log-level", "info", "log `LEVEL`: debug, info, warn or error")
	fs.BoolVar(&a.allowUnsigned, "allow-unsigned-public", false, "accept public-id insertions without a signature (original clients)")
	fs.BoolVar(&a.ring, "ring", false, "be one server of a ring of servers (implied by --gossip and --join)")
	fs.Var(&a.join, "join", "join the overlay through the server gossiping at `ADDR` (host:port; repeat, or separate with commas)")
	fs.StringVar(&a.gossip, "gossip", "", "gossip with the other servers on `ADDR` (IP:PORT, UDP and TCP; default: the data IP, data port + 1)")
	fs.StringVar(&a.gossipAdvertise, "gossip-advertise", "", "tell the other servers to gossip with this one at `ADDR` (IP:PORT; behind a NAT)")
	fs.StringVar(&a.ringPosition, "ring-position", "", "place this server at ring position `HEX` (32 hex digits; default: a hash of the data address)")
	intVar(fs, &a.replicas, "replicas", 0, "copy each trigger to the next `N` servers of the ring (0 to 8; default 1)")
	fs.StringVar(&a.ringPreset, "ring-preset", "", "failure detector `PRESET`: default (a dead server noticed in ~5 s) or lan (~1 s, one fast network)")
	fs.StringVar(&a.ringKeyFile, "ring-key-file", "", "read the ring's shared secret from `FILE` (32 bytes in base64): encrypted gossip, authenticated replication")
	return fs
}

// noteSet records which flags the command line gave: only those override
// the configuration file.
func (a *serverArgs) noteSet(fs *flag.FlagSet) {
	a.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { a.set[f.Name] = true })
}

// joinList is the repeatable --join flag: gossip addresses (host:port), also
// accepted as one comma-separated list; server.New checks them.
type joinList []string

func (l *joinList) String() string { return strings.Join(*l, ",") }

func (l *joinList) Set(v string) error {
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			*l = append(*l, f)
		}
	}
	return nil
}

// flagOfKey names the flag that sets a configuration key, for errors about a
// value that came from the command line.
var flagOfKey = map[string]string{
	"listen_addr": "listen", "public_addr": "advertise", "trigger_ttl": "trigger-ttl",
	"join": "join", "gossip_addr": "gossip", "gossip_advertise": "gossip-advertise",
	"ring_position": "ring-position", "replicas": "replicas", "ring_preset": "ring-preset",
	"ring_key_file": "ring-key-file",
}

// serverConfig builds the server's configuration: defaults, file, flags.
func serverConfig(a serverArgs) (server.Config, error) {
	cfg := server.DefaultConfig()
	if a.config != "" {
		c, err := server.LoadConfig(a.config, cfg)
		if err != nil {
			return cfg, err
		}
		cfg = c
	}
	if a.set["listen"] {
		cfg.ListenAddr = a.listen
	}
	if a.set["advertise"] {
		ap, err := netip.ParseAddrPort(a.advertise)
		if err != nil {
			return cfg, usageErrorf("--advertise %q: want IP:PORT", a.advertise)
		}
		cfg.PublicAddr = ap
	}
	if a.set["trigger-ttl"] {
		cfg.TriggerTTL = a.ttl
	}
	if a.allowUnsigned {
		cfg.RequireSignedPublic = false
	}
	return cfg, ringFlags(&cfg, a)
}

// ringFlags applies the ring's flags to cfg. Only --gossip-advertise is
// parsed here (the others are text in Config); server.New checks the values,
// and flagError names the flag of a value it refuses.
func ringFlags(cfg *server.Config, a serverArgs) error {
	if a.set["ring"] {
		cfg.Ring = a.ring
	}
	if a.set["join"] {
		cfg.Join = slices.Clone(a.join)
	}
	if a.set["gossip"] {
		cfg.GossipAddr = a.gossip
	}
	if a.set["gossip-advertise"] {
		ap, err := netip.ParseAddrPort(a.gossipAdvertise)
		if err != nil {
			return usageErrorf("--gossip-advertise %q: want IP:PORT, e.g. 203.0.113.7:5611", a.gossipAdvertise)
		}
		cfg.GossipAdvertise = ap
	}
	if a.set["ring-position"] {
		cfg.RingPosition = a.ringPosition
	}
	if a.set["ring-preset"] {
		cfg.RingPreset = a.ringPreset
	}
	if a.set["replicas"] {
		cfg.Replicas = a.replicas
	}
	if a.set["ring-key-file"] {
		cfg.RingKey, cfg.RingKeyFile = "", a.ringKeyFile
	}
	return nil
}

// flagError names the flag behind a configuration error when the value came
// from the command line.
func flagError(err error, set map[string]bool) error {
	var ce *server.ConfigError
	if errors.As(err, &ce) {
		if f := flagOfKey[ce.Key]; f != "" && set[f] {
			return usageErrorf("--%s %v: %s", f, ce.Value, ce.Msg)
		}
	}
	return err
}

func runServer(ctx context.Context, a serverArgs) error {
	log, err := newLogger(a.logLevel)
	if err != nil {
		return err
	}
	cfg, err := serverConfig(a)
	if err != nil {
		return err
	}
	cfg.Logger = log
	srv, err := server.New(cfg)
	if err != nil {
		return flagError(err, a.set)
	}
	defer srv.Close()

	if a.metrics != "" {
		stop, err := serveMetrics(srv.Collector(), a.metrics, cfg.Logger)
		if err != nil {
			return err
		}
		defer stop()
	}
	fmt.Fprintf(Stdout, "i3net server listening on %v\n", srv.Addr())
	return srv.Run(ctx)
}

// serveMetrics serves a daemon's counters (c), and the Go runtime's and the
// process's, on addr at /metrics; stop shuts the HTTP server down.
func serveMetrics(c prometheus.Collector, addr string, log *slog.Logger) (stop func(), err error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, usageErrorf("--metrics %q: want HOST:PORT, e.g. 127.0.0.1:9610", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w (change --metrics)", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server failed", "err", err)
		}
	}()
	log.Info("metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return func() {
		hs.Close()
		<-done
	}, nil
}

// wrapWords joins words with ", " into lines of at most width columns, each
// starting with indent.
func wrapWords(indent string, words []string, width int) string {
	var b strings.Builder
	line := indent
	for i, w := range words {
		if i < len(words)-1 {
			w += ","
		}
		if len(line) > len(indent) && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += w
	}
	return b.String() + line
}
