package client

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/clock"
	"github.com/i3net/i3net/internal/logthrottle"
	"github.com/i3net/i3net/wire"
)

// ErrClosed is returned by every call on a closed Client.
var ErrClosed = errors.New("client: closed")

// Client is one host's access to the overlay: it owns one UDP socket, the
// triggers it inserted and a cache of which server is responsible for which
// ids. Its methods are safe for concurrent use.
type Client struct {
	cfg   Config
	log   *slog.Logger
	clock clock.Clock
	// refusedLog limits the "refused" lines per kind (RefusalKind): a
	// hostile server, or anyone spoofing its address, could fill the log.
	refusedLog *logthrottle.Limiter

	conn  *net.UDPConn
	bconn batchConn
	// stated is the address stated in SENDER and trigger targets: replaced
	// whole when the local address changes (addrwatch.go), read without a
	// lock on the per-packet paths.
	stated atomic.Pointer[statedSelf]

	bufs    sync.Pool // *[maxDatagram]byte, for single sends and control packets
	batches sync.Pool // *sendBatch

	servers   serverSet // the known servers and the first hop
	cache     cache
	pings     pingTable
	nat       natState
	shortcuts shortcuts
	ext       extState // which servers speak i3net's extensions (extensions.go)

	mu      sync.Mutex
	handles map[id.ID][]*Handle // by trigger id; guarded by mu

	// The background timers: discovery (server lists, round trips) and
	// liveness. Their functions run inside enterBg, so Close waits for them.
	disc     discoveryState
	live     livenessState
	addr     addrWatch
	bgMu     sync.Mutex
	stopping bool // Close has begun: no background work starts

	// queued is the wait in the socket of the datagram being handled; the
	// receive goroutine's alone.
	queued time.Duration

	stats  counters
	closed atomic.Bool
	done   chan struct{} // closed by Close
	wg     sync.WaitGroup
}

// New binds the client's socket and starts its receive loop and its
// background work: asking the servers for the server list, measuring round
// trips, watching the servers in use (Config.ListInterval, ProbeInterval,
// FailoverAfter). It inserts nothing: see Insert, Send and Ping.
func New(cfg Config) (*Client, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	conn, bconn, err := listen(cfg.LocalAddr, cfg.Servers[0])
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:     cfg,
		clock:   cfg.Clock,
		conn:    conn,
		bconn:   bconn,
		handles: make(map[id.ID][]*Handle),
		done:    make(chan struct{}),
	}
	self, err := c.deriveSelf()
	if err != nil {
		conn.Close()
		return nil, err
	}
	c.stated.Store(newStatedSelf(self))
	c.log = cfg.Logger.With("role", "client", "addr", self)
	c.refusedLog = logthrottle.New(cfg.Clock, NumRefusalKinds, logthrottle.DefaultRate, logthrottle.DefaultBurst)
	c.bufs.New = func() any { return new([maxDatagram]byte) }
	c.batches.New = func() any { return newSendBatch(c.cfg.BatchSize) }
	c.servers.init(c)
	c.cache.init(c, cfg.CacheTTL)
	c.pings.init()
	c.shortcuts.init(c)

	c.wg.Add(1)
	go c.recvLoop()
	c.startDiscovery()
	c.startLiveness()
	c.startAddrWatch()
	return c, nil
}

// enterBg starts a piece of background work that Close waits for; it reports
// false once Close has begun. The caller calls c.wg.Done when done.
func (c *Client) enterBg() bool {
	c.bgMu.Lock()
	defer c.bgMu.Unlock()
	if c.stopping {
		return false
	}
	c.wg.Add(1)
	return true
}

// LocalAddr returns the address the client states as its own: where its
// triggers point by default and where servers send control replies. Bound
// to a wildcard address, it follows the host's address (addrwatch.go).
func (c *Client) LocalAddr() netip.AddrPort { return c.self() }

// Close stops the receive loop and every trigger's refreshes and closes the
// socket. It removes no trigger: they expire at the servers after TriggerTTL,
// so a client restarted within it finds its triggers still in place. Pending
// Insert and ping calls return ErrClosed. Close waits for the receive
// goroutine, so it must not be called from Config.Handler or Config.OnEvent.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.bgMu.Lock()
	c.stopping = true
	for _, t := range []clock.Timer{c.disc.timer, c.live.timer, c.addr.timer} {
		if t != nil {
			t.Stop()
		}
	}
	c.bgMu.Unlock()
	close(c.done)
	err := c.conn.Close()
	c.mu.Lock()
	var hs []*Handle
	for _, l := range c.handles {
		hs = append(hs, l...)
	}
	clear(c.handles)
	c.mu.Unlock()
	for _, h := range hs {
		h.stop()
	}
	c.cache.stop()
	c.shortcuts.stop()
	c.wg.Wait()
	if err != nil {
		return fmt.Errorf("client: close %s: %w", c.self(), err)
	}
	return nil
}

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds.
const (
	// EventNotPresent: a packet this client sent to ID matched no trigger at
	// Server and was dropped (TRIGGER_NOT_PRESENT).
	EventNotPresent EventKind = iota + 1
	// EventRefused: Server refused a request of this client about ID (an
	// insertion, refresh or removal): Code and Message say why (EXT_ERROR, or
	// the original protocol's CONSTRAINT_FAILED and ROUTE_BROKEN, with Code 0).
	EventRefused
)

