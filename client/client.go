package client

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/clock"
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

	conn  *net.UDPConn
	bconn batchConn
	self  netip.AddrPort // the address stated in SENDER and trigger targets
	// senderOpt is the encoded SENDER option naming self, written into every
	// data header.
	senderOpt []byte

	bufs    sync.Pool // *[maxDatagram]byte, for single sends and control packets
	batches sync.Pool // *sendBatch

	cache cache
	pings pingTable

	mu      sync.Mutex
	handles map[id.ID][]*Handle // by trigger id; guarded by mu

	stats  counters
	closed atomic.Bool
	done   chan struct{} // closed by Close
	wg     sync.WaitGroup
}

// New binds the client's socket and starts its receive loop. It inserts
// nothing and sends nothing: see Insert, Send and Ping.
func New(cfg Config) (*Client, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	conn, bconn, err := listen(cfg.LocalAddr, cfg.Servers[0])
	if err != nil {
		return nil, err
	}
	self, err := statedAddr(conn, cfg.Servers[0])
	if err != nil {
		conn.Close()
		return nil, err
	}
	c := &Client{
		cfg:     cfg,
		clock:   cfg.Clock,
		conn:    conn,
		bconn:   bconn,
		self:    self,
		handles: make(map[id.ID][]*Handle),
		done:    make(chan struct{}),
	}
	c.log = cfg.Logger.With("role", "client", "addr", self)
	sender := wire.Option{Type: wire.OptSender, Addr: wire.IPAddr(self)}
	c.senderOpt = append([]byte{byte(wire.OptSender)}, sender.Addr.AppendTo(nil)...)
	c.bufs.New = func() any { return new([maxDatagram]byte) }
	c.batches.New = func() any { return newSendBatch(c.cfg.BatchSize) }
	c.cache.init(c, cfg.CacheTTL)
	c.pings.init()

	c.wg.Add(1)
	go c.recvLoop()
	return c, nil
}

// LocalAddr returns the address the client states as its own: where its
// triggers point by default and where servers send control replies.
func (c *Client) LocalAddr() netip.AddrPort { return c.self }

// Close stops the receive loop and every trigger's refreshes and closes the
// socket. It removes no trigger: they expire at the servers after TriggerTTL,
// so a client restarted within it finds its triggers still in place. Pending
// Insert and ping calls return ErrClosed. Close waits for the receive
// goroutine, so it must not be called from Config.Handler or Config.OnEvent.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
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
	c.wg.Wait()
	if err != nil {
		return fmt.Errorf("client: close %s: %w", c.self, err)
	}
	return nil
}

// isServer reports whether control replies from a are to be believed: a is one
// of Config.Servers or a server a cache hint named.
func (c *Client) isServer(a netip.AddrPort) bool {
	for _, s := range c.cfg.Servers {
		if s == a {
			return true
		}
	}
	return c.cache.names(a)
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
	Sent       uint64 // data packets sent
	SendErrors uint64 // data packets the socket refused
	Received   uint64 // datagrams received
	Delivered  uint64 // data packets handed to Config.Handler
	Dropped    uint64 // datagrams dropped: malformed, unexpected, or control from a stranger
	Control    uint64 // control packets sent (insertions, refreshes, removals, cache requests)
	Challenges uint64 // challenges answered
	Acks       uint64 // acknowledgments received
	NotPresent uint64 // TRIGGER_NOT_PRESENT reports received
	Refused    uint64 // refusals received (EXT_ERROR and the original's failures)
	CacheHints uint64 // cache hints recorded
}

type counters struct {
	sent, sendErrors, received, delivered, dropped, control atomic.Uint64
	challenges, acks, notPresent, refused, cacheHints       atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (c *Client) Stats() Stats {
	s := &c.stats
	return Stats{
		Sent: s.sent.Load(), SendErrors: s.sendErrors.Load(), Received: s.received.Load(),
		Delivered: s.delivered.Load(), Dropped: s.dropped.Load(), Control: s.control.Load(),
		Challenges: s.challenges.Load(), Acks: s.acks.Load(), NotPresent: s.notPresent.Load(),
		Refused: s.refused.Load(), CacheHints: s.cacheHints.Load(),
	}
}
