package cli

import (
	"context"
	"flag"
	"fmt"
	"runtime"

	"github.com/i3net/i3net/gateway"
)

func init() {
	register(&Command{
		Name:       "gateway",
		Order:      45,
		ShortUsage: "i3net gateway --config FILE [flags]",
		ShortHelp:  "Run an i3-to-IP gateway: overlay hosts reach this network's ordinary hosts by name",
		LongHelp: `
The gateway runs on a host inside a network (an intranet, a lab) and carries the
flows of overlay hosts on to its ordinary hosts, which run nothing of i3net
(paper §4.4.1, §6.2). A client's proxy sends names its rules give to the gateway
("*.corp.example → office-gw"); the gateway resolves them with its own
resolvers, answers only for the names and addresses it serves, and forwards the
client's packets with the kernel's NAT (nftables: masquerade, conntrack and its
FTP helper; ICMP echo works too). Only replies come back: the network cannot
open connections to clients.

Only the keys of the gateway's address book may use it (the allowlist: add
clients with "i3net book add NAME KEY --state-dir DIR"); anybody else is told
at once that it is refused. Several gateways sharing one identity (copy
identity.pem) with different "anycast" names serve one name: when one dies,
clients move to another.

The configuration file (TOML) holds: servers, serve_names, serve_cidrs,
resolvers, anycast, tun, mtu, pool4, pool6, resolver_timeout, mapping_timeout
(docs/gateway.md). Flags given here override it. It needs Linux and root (or
CAP_NET_ADMIN) for the tun device and the NAT rules.

Examples:
  i3net id --state-dir /var/lib/i3net-gw
  i3net book add alice i3pk1... --state-dir /var/lib/i3net-gw
  i3net gateway --state-dir /var/lib/i3net-gw --config /etc/i3net/gateway.toml
  i3net status --state-dir /var/lib/i3net-gw`,
		Flags: func() (*flag.FlagSet, func(context.Context, []string) error) {
			fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
			a := &gatewayArgs{}
			a.addFlags(fs, "gateway")
			return fs, noArgs(a.run)
		},
	})
}

type gatewayArgs struct{ daemonArgs }

func (a *gatewayArgs) run(ctx context.Context) error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("i3net gateway runs on Linux only (it needs a tun device and nftables); this is %s", runtime.GOOS)
	}
	if a.config == "" {
		return usageErrorf("no configuration file: give --config FILE (docs/gateway.md shows one)")
	}
	gcfg, err := gateway.LoadConfig(a.config)
	if err != nil {
		return err
	}
	pcfg, err := a.proxyConfig("gateway")
	if err != nil {
		return err
	}
	if len(pcfg.Servers) == 0 && len(gcfg.Servers) == 0 {
		return usageErrorf("no overlay server: set servers in %s or give --server ADDR:PORT", a.config)
	}
	g, err := gateway.New(gcfg, pcfg)
	if err != nil {
		return err
	}
	st := g.Proxy().Status()
	fmt.Fprintf(Stdout, "i3net gateway up: id %s, serving %v; clients: i3net book list --state-dir %s; status: i3net status --state-dir %s\n",
		st.Self.ID[:8], gcfg.ServeCIDRs, a.state.dir, a.state.dir)
	return g.Run(ctx)
}
