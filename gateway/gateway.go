package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/i3net/i3net/gateway/names"
	"github.com/i3net/i3net/gateway/nat"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/dns"
)

// Gateway is a running i3-to-IP gateway.
type Gateway struct {
	cfg   Config
	px    *proxy.Proxy
	rules *nat.Rules
	names *names.Answerer
	ups   []netip.AddrPort
}

// New sets the gateway up: the kernel's forwarding and NAT, the resolver and
// the proxy in gateway mode (pcfg: identity, address book as the allowlist,
// state and control paths, logger). On an error nothing stays set up.
func New(cfg Config, pcfg proxy.Config) (*Gateway, error) {
	g := &Gateway{cfg: cfg}
	var err error
	if g.ups, err = cfg.resolvers(); err != nil {
		return nil, err
	}
	fwd, err := dns.NewForwarder(dns.ForwarderConfig{Upstreams: g.ups, Budget: cfg.ResolverTimeout})
	if err != nil {
		return nil, fmt.Errorf("gateway: resolvers: %w", err)
	}
	if g.names, err = names.New(names.Config{Names: cfg.names, Serve: cfg.ServeCIDRs, Forwarder: fwd}); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if g.rules, err = nat.Install(nat.Config{Tun: cfg.Tun, Pools: pools(cfg), Serve: cfg.ServeCIDRs}); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if g.px, err = proxy.New(g.proxyConfig(pcfg)); err != nil {
		return nil, errors.Join(err, g.rules.Close())
	}
	return g, nil
}

// pools returns the client pools of cfg that are set.
func pools(cfg Config) []netip.Prefix {
	ps := []netip.Prefix{cfg.Pool4}
	if cfg.Pool6.IsValid() {
		ps = append(ps, cfg.Pool6)
	}
	return ps
}

// proxyConfig returns pcfg completed with the gateway's settings.
func (g *Gateway) proxyConfig(pcfg proxy.Config) proxy.Config {
	c := g.cfg
	c.RoleConfig.Apply(&pcfg)
	pcfg.UpstreamTimeout = c.ResolverTimeout
	pcfg.AcceptAnonymous = c.AllowAnonymous
	pcfg.Gateway = &proxy.GatewayMode{
		Serve:    c.ServeCIDRs,
		Answer:   g.names.Answer,
		Anycast:  c.Anycast,
		Counters: g.counters,
		Describe: g.describe,
	}
	return pcfg
}

// Proxy returns the gateway's proxy (for its status).
func (g *Gateway) Proxy() *proxy.Proxy { return g.px }

// Run carries the clients' flows until ctx ends, then turns forwarding off
// and leaves the NAT table, whose chains keep the kernel translating the
// flows' existing NAT bindings, so a gateway started again carries them on
// (nat.Rules.Close).
func (g *Gateway) Run(ctx context.Context) error {
	err := g.px.Run(ctx)
	return errors.Join(err, g.rules.Close())
}

// counters returns the names' and the NAT's counters, for the status.
func (g *Gateway) counters() map[string]uint64 {
	s := g.names.Stats()
	m := map[string]uint64{
		"names_queries": s.Queries, "names_answered": s.Answered, "names_nxdomain": s.NXDomain,
		"names_servfail": s.ServFail, "names_refused_name": s.RefusedName, "names_refused_addr": s.RefusedAddr,
	}
	if c, err := g.rules.Counters(); err == nil {
		m["nat_served"], m["nat_refused"], m["nat_unsolicited"] = c.Served, c.Refused, c.Unsolicited
	}
	return m
}

// describe says what the gateway serves, for the status.
func (g *Gateway) describe() proxy.GatewayStatus {
	st := proxy.GatewayStatus{ServeNames: g.cfg.ServeNames}
	for _, p := range g.cfg.ServeCIDRs {
		st.ServeCIDRs = append(st.ServeCIDRs, p.String())
	}
	for _, u := range g.ups {
		st.Resolvers = append(st.Resolvers, u.String())
	}
	return st
}
