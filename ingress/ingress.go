package ingress

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/i3net/i3net/ingress/heuristic"
	"github.com/i3net/i3net/ingress/limit"
	"github.com/i3net/i3net/ingress/zone"
	"github.com/i3net/i3net/internal/clock"
	"github.com/i3net/i3net/proxy"
)

// Ingress is a running ingress: its DNS server, its waypoints' listeners and
// its proxy.
type Ingress struct {
	cfg   Config
	log   *slog.Logger
	px    *proxy.Proxy
	zone  *zone.Zone
	dns   *zone.Server
	table *heuristic.Table
	conns *limit.Limiter
	dnsRL *limit.Limiter
	pubs  *publications
	// savePath is where the publications are kept across restarts.
	savePath string
	ls       *listeners
	stats    counters

	changed chan struct{} // the publications changed: open or close listeners
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// New sets the ingress up: the proxy in ingress mode (pcfg: identity,
// address book, state and control paths, logger), the heuristic, the limits,
// the DNS server and the listeners of the HTTP and TLS ports on every
// waypoint. On an error nothing stays set up.
func New(cfg Config, pcfg proxy.Config) (*Ingress, error) {
	g := &Ingress{cfg: cfg, log: pcfg.Logger, changed: make(chan struct{}, 1)}
	if g.log == nil {
		g.log = slog.Default()
	}
	g.log = g.log.With("role", "ingress")
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.pubs = &publications{clk: clock.Real{}, life: cfg.PublicationLife, zone: cfg.Zone, changed: g.signalChanged}
	if pcfg.StatePath != "" {
		g.savePath = filepath.Join(filepath.Dir(pcfg.StatePath), "ingress-publications.json")
	}
	if err := g.pubs.load(g.savePath); err != nil {
		return nil, err
	}
	var err error
	if err = g.openParts(); err != nil {
		return nil, err
	}
	if g.px, err = proxy.New(g.proxyConfig(pcfg)); err != nil {
		return nil, err
	}
	if err = g.openListeners(g.pubs.ports()); err != nil {
		return nil, errors.Join(err, g.px.Close())
	}
	return g, nil
}

// openParts makes the heuristic's table, the limits and the zone.
func (g *Ingress) openParts() error {
	c := g.cfg
	var err error
	if g.table, err = heuristic.New(heuristic.Config{Waypoints: c.Waypoints, Window: c.HeuristicWindow,
		BindingTimeout: c.BindingTimeout, MaxBindings: c.MaxBindings}); err != nil {
		return fmt.Errorf("ingress: %w", err)
	}
	if g.conns, err = limit.New(limit.Config{Rate: c.ClientRate, Burst: c.ClientBurst}); err != nil {
		return fmt.Errorf("ingress: client_rate: %w", err)
	}
	if g.dnsRL, err = limit.New(limit.Config{Rate: c.DNSRate, Burst: c.DNSBurst}); err != nil {
		return fmt.Errorf("ingress: dns_rate: %w", err)
	}
	var ns []zone.NS
	for _, n := range c.Nameserver {
		ns = append(ns, zone.NS{Name: n.Name, Addrs: n.Addresses})
	}
	g.zone, err = zone.New(zone.Config{Origin: c.Zone, Nameservers: ns, Hostmaster: c.Hostmaster,
		Names: names{g}, Allow: g.dnsRL.Allow, Logger: g.log})
	if err != nil {
		return fmt.Errorf("ingress: zone: %w", err)
	}
	return nil
}

// openListeners starts the DNS server and the waypoints' listeners.
func (g *Ingress) openListeners(published []uint16) error {
	g.ls = newListeners(g)
	if err := g.ls.sync(published); err != nil {
		g.ls.closeAll()
		return err
	}
	var err error
	if g.dns, err = g.zone.Listen(g.cfg.DNSListen); err != nil {
		g.ls.closeAll()
		return fmt.Errorf("ingress: dns_listen: %w", err)
	}
	return nil
}

// proxyConfig returns pcfg completed with the ingress's settings.
func (g *Ingress) proxyConfig(pcfg proxy.Config) proxy.Config {
	g.cfg.RoleConfig.Apply(&pcfg)
	pcfg.Ingress = &proxy.IngressMode{Offer: g.pubs.offer, Describe: g.describe}
	return pcfg
}

// Proxy returns the ingress's proxy (for its status).
func (g *Ingress) Proxy() *proxy.Proxy { return g.px }

// Run serves until ctx ends, then closes everything.
func (g *Ingress) Run(ctx context.Context) error {
	g.wg.Add(1)
	go g.maintain()
	g.log.Info("ingress up", "zone", g.cfg.Zone, "dns", g.cfg.DNSListen, "waypoints", g.cfg.Waypoints)
	err := g.px.Run(ctx)
	g.cancel()
	g.ls.closeAll()
	err = errors.Join(err, g.dns.Close())
	g.wg.Wait()
	return err
}

// signalChanged tells maintain the publications changed (never waits: it
// runs on the proxy's receive goroutine).
func (g *Ingress) signalChanged() {
	select {
	case g.changed <- struct{}{}:
	default:
	}
}

// maintain opens and closes listeners as publications come and go, and
// forgets expired ones.
func (g *Ingress) maintain() {
	defer g.wg.Done()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	var known []string
	var saved time.Time
	for {
		changed := false
		select {
		case <-g.ctx.Done():
			return
		case <-g.changed:
			changed = true
		case <-tick.C:
			for _, name := range g.pubs.expire() {
				g.log.Info("publication expired: its host stopped offering it", "name", name+"."+g.cfg.Zone)
				changed = true
			}
		}
		known = g.forgetWithdrawn(known)
		if changed || time.Since(saved) > 30*time.Second {
			if err := g.pubs.save(g.savePath); err != nil {
				g.log.Warn("publications not saved", "err", err)
			}
			saved = time.Now()
		}
		if err := g.ls.sync(g.pubs.ports()); err != nil {
			g.log.Warn("a published port cannot be served", "err", err)
		}
	}
}

// forgetWithdrawn drops the heuristic's state for the names of known that
// are no longer published, and returns the names published now.
func (g *Ingress) forgetWithdrawn(known []string) []string {
	now := g.pubs.names()
	for _, name := range known {
		if !slices.Contains(now, name) {
			g.table.Forget(name)
			g.log.Info("publication withdrawn", "name", name+"."+g.cfg.Zone)
		}
	}
	return now
}

// names answers the zone's questions from the publications and the
// heuristic.
type names struct{ g *Ingress }

// Resolve answers a published name with a waypoint handed out for it.
func (n names) Resolve(rel string, v6 bool) (netip.Addr, bool) {
	if !n.g.pubs.published(rel) {
		return netip.Addr{}, false
	}
	wp, ok := n.g.table.Hand(rel, v6)
	if !ok {
		return netip.Addr{}, true
	}
	n.g.stats.handed.Add(1)
	return wp, true
}

// Exists reports whether rel is a published name or has one under it (so
// that "home" is NODATA, not NXDOMAIN, when only "www.home" is published),
// and keeps queries of other types from handing out waypoints.
func (n names) Exists(rel string) bool {
	for _, name := range n.g.pubs.names() {
		if name == rel || strings.HasSuffix(name, "."+rel) {
			return true
		}
	}
	return false
}

// Close stops an ingress that New set up but Run never ran.
func (g *Ingress) Close() error {
	g.cancel()
	g.ls.closeAll()
	err := errors.Join(g.dns.Close(), g.px.Close())
	g.wg.Wait()
	return err
}
