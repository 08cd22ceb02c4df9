package overlays

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/i3net/i3net/internal/tundev"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/dns"
)

// Group is several overlays served by one process on one tun device: a
// proxy per overlay, the first (the primary) hooking the host's resolver
// for all of them.
type Group struct {
	dev     tun.Device
	disp    *Dispatcher
	proxies []*proxy.Proxy // the primary first, then the others in order

	closing   atomic.Bool // Close has begun: a proxy's end is no failure
	closeOnce sync.Once
	closeErr  error
}

// Open checks cfgs (Check, then each overlay's pools against the host's
// routes), creates the tun device named and sized by the primary's config
// (cfgs[0]) with every overlay's own addresses, and opens a proxy per
// overlay on a port of it. The primary keeps its DNS mode, resolver file
// and control socket and answers for every overlay; the others get none.
// On an error, whatever was made is undone.
func Open(cfgs []proxy.Config) (*Group, error) {
	if err := Check(cfgs); err != nil {
		return nil, err
	}
	addrs, routes, err := plan(cfgs)
	if err != nil {
		return nil, err
	}
	primary := cfgs[0]
	dev, err := tundev.Create(primary.TunName, primary.MTU, addrs...)
	if errors.Is(err, tundev.ErrInUse) {
		return nil, fmt.Errorf("overlays: %w: is another i3net proxy running in this network namespace? Stop it, or give this one another --tun", err)
	}
	if err != nil {
		return nil, fmt.Errorf("overlays: %w", err)
	}
	return openOn(dev, cfgs, routes)
}

// openOn opens the proxies of cfgs on dev, whose addresses are set.
func openOn(dev tun.Device, cfgs []proxy.Config, routes []Route) (*Group, error) {
	g := &Group{dev: dev, disp: NewDispatcher(dev, cfgs[0].MTU, routes, 0)}
	go g.disp.Run()
	ports := g.disp.Ports()
	var others []*proxy.Proxy
	for i, c := range cfgs[1:] {
		c.Tun, c.TunName, c.MTU = ports[i+1], cfgs[0].TunName, cfgs[0].MTU
		c.DeviceCounters = g.counters(i + 1)
		c.DNSMode, c.ResolvConf, c.ResolvBackup, c.ControlPath = dns.ModeOff, "", "", ""
		px, err := proxy.New(c)
		if err != nil {
			g.Close()
			return nil, fmt.Errorf("overlays: overlay %q: %w", c.Suffix, err)
		}
		others = append(others, px)
		g.proxies = append(g.proxies, px)
	}
	c := cfgs[0]
	c.Tun, c.Also, c.DeviceCounters = ports[0], others, g.counters(0)
	px, err := proxy.New(c)
	if err != nil {
		g.Close()
		return nil, fmt.Errorf("overlays: overlay %q: %w", c.Suffix, err)
	}
	g.proxies = append([]*proxy.Proxy{px}, g.proxies...)
	return g, nil
}

// plan checks each overlay's pools against the host's routes and returns
// the device's addresses (each overlay's own, at its pools' lengths) and
// the dispatcher's routes.
func plan(cfgs []proxy.Config) ([]netip.Prefix, []Route, error) {
	var addrs []netip.Prefix
	var routes []Route
	for _, c := range cfgs {
		if err := proxy.CheckPools(c.Pool4, c.Pool6); err != nil {
			return nil, nil, fmt.Errorf("overlays: overlay %q: %w", c.Suffix, err)
		}
		if c.Identity == nil {
			return nil, nil, fmt.Errorf("overlays: overlay %q: no identity", c.Suffix)
		}
		own4, own6, err := proxy.OwnAddrs(c.Identity, c.Pool4, c.Pool6, c.Reserved)
		if err != nil {
			return nil, nil, fmt.Errorf("overlays: overlay %q: %w", c.Suffix, err)
		}
		addrs = append(addrs, netip.PrefixFrom(own4, c.Pool4.Bits()))
		if own6.IsValid() {
			addrs = append(addrs, netip.PrefixFrom(own6, c.Pool6.Bits()))
		}
		routes = append(routes, Route{Pool4: c.Pool4.Masked(), Pool6: c.Pool6.Masked()})
	}
	return addrs, routes, nil
}

// Primary returns the primary overlay's proxy: its Status holds the
// others' (Status.Overlays).
func (g *Group) Primary() *proxy.Proxy { return g.proxies[0] }

// Proxies returns every overlay's proxy, the primary first.
func (g *Group) Proxies() []*proxy.Proxy { return g.proxies }

// counters returns the dispatcher's counters for overlay i's status: the
// packets dropped because its queue was full, and for the primary (i = 0)
// those no overlay's pool held and those without an IP header.
func (g *Group) counters(i int) func() map[string]uint64 {
	return func() map[string]uint64 {
		st := g.disp.Stats()
		m := map[string]uint64{"dispatch_queue_full": st.QueueFull[i]}
		if i == 0 {
			m["dispatch_no_route"], m["dispatch_malformed"] = st.NoRoute, st.Malformed
		}
		return m
	}
}

// Stats returns the dispatcher's drops.
func (g *Group) Stats() Stats { return g.disp.Stats() }

// Run runs every proxy until ctx ends or one of them, or the device,
// stops; then it closes the group and returns the first error.
func (g *Group) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ends := make(chan error, len(g.proxies))
	for _, px := range g.proxies {
		suffix := px.Status().Self.Suffix
		go func() {
			err := px.Run(ctx)
			if err == nil && ctx.Err() == nil && !g.closing.Load() {
				err = fmt.Errorf("overlays: overlay %q stopped", suffix)
			}
			ends <- err
		}()
	}
	var errs []error
	waiting := len(g.proxies)
	select {
	case err := <-ends:
		errs, waiting = append(errs, err), waiting-1
	case <-g.disp.done:
		if err := g.disp.err; err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, fmt.Errorf("overlays: the tun device failed: %w", err))
		}
	case <-ctx.Done():
	}
	cancel()
	errs = append(errs, g.Close())
	for range waiting {
		errs = append(errs, <-ends)
	}
	return errors.Join(errs...)
}

// Close closes every proxy, the primary first (it gives the host's resolver
// back), then the device, and waits for the dispatcher.
func (g *Group) Close() error {
	g.closing.Store(true)
	g.closeOnce.Do(func() {
		var errs []error
		for _, px := range g.proxies {
			errs = append(errs, px.Close())
		}
		errs = append(errs, g.dev.Close())
		<-g.disp.done
		g.closeErr = errors.Join(errs...)
	})
	return g.closeErr
}
