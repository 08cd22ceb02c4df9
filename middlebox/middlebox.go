package middlebox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/middlebox/pass"
)

// Options are what a middlebox takes besides its file.
type Options struct {
	// Identity is the middlebox's key (members of an anycast group share it).
	Identity *identity.Identity
	// ControlPath is the unix socket that answers GET /status; "": none.
	ControlPath string
	// Logger receives the few logs (triggers, alerts, the event log); nil:
	// slog.Default().
	Logger *slog.Logger
	// Client is the overlay client's configuration to start from (its
	// timers); nil: client.DefaultConfig(). Servers come from Config.
	Client *client.Config
	// IDS, if set, is the device the plaintext packets are written into,
	// in place of the tun device Config.IDSTun names (tests).
	IDS tun.Device
}

// host is one host the middlebox serves.
type host struct {
	cfg     HostConfig
	pubID   id.ID        // where alerts go
	trigger id.ID        // this member's trigger for it
	fwd     *pass.Tagger // the receive goroutine's
	alert   *pass.Tagger // the event-log goroutine's

	handle atomic.Pointer[client.Handle]
	err    atomic.Pointer[string] // why the last insertion failed

	forwarded, forwardedBytes, toIDS, alertsSent atomic.Uint64
}

// Middlebox is a running middlebox.
type Middlebox struct {
	cfg       Config
	opt       Options
	log       *slog.Logger
	self      id.ID // the middlebox's public id
	member    byte
	hosts     []*host
	byTrigger map[id.ID]*host // trigger ids with the member byte zeroed
	client    *client.Client
	ids       tun.Device
	flows     *flowTable
	fwd       forwardState // the receive goroutine's
	stats     counters
	started   time.Time
	up        chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// New sets the middlebox up: its hosts' keys, the IDS device, the overlay
// client and the control socket. Run inserts the triggers. On an error
// nothing stays open.
func New(cfg Config, opt Options) (*Middlebox, error) {
	m, err := newMiddlebox(cfg, opt)
	if err != nil {
		return nil, err
	}
	if err := m.open(); err != nil {
		m.cancel()
		return nil, err
	}
	return m, nil
}

// open opens what New sets up, in order, closing what it opened on an error.
func (m *Middlebox) open() error {
	if err := checkControl(m.opt.ControlPath); err != nil {
		return err
	}
	if err := m.openIDS(); err != nil {
		return err
	}
	if err := m.openClient(); err != nil {
		m.closeIDS()
		return err
	}
	if err := m.serveControl(); err != nil {
		m.client.Close()
		m.closeIDS()
		return err
	}
	return nil
}

// newMiddlebox returns the middlebox's state, nothing opened yet.
func newMiddlebox(cfg Config, opt Options) (*Middlebox, error) {
	if opt.Identity == nil {
		return nil, errors.New("middlebox: no identity")
	}
	if len(cfg.Servers) == 0 {
		return nil, errors.New("middlebox: no overlay server: set servers in the file or give --server ADDR:PORT")
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	m := &Middlebox{cfg: cfg, opt: opt, log: opt.Logger, self: opt.Identity.ID(), member: pass.Member(cfg.Anycast),
		byTrigger: map[id.ID]*host{}, flows: newFlowTable(maxFlows), fwd: newForwardState(),
		started: time.Now(), up: make(chan struct{})}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	if err := m.addHosts(); err != nil {
		m.cancel()
		return nil, err
	}
	return m, nil
}

// addHosts derives each host's trigger and pass key.
func (m *Middlebox) addHosts() error {
	for _, hc := range m.cfg.Hosts {
		k, err := pass.NewKey(m.opt.Identity, hc.Key)
		if err != nil {
			return fmt.Errorf("middlebox: host %s: %w", hc.Name, err)
		}
		h := &host{cfg: hc, pubID: hc.Key.ID(), trigger: pass.HostTrigger(m.self, hc.Key, m.member),
			fwd: pass.NewTagger(k), alert: pass.NewTagger(k)}
		m.hosts = append(m.hosts, h)
		m.byTrigger[triggerKey(h.trigger)] = h
	}
	return nil
}

// triggerKey is x without its member byte: every member's trigger for a host
// (and every id a host picks for it) has the same key.
func triggerKey(x id.ID) id.ID {
	x[id.Len-1] = 0
	return x
}

// hostOf returns the host whose trigger x is (any member's), or nil: what
// pass.HostOf says, with one map lookup.
func (m *Middlebox) hostOf(x id.ID) *host { return m.byTrigger[triggerKey(x)] }

// openClient opens the overlay client.
func (m *Middlebox) openClient() error {
	ccfg := client.DefaultConfig()
	if m.opt.Client != nil {
		ccfg = *m.opt.Client
	}
	ccfg.Servers = m.cfg.Servers
	ccfg.LocalAddr = m.cfg.Listen
	ccfg.Identity = m.opt.Identity.PrivateKey()
	ccfg.Handler = m.forward
	ccfg.OnBatchEnd = m.flush
	ccfg.Logger = m.log
	var err error
	if m.client, err = client.New(ccfg); err != nil {
		return fmt.Errorf("middlebox: open the overlay client: %w", err)
	}
	return nil
}

// Up is closed once every host's trigger is inserted.
func (m *Middlebox) Up() <-chan struct{} { return m.up }

// Run inserts the hosts' triggers (retrying those the servers do not
// acknowledge), follows the event log, and forwards until ctx ends; then it
// removes the triggers and closes everything.
func (m *Middlebox) Run(ctx context.Context) error {
	go func() {
		select {
		case <-ctx.Done():
			m.cancel()
		case <-m.ctx.Done():
		}
	}()
	var ins sync.WaitGroup
	for _, h := range m.hosts {
		ins.Add(1)
		m.spawn(func() { defer ins.Done(); m.keepInserted(h) })
	}
	m.spawn(func() {
		ins.Wait()
		if m.ctx.Err() == nil {
			close(m.up)
			m.log.Info("middlebox up", "id", m.self.Short(), "hosts", len(m.hosts), "member", m.member)
		}
	})
	if m.cfg.EveJSON != "" {
		m.spawn(m.followEve)
	}
	<-m.ctx.Done()
	return m.Close()
}

// spawn runs f on a goroutine Close waits for.
func (m *Middlebox) spawn(f func()) {
	m.wg.Add(1)
	go func() { defer m.wg.Done(); f() }()
}

const (
	// insertWait bounds one insertion; insertRetry is the pause after a
	// failed one.
	insertWait  = 5 * time.Second
	insertRetry = time.Second
	// hostPrefixLen is the prefix length of the triggers: all but the
	// member byte, so that a host's frames match only its own triggers (of
	// any member: the closest member byte wins) and a frame for a host this
	// middlebox does not serve matches none (its sender hears so).
	hostPrefixLen = (id.Len - 1) * 8
)

// keepInserted inserts h's trigger, again after each failure, until it is
// in (the client refreshes it from then on) or the middlebox stops.
func (m *Middlebox) keepInserted(h *host) {
	for m.ctx.Err() == nil {
		ctx, cancel := context.WithTimeout(m.ctx, insertWait)
		hd, err := m.client.Insert(ctx, client.Trigger{ID: h.trigger, PrefixLen: hostPrefixLen})
		cancel()
		if err == nil {
			h.handle.Store(hd)
			h.err.Store(nil)
			m.log.Debug("trigger inserted", "host", h.cfg.Name, "trigger", h.trigger.Short())
			return
		}
		msg := err.Error()
		if h.err.Swap(&msg) == nil {
			m.log.Warn("trigger not inserted; retrying", "host", h.cfg.Name, "err", err)
		}
		select {
		case <-m.ctx.Done():
		case <-time.After(insertRetry):
		}
	}
}

// Close removes the triggers (so that the hosts' flows move at once to
// another member), stops the goroutines and closes the client, the IDS
// device and the control socket. It is safe to call more than once.
func (m *Middlebox) Close() error {
	var err error
	m.once.Do(func() {
		m.cancel()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		var rm sync.WaitGroup
		for _, h := range m.hosts {
			if hd := h.handle.Load(); hd != nil {
				rm.Add(1)
				go func() { defer rm.Done(); hd.Remove(ctx) }()
			}
		}
		rm.Wait()
		cancel()
		m.wg.Wait()
		err = m.client.Close()
		m.closeIDS()
	})
	return err
}
