package cli

import (
	"context"
	"flag"
	"fmt"
	"runtime"

	"github.com/i3net/i3net/ingress"
)

func init() {
	register(&Command{
		Name:       "ingress",
		Order:      47,
		ShortUsage: "i3net ingress --config FILE [flags]",
		ShortHelp:  "Run an IP-to-i3 ingress: hosts that run nothing of i3net reach published overlay services by name",
		LongHelp: `
The ingress lets programs on ordinary hosts (a phone, a friend's laptop, a
monitoring system) reach services that overlay hosts publish, by a DNS name,
with no i3net on the client (paper §4.4.2). It is the authoritative DNS server
of a zone delegated to it ("i3.example.net": the parent zone has NS and glue
records naming this host) and answers home.i3.example.net with one of its
waypoint addresses, TTL 0. A connection to a waypoint goes to the right overlay
host by its HTTP Host header (http_ports) or TLS server name (tls_ports: TLS is
never terminated, the certificate stays on the overlay host), and on any other
port by the paper's heuristic: the first connection to the waypoint handed out
in the last second (heuristic_window). docs/ingress.md says what its limits are.

Only what overlay hosts publish is reachable: a host in this ingress's address
book ("i3net book add home KEY --state-dir DIR") publishes its services under
its book name with "i3net publish add" on its side; anything else is refused.
The overlay host learns each client's real address (its status and log, or a
PROXY protocol v2 header for services that ask). New connections and DNS
queries are rate limited per client address.

The configuration file (TOML) holds: servers, zone, nameserver (name,
addresses), dns_listen, waypoints, http_ports, tls_ports, heuristic_window,
binding_timeout, max_bindings, client_rate, client_burst, max_conns, dns_rate, dns_burst,
dial_timeout, sniff_timeout, publication_life, tun, mtu, pool4, pool6,
mapping_timeout (docs/ingress.md). --metrics serves its counters for
Prometheus (i3net_ingress_conns_rate_limited_total, ...). It needs Linux and root (or CAP_NET_ADMIN)
for its proxy's tun device, and port 53 and the waypoints' ports.

Examples:
  i3net id --state-dir /var/lib/i3net-ingress
  i3net book add home i3pk1... --state-dir /var/lib/i3net-ingress
  i3net ingress --state-dir /var/lib/i3net-ingress --config /etc/i3net/ingress.toml
  i3net status --state-dir /var/lib/i3net-ingress`,
		Flags: func() (*flag.FlagSet, func(context.Context, []string) error) {
			fs := flag.NewFlagSet("ingress", flag.ContinueOnError)
			a := &ingressArgs{}
			a.addFlags(fs, "ingress")
			fs.StringVar(&a.metrics, "metrics", "", "serve Prometheus metrics over HTTP on `ADDR` (host:port), at /metrics")
			return fs, noArgs(a.run)
		},
	})
}

type ingressArgs struct {
	daemonArgs
	metrics string
}

func (a *ingressArgs) run(ctx context.Context) error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("i3net ingress runs on Linux only (its proxy needs a tun device); this is %s", runtime.GOOS)
	}
	if a.config == "" {
		return usageErrorf("no configuration file: give --config FILE (docs/ingress.md shows one)")
	}
	icfg, err := ingress.LoadConfig(a.config)
	if err != nil {
		return err
	}
	pcfg, err := a.proxyConfig("ingress")
	if err != nil {
		return err
	}
	if len(pcfg.Servers) == 0 && len(icfg.Servers) == 0 {
		return usageErrorf("no overlay server: set servers in %s or give --server ADDR:PORT", a.config)
	}
	g, err := ingress.New(icfg, pcfg)
	if err != nil {
		return err
	}
	if a.metrics != "" {
		stop, err := serveMetrics(g.Collector(), a.metrics, pcfg.Logger)
		if err != nil {
			g.Close()
			return err
		}
		defer stop()
	}
	st := g.Proxy().Status()
	fmt.Fprintf(Stdout, "i3net ingress up: id %s, zone %s, DNS on %v, waypoints %v; publishers: i3net book list --state-dir %s; status: i3net status --state-dir %s\n",
		st.Self.ID[:8], icfg.Zone, icfg.DNSListen, icfg.Waypoints, a.state.dir, a.state.dir)
	return g.Run(ctx)
}
