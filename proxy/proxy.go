package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/internal/clock"
	"github.com/i3net/i3net/internal/logthrottle"
	"github.com/i3net/i3net/proxy/book"
	"github.com/i3net/i3net/proxy/dns"
	"github.com/i3net/i3net/proxy/resolved"
	"github.com/i3net/i3net/proxy/session"
	"github.com/i3net/i3net/proxy/vaddr"
)

// Proxy is a running legacy proxy.
type Proxy struct {
	cfg   Config
	log   *slog.Logger
	clk   clock.Clock
	ident *identity.Identity
	ownID id.ID

	own4, own6 netip.Addr // this host's tun addresses
	dns4, dns6 netip.Addr // the DNS service addresses

	tun    tun.Device
	raw    *os.File  // the tun device read and written directly (outraw.go); nil: through tun
	net    *netstack // the userspace stack standing for the tun (userspace.go); nil in tun mode
	client *client.Client
	book   *book.Watcher
	peers  *registry // every peer, by key, id and address; their liveness
	dns    *dns.Responder
	fwd    *dns.Forwarder // nil: no upstream, other names get SERVFAIL
	tcpDNS dnsTCP         // DNS over TCP, started by the first segment (dnstcp.go)
	resp   *session.Responder

	accepting chan struct{}  // bounds the message 1s accepted at once
	gw        *GatewayMode   // nil unless this proxy is an i3-to-IP gateway
	gwBusy    chan struct{}  // bounds the name queries a gateway resolves at once
	ing       *IngressMode   // nil unless this proxy is an ingress's overlay side
	pubs      publications   // the services this host publishes (publish.go)
	queries   gatewayQueries // names this host asked gateways (clientgw.go)
	mbs       middleboxes    // the middleboxes this host imposes (middlebox.go)
	alerts    alertLog       // what their IDSes said (alerts.go)
	sweep     clock.Timer    // forgets the peers unused for TO; nil once closed
	sweepMu   sync.Mutex

	resolvInstalled bool                   // resolv.conf points at the proxy (ModeResolvConf)
	resolvedLink    *resolved.Registration // ~SUFFIX registered with resolved (ModeResolved)
	restored        bool                   // the saved state was read: Close may write it
	// publicTrigger is set once Run inserted it; Status reads it.
	publicTrigger atomic.Pointer[client.Handle]

	stats counters
	// refusedLog limits "server refused a request" lines per refusal kind
	// (a hostile server, or anyone spoofing its address, could fill the log).
	refusedLog *logthrottle.Limiter
	started    time.Time
	dnsBuf     [4096]byte   // DNS answers, on the tun goroutine
	in         inboundState // owned by the client's receive goroutine
	queue      codel        // the inbound queue's limit; the receive goroutine's too

	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	spawnMu  sync.Mutex // orders spawn's wg.Add before Close's wg.Wait
	stopping bool       // Close has begun: spawn starts nothing more
	closed   sync.Once
}

// New checks cfg, restores the saved state, creates the tun device, points the
// resolver at the proxy and opens the overlay client. Run starts the work. On
// an error, whatever New had set up is undone.
func New(cfg Config) (*Proxy, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	px := newProxy(cfg)
	if err := px.open(); err != nil {
		px.Close()
		return nil, err
	}
	return px, nil
}

// newProxy returns a Proxy with nothing opened yet.
func newProxy(cfg Config) *Proxy {
	px := &Proxy{
		cfg:        cfg,
		log:        cfg.Logger,
		clk:        clock.OrReal(cfg.Clock),
		refusedLog: logthrottle.New(cfg.Clock, client.NumRefusalKinds, logthrottle.DefaultRate, logthrottle.DefaultBurst),
		ident:      cfg.Identity,
		ownID:      cfg.Identity.ID(),
		accepting:  make(chan struct{}, maxAccepting),
		gw:         cfg.Gateway,
		ing:        cfg.Ingress,
		gwBusy:     make(chan struct{}, maxGatewayQueries),
		started:    time.Now(),
		in:         newInboundState(),
		queue:      newCodel(cfg.QueueTarget, cfg.QueueInterval),
	}
	if px.log == nil {
		px.log = slog.Default()
	}
	px.log = px.log.With("role", "proxy")
	px.ctx, px.cancel = context.WithCancel(context.Background())
	return px
}

