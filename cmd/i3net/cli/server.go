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
		"[--metrics ADDR] [--log-level LEVEL] [--allow-unsigned-public]",
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
Durations are strings such as "30s"; rates are per second and per source.
An unknown key or a bad value is an error naming the file, the line and the key.

  # /etc/i3net/server.toml
  listen_addr = "0.0.0.0:5610"
  public_addr = "198.18.0.1:5610"   # what hosts are told to use (NAT, port forward)
  trigger_ttl = "30s"
  insert_rate = 100                 # insertions per second per source address
  insert_burst = 200
  max_triggers = 1000000

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
`,
	Order: 10,
	Flags: func() (*flag.FlagSet, func(ctx context.Context, args []string) error) {
		var a serverArgs
		fs := flag.NewFlagSet("server", flag.ContinueOnError)
		fs.StringVar(&a.listen, "listen", "", "bind the UDP `ADDR` (IP:PORT; default 0.0.0.0:5610, [::]:5610 for IPv6)")
		fs.StringVar(&a.advertise, "advertise", "", "tell hosts to reach this server at `ADDR` (default: the address they used)")
		fs.DurationVar(&a.ttl, "trigger-ttl", 0, "trigger lifetime `D` without refresh (default 30s)")
		fs.StringVar(&a.config, "config", "", "read the TOML configuration `FILE`")
		fs.StringVar(&a.metrics, "metrics", "", "serve Prometheus metrics over HTTP on `ADDR` (host:port), at /metrics")
		fs.StringVar(&a.logLevel, "log-level", "info", "log `LEVEL`: debug, info, warn or error")
		fs.BoolVar(&a.allowUnsigned, "allow-unsigned-public", false, "accept public-id insertions without a signature (original clients)")
		return fs, func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unexpected argument %q", args[0])
			}
			a.set = map[string]bool{}
			fs.Visit(func(f *flag.Flag) { a.set[f.Name] = true })
			return runServer(ctx, a)
		}
	},
}

func init() { register(serverCmd) }

type serverArgs struct {
	listen, advertise, config, metrics, logLevel string
	ttl                                          time.Duration
	allowUnsigned                                bool
	set                                          map[string]bool // flags given on the command line
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
	return cfg, nil
}

func runServer(ctx context.Context, a serverArgs) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(a.logLevel)); err != nil {
		return usageErrorf("--log-level %q: want debug, info, warn or error", a.logLevel)
	}
	cfg, err := serverConfig(a)
	if err != nil {
		return err
	}
	cfg.Logger = slog.New(slog.NewTextHandler(Stderr, &slog.HandlerOptions{Level: level}))
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	defer srv.Close()

	if a.metrics != "" {
		stop, err := serveMetrics(srv, a.metrics, cfg.Logger)
		if err != nil {
			return err
		}
		defer stop()
	}
	fmt.Fprintf(Stdout, "i3net server listening on %v\n", srv.Addr())
	return srv.Run(ctx)
}

// serveMetrics serves the server's counters, and the Go runtime's and the
// process's, on addr at /metrics; stop shuts the HTTP server down.
func serveMetrics(srv *server.Server, addr string, log *slog.Logger) (stop func(), err error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(srv.Collector(), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
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