func (k EventKind) String() string {
	switch k {
	case EventNotPresent:
		return "not present"
	case EventRefused:
		return "refused"
	}
	return fmt.Sprintf("event(%d)", uint8(k))
}

// Event is a server's report about this client's packets or triggers.
type Event struct {
	Kind    EventKind
	ID      id.ID
	Server  netip.AddrPort
	Code    wire.ErrorCode // EventRefused only
	Message string         // EventRefused only
}

// Kinds of refusal (Event.RefusalKind), each with its own log limit.
const (
	RefusalExtError         = iota // EXT_ERROR
	RefusalConstraintFailed        // CONSTRAINT_FAILED (original protocol)
	RefusalRouteBroken             // ROUTE_BROKEN (original protocol)
	NumRefusalKinds                // how many kinds there are
)

// RefusalKind says which report an EventRefused came from: RefusalExtError,
// RefusalConstraintFailed or RefusalRouteBroken.
func (e Event) RefusalKind() int { return refusalKind(e.Code, e.Message) }

func refusalKind(code wire.ErrorCode, msg string) int {
	switch {
	case code != 0:
		return RefusalExtError
	case msg == msgConstraintFailed:
		return RefusalConstraintFailed
	}
	return RefusalRouteBroken
}

func (e Event) String() string {
	if e.Kind == EventRefused {
		return fmt.Sprintf("%s refused %s: %s", e.Server, e.ID.Short(), reason(e.Code, e.Message))
	}
	return fmt.Sprintf("%s: no trigger matches %s", e.Server, e.ID.Short())
}

func reason(code wire.ErrorCode, msg string) string {
	switch {
	case code == 0:
		return msg
	case msg == "":
		return code.String()
	}
	return code.String() + " (" + msg + ")"
}

// Stats are the client's counters since New.
type Stats struct {
	Sent       uint64 // data packets sent (through the overlay or a shortcut)
	SendErrors uint64 // data packets the socket refused
	Received   uint64 // datagrams received
	Delivered  uint64 // data packets handed to Config.Handler
	Dropped    uint64 // datagrams dropped: malformed, unexpected, or control from a stranger
	Control    uint64 // control packets sent (insertions, refreshes, removals, cache requests)
	Challenges uint64 // challenges answered
	Acks       uint64 // acknowledgments received
	NotPresent uint64 // TRIGGER_NOT_PRESENT reports received
	Refused    uint64 // refusals received (EXT_ERROR and the original's failures)
	// RefusedUnlogged counts refusals not logged: each kind is logged at
	// most logthrottle.DefaultRate times per second after a burst.
	RefusedUnlogged uint64
	CacheHints      uint64 // cache hints recorded
	HintMoves       uint64 // triggers inserted again at once where a hint said they now belong

	ListRequests uint64 // server lists asked for
	ServerLists  uint64 // server lists received
	LivePings    uint64 // liveness pings sent to silent servers in use
	Failovers    uint64 // servers declared down while in use
	NATChecks    uint64 // reflecting pings sent, behind a NAT, to the servers holding triggers
	NATRebinds   uint64 // triggers refreshed at once: a server saw another NAT mapping than their ACK named

	ShortcutSent      uint64 // data packets sent straight to a receiver (§5.2)
	ShortcutFallbacks uint64 // direct paths given up for the overlay
	Probes            uint64 // shortcut probes sent
	OffersSent        uint64 // shortcut offers sent, as a receiver
	OffersAccepted    uint64 // offers taken: a direct path (re)starts
	OffersRefused     uint64 // offers refused: wrong token or address, unknown id, multicast
	DirectReceived    uint64 // data packets delivered straight from a sender
}

type counters struct {
	sent, sendErrors, received, delivered, dropped, control atomic.Uint64
	challenges, acks, notPresent, refused, cacheHints       atomic.Uint64
	hintMoves                                               atomic.Uint64
	listRequests, serverLists, livePings, failovers         atomic.Uint64
	natChecks, natRebinds                                   atomic.Uint64
	shortcutSent, shortcutFallbacks, probes                 atomic.Uint64
	offersSent, offersAccepted, offersRefused, directIn     atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (c *Client) Stats() Stats {
	s := &c.stats
	return Stats{
		Sent: s.sent.Load(), SendErrors: s.sendErrors.Load(), Received: s.received.Load(),
		Delivered: s.delivered.Load(), Dropped: s.dropped.Load(), Control: s.control.Load(),
		Challenges: s.challenges.Load(), Acks: s.acks.Load(), NotPresent: s.notPresent.Load(),
		Refused: s.refused.Load(), RefusedUnlogged: c.refusedLog.Suppressed(), CacheHints: s.cacheHints.Load(), HintMoves: s.hintMoves.Load(),
		ListRequests: s.listRequests.Load(), ServerLists: s.serverLists.Load(),
		LivePings: s.livePings.Load(), Failovers: s.failovers.Load(),
		NATChecks: s.natChecks.Load(), NATRebinds: s.natRebinds.Load(),
		ShortcutSent: s.shortcutSent.Load(), ShortcutFallbacks: s.shortcutFallbacks.Load(),
		Probes: s.probes.Load(), OffersSent: s.offersSent.Load(), OffersAccepted: s.offersAccepted.Load(),
		OffersRefused: s.offersRefused.Load(), DirectReceived: s.directIn.Load(),
	}
}