// open does New's work in order; Close undoes what is done when it fails.
func (px *Proxy) open() error {
	var err error
	if px.book, err = book.NewWatcher(px.cfg.BookPath); err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	if err = px.openPublications(); err != nil {
		return err
	}
	px.warnBook()
	if m := px.cfg.Middlebox; m != "" {
		if _, ok := px.book.Book().Lookup(m); !ok {
			return fmt.Errorf("proxy: the middlebox %q this host imposes is not in the address book %s: add it first "+
				"(i3net book add %s KEY), or the sessions would go around it", m, px.cfg.BookPath, m)
		}
	}
	if err := px.checkControl(); err != nil {
		return err
	}
	if err := px.checkPools(); err != nil {
		return err
	}
	if err := px.openRegistry(); err != nil {
		return err
	}
	if px.resp, err = session.NewResponder(px.ident, session.Options{MaxHandshakeAge: session.DefaultMaxHandshakeAge}); err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	if err := px.restore(); err != nil {
		return err
	}
	px.restored = true
	if px.cfg.Tun != nil {
		px.tun = px.cfg.Tun
	} else if px.cfg.Userspace {
		if err := px.openNetstack(); err != nil {
			return err
		}
	} else if px.tun, err = openTun(px.cfg.TunName, px.cfg.MTU, px.own4, px.cfg.Pool4, px.own6, px.cfg.Pool6); err != nil {
		return err
	}
	if !px.cfg.SplitLarge {
		px.raw = rawTun(px.tun)
	}
	if err := px.setupDNS(); err != nil {
		return err
	}
	return px.openClient()
}

// hostRoute is a route of this host: its destination, and the tun device it
// goes into ("" for other devices).
type hostRoute struct {
	dst netip.Prefix
	tun string
}

// checkPools refuses pools that overlap a route of this host (CheckPools).
// A device given in Config.Tun comes with its routes: its maker checked the
// pools before (proxy/overlays does).
func (px *Proxy) checkPools() error {
	if px.cfg.Tun != nil {
		return nil
	}
	return CheckPools(px.cfg.Pool4, px.cfg.Pool6)
}

// CheckPools reports whether the virtual address pools pool4 and pool6
// (zero: none) overlap a route of this host's network namespace, as the
// proxy checks before it starts. A pool routed whole into a tun device is
// another proxy's, running in this namespace. It only reads the routes.
func CheckPools(pool4, pool6 netip.Prefix) error {
	routes, err := hostRoutes()
	if err != nil {
		return err
	}
	pools := []netip.Prefix{pool4}
	if pool6.IsValid() {
		pools = append(pools, pool6)
	}
	dsts := make([]netip.Prefix, 0, len(routes))
	for _, r := range routes {
		if r.tun != "" && (r.dst == pool4.Masked() || (pool6.IsValid() && r.dst == pool6.Masked())) {
			return fmt.Errorf("proxy: the pool %v is already routed into tun device %s: "+
				"another i3net proxy runs in this network namespace; stop it first (one proxy per namespace)", r.dst, r.tun)
		}
		dsts = append(dsts, r.dst)
	}
	if err := vaddr.CheckPools(pools, dsts); err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	return nil
}

