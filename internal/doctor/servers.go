package doctor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/id"
)

// ServerOptions tune CheckServers.
type ServerOptions struct {
	// Timeout bounds each ping and the trigger's insertion (default 2 s).
	Timeout time.Duration
	// NoExtensions speaks only the original 2004 protocol (--no-extensions).
	NoExtensions bool
}

// CheckServers pings each server (an echo of its socket), then inserts a
// trigger on a random id through the nearest one that answered and pings
// through it: that proves insertions work and tells whether a NAT is in
// front of this host (the "nat" result). The trigger is removed after.
func CheckServers(ctx context.Context, servers []netip.AddrPort, opt ServerOptions) []Result {
	if len(servers) == 0 {
		return []Result{fail("servers", "no overlay server configured",
			"give one with --server ADDR:PORT or in the --config file (servers = [...])")}
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 2 * time.Second
	}
	cfg := client.DefaultConfig()
	cfg.Servers, cfg.NoExtensions = servers, opt.NoExtensions
	cfg.ListInterval, cfg.ProbeInterval = 0, 0 // only the servers named
	cfg.Logger = slog.New(slog.DiscardHandler)
	c, err := client.New(cfg)
	if err != nil {
		return []Result{fail("servers", "cannot open an overlay client: "+err.Error(), "check the local UDP sockets (firewall, sandbox)")}
	}
	defer c.Close()
	var out []Result
	answered := 0
	for _, s := range servers {
		r := pingServer(ctx, c, s, opt.Timeout)
		if r.Level == OK {
			answered++
		}
		out = append(out, r)
	}
	if answered == 0 {
		return append(out, warn("nat", "unknown: no server answered", "make a server reachable first"))
	}
	return append(out, checkTrigger(ctx, c, opt.Timeout))
}

// pingServer pings server's socket once.
func pingServer(ctx context.Context, c *client.Client, server netip.AddrPort, timeout time.Duration) Result {
	name := "server " + server.String()
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	p, err := c.PingServer(pctx, server, 32)
	if err != nil {
		detail := err.Error()
		if errors.Is(err, client.ErrNoAnswer) || pctx.Err() != nil {
			detail = fmt.Sprintf("no echo within %v", timeout)
		}
		return fail(name, detail, "is `i3net server` running there, and does UDP to that port pass the firewalls? "+
			"(an original 2004 server never answers this echo: try i3net ping --server "+server.String()+")")
	}
	return ok(name, fmt.Sprintf("answers, rtt %.3f ms", float64(p.RTT)/float64(time.Millisecond)))
}

// checkTrigger inserts a trigger on a random id pointing at this client,
// pings through it and reports what the servers' answers told of a NAT.
func checkTrigger(ctx context.Context, c *client.Client, timeout time.Duration) Result {
	x := id.Random()
	ictx, cancel := context.WithTimeout(ctx, timeout)
	h, err := c.Insert(ictx, client.Trigger{ID: x})
	cancel()
	if err != nil {
		return fail("nat", fmt.Sprintf("unknown: inserting a trigger through %v failed: %v", c.FirstHop(), err),
			"the server answers pings but not insertions: check its logs, or its version (--no-extensions for an original server)")
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = h.Remove(rctx)
	}()
	pctx, cancel := context.WithTimeout(ctx, timeout)
	_, perr := c.PingID(pctx, x, 32)
	cancel()
	return natResult(c.NAT(), c.LocalAddr(), h.State().Server, perr)
}

// natResult describes what the client learned of a NAT; pingErr is the
// outcome of a ping through the trigger held by server.
func natResult(n client.NATInfo, local, server netip.AddrPort, pingErr error) Result {
	if pingErr != nil {
		return fail("nat", fmt.Sprintf("a trigger at %v took, but a packet through it did not come back: %v", server, pingErr),
			"a NAT or firewall drops the server's packets to this host: allow UDP from the server")
	}
	switch {
	case !n.Known:
		return warn("nat", "unknown: the server's answers did not say what address it sees", "")
	case n.Behind:
		return ok("nat", fmt.Sprintf("behind a NAT: this host (%v) is seen as %v; packets through a trigger come back", local, n.Observed))
	}
	return ok("nat", fmt.Sprintf("no NAT: the servers see %v; packets through a trigger come back", n.Observed))
}