// openRegistry makes the peer registry and this host's own addresses.
func (px *Proxy) openRegistry() error {
	cfg := px.cfg
	alloc, err := newAllocator(px.ownID, cfg.Pool4, cfg.Pool6, cfg.Reserved)
	if err != nil {
		return err
	}
	px.peers = newRegistry(alloc, cfg.MappingTimeout)
	px.own4, px.own6 = alloc.Self()
	px.dns4 = vaddr.ServiceAddr(cfg.Pool4)
	if cfg.Pool6.IsValid() {
		px.dns6 = vaddr.ServiceAddr(cfg.Pool6)
	}
	return nil
}

// newAllocator makes the virtual address allocator of the host self.
func newAllocator(self id.ID, pool4, pool6 netip.Prefix, reserved []netip.Addr) (*vaddr.Allocator, error) {
	vcfg := vaddr.DefaultConfig(self)
	vcfg.Pool4, vcfg.Pool6 = pool4, pool6
	vcfg.Reserved = append(vcfg.Reserved, reserved...)
	alloc, err := vaddr.New(vcfg)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	return alloc, nil
}

// OwnAddrs returns the tun addresses a proxy with identity ident and these
// pools (a zero pool6: none) gives this host, as New computes them: the
// caller of a shared device (Config.Tun) gives the device these addresses.
func OwnAddrs(ident *identity.Identity, pool4, pool6 netip.Prefix, reserved []netip.Addr) (v4, v6 netip.Addr, err error) {
	alloc, err := newAllocator(ident.ID(), pool4, pool6, reserved)
	if err != nil {
		return netip.Addr{}, netip.Addr{}, err
	}
	v4, v6 = alloc.Self()
	return v4, v6, nil
}

// openClient opens the overlay client, given every server: it picks the
// nearest and fails over.
func (px *Proxy) openClient() error {
	ccfg := client.DefaultConfig()
	ccfg.Servers = px.cfg.Servers
	ccfg.LocalAddr = px.cfg.ListenAddr
	ccfg.NoExtensions = px.cfg.NoExtensions
	ccfg.Identity = px.ident.PrivateKey()
	ccfg.Handler = px.inbound
	ccfg.OnBatchEnd = px.flushInbound
	ccfg.OnEvent = px.event
	ccfg.Clock = px.cfg.Clock
	ccfg.Logger = px.log
	var err error
	if px.client, err = client.New(ccfg); err != nil {
		return fmt.Errorf("proxy: open the overlay client: %w", err)
	}
	return nil
}

// setupDNS makes the responder and hooks the host's resolver as the DNS mode
// says (hostdns.go), keeping the original's upstreams.
func (px *Proxy) setupDNS() error {
	upstreams, search, err := px.hookResolver()
	if err != nil {
		return err
	}
	dcfg := dns.DefaultConfig(px)
	dcfg.Suffix = px.cfg.Suffix
	dcfg.SearchDomains = search
	for _, o := range px.cfg.Also {
		dcfg.Zones = append(dcfg.Zones, dns.Zone{Suffix: o.cfg.Suffix, Resolver: o})
	}
	if px.dns, err = dns.New(dcfg); err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	if len(upstreams) > 0 {
		if px.fwd, err = dns.NewForwarder(dns.ForwarderConfig{Upstreams: upstreams, Budget: px.cfg.UpstreamTimeout}); err != nil {
			return fmt.Errorf("proxy: %w", err)
		}
	} else if px.gw == nil && px.ing == nil { // roles serve no programs of their host
		px.log.Warn("no upstream resolver: names outside ." + px.cfg.Suffix + " will fail")
	}
	return nil
}

func (px *Proxy) resolvBackup() string {
	if px.cfg.ResolvBackup != "" {
		return px.cfg.ResolvBackup
	}
	dir := "/var/lib/i3net"
	if px.cfg.StatePath != "" {
		dir = filepath.Dir(px.cfg.StatePath)
	}
	return filepath.Join(dir, "resolv.conf.i3net-backup")
}

// Run inserts the public trigger and moves packets until ctx ends or Close.
func (px *Proxy) Run(ctx context.Context) error {
	go func() {
		select {
		case <-ctx.Done():
		case <-px.ctx.Done():
		}
		px.cancel()
	}()
	ictx, cancel := context.WithTimeout(px.ctx, 10*time.Second)
	h, err := px.client.Insert(ictx, client.Trigger{ID: px.publicTriggerID()})
	cancel()
	if err != nil {
		px.Close()
		return fmt.Errorf("proxy: insert the public trigger %s through %v: %w", px.ownID.Short(), px.client.FirstHop(), err)
	}
	px.publicTrigger.Store(h)
	px.log.Info("proxy up", "id", px.ownID.Short(), "addr4", px.own4, "addr6", px.own6, "dns", px.dns4, "local", px.client.LocalAddr())

	for _, p := range px.peers.all() {
		px.spawn(func() { px.insertPrivate(p) })
	}
	px.connectGateways()
	px.publishAll()
	px.startSweep()

	px.spawn(px.readTun)
	if px.net != nil {
		if err := px.expose(); err != nil {
			px.Close()
			return err
		}
	}
	px.spawn(px.maintain)
	px.spawn(px.watchGateways)
	if px.cfg.ControlPath != "" {
		if err := px.serveControl(); err != nil {
			px.Close()
			return err
		}
	}
	<-px.ctx.Done()
	px.Close()
	return nil
}

// spawn runs f in a goroutine Close waits for. Once Close has begun it runs
// nothing and returns false: Run may still be starting its goroutines when a
// Close from another goroutine waits for them.
func (px *Proxy) spawn(f func()) bool {
	px.spawnMu.Lock()
	defer px.spawnMu.Unlock()
	if px.stopping {
		return false
	}
	px.wg.Add(1)
	go func() {
		defer px.wg.Done()
		f()
	}()
	return true
}

// Close stops the proxy: it saves the state, restores the resolver, and closes
// the tun device and the client. Triggers are left to expire, so a proxy
// restarted within their lifetime finds them in place.
func (px *Proxy) Close() error {
	var errs []error
	px.closed.Do(func() {
		px.spawnMu.Lock()
		px.stopping = true
		px.spawnMu.Unlock()
		px.cancel()
		px.stopSweep()
		if px.tun != nil {
			px.tun.Close()
		}
		if px.client != nil {
			px.client.Close()
		}
		px.wg.Wait()
		if px.restored { // else saving would write over the state with nothing
			if err := px.save(); err != nil {
				errs = append(errs, err)
			}
		}
		errs = append(errs, px.unhookResolver())
		if px.client != nil { // a proxy New could not finish never started
			px.log.Info("proxy stopped")
		}
	})
	return errors.Join(errs...)
}

// maintain saves the state, reloads the address book and applies blocks.
func (px *Proxy) maintain() {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	lastSave := time.Now()
	for {
		select {
		case <-px.ctx.Done():
			return
		case <-tick.C:
		}
		if changed, err := px.book.ReloadIfChanged(); err != nil {
			px.log.Warn("address book not reloaded; keeping the last good one", "err", err)
		} else if changed {
			px.applyBook()
		}
		px.publishTick()
		if time.Since(lastSave) >= px.cfg.SaveInterval {
			if err := px.save(); err != nil {
				px.log.Warn("state not saved", "err", err)
			}
			lastSave = time.Now()
		}
	}
}

// warnBook logs what the address book holds that a later release will
// refuse (keys in the old form), with the form to write instead.
func (px *Proxy) warnBook() {
	b := px.book.Book()
	for _, w := range b.Warnings() {
		px.log.Warn("address book: " + w.Error())
	}
	if px.cfg.Rules == nil {
		return
	}
	for _, r := range px.cfg.Rules.All() {
		if _, ok := b.Lookup(r.Via); r.Via != "" && !ok {
			px.log.Warn("a name rule's gateway is not in the address book: its names fail until it is added",
				"rule", r.Pattern.String(), "gateway", r.Via, "add", "i3net book add "+r.Via+" KEY")
		}
	}
}

// applyBook cuts off peers the book now blocks (paper §4.1: the private
// trigger given to them is removed, so the overlay drops what they send).
func (px *Proxy) applyBook() {
	px.warnBook()
	px.connectGateways()
	b := px.book.Book()
	for _, p := range px.peers.all() {
		names := b.Names(p.key)
		if len(names) == 0 {
			continue
		}
		if e, ok := b.Lookup(names[0]); ok && e.Blocked && px.forget(p) {
			px.log.Info("peer blocked by the address book: private trigger removed", "name", p.name, "id", p.pubID.Short())
		}
	}
}

// forget removes p from the registry and ends what this host had with it:
// its session and the private trigger given to it. It reports whether p was
// still registered.
func (px *Proxy) forget(p *peer) bool {
	if !px.peers.remove(p) {
		return false
	}
	px.end(p)
	return true
}

// end ends what this host had with a peer the registry no longer holds: its
// session and the private trigger given to it.
func (px *Proxy) end(p *peer) {
	px.resp.Forget(p.key)
	p.mu.Lock()
	h := p.trig
	p.trig = nil
	p.state = peerIdle
	p.mu.Unlock()
	p.sess.Store(nil)
	p.prevSess.Store(nil)
	if h != nil {
		px.spawn(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			h.Remove(ctx)
		})
	}
}

// sweepEvery is how often the peers unused for TO are looked for: a quarter of
// TO, between 10 ms and 30 s. A peer therefore lives between TO and TO +
// sweepEvery unused.
func (px *Proxy) sweepEvery() time.Duration {
	return max(10*time.Millisecond, min(30*time.Second, px.cfg.MappingTimeout/4))
}

// startSweep arms the expiry timer on the proxy's clock.
func (px *Proxy) startSweep() {
	px.sweepMu.Lock()
	defer px.sweepMu.Unlock()
	if px.ctx.Err() == nil && px.sweep == nil {
		px.sweep = px.clk.AfterFunc(px.sweepEvery(), px.expire)
	}
}

func (px *Proxy) stopSweep() {
	px.sweepMu.Lock()
	defer px.sweepMu.Unlock()
	if px.sweep != nil {
		px.sweep.Stop()
	}
}

// expiredNamed is how many of the peers one sweep forgets its log line names.
const expiredNamed = 5

// expire forgets the peers unused for TO (bug: before, a mapping used only by
// packets expired as if unused) and re-arms the timer.
func (px *Proxy) expire() {
	gone := px.peers.expire(px.clk.Now())
	var names []string
	for _, p := range gone {
		if len(names) < expiredNamed {
			names = append(names, p.describe())
		}
		px.end(p)
	}
	if len(gone) > 0 { // one line per sweep: a sweep may forget thousands
		px.log.Info("mappings unused for the mapping timeout: forgotten", "count", len(gone), "peers", names, "timeout", px.cfg.MappingTimeout)
	}
	px.sweepMu.Lock()
	defer px.sweepMu.Unlock()
	if px.ctx.Err() == nil && px.sweep != nil {
		px.sweep.Reset(px.sweepEvery())
	}
}

// event receives what the servers report about our packets and triggers.
func (px *Proxy) event(e client.Event) {
	switch e.Kind {
	case client.EventNotPresent:
		px.stats.notPresent.Add(1)
		px.remoteGone(e.ID) // block.go
	default:
		px.stats.refused.Add(1)
		if ok, skipped := px.refusedLog.Allow(e.RefusalKind()); ok {
			if skipped > 0 {
				px.log.Warn("server refused a request", "event", e.String(), "suppressed", skipped)
			} else {
				px.log.Warn("server refused a request", "event", e.String())
			}
		}
	}
}

// peerByKey returns the peer of key, or nil.
func (px *Proxy) peerByKey(key identity.PublicKey) *peer { return px.peers.byPeerKey(key) }
