package client

import (
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/i3net/i3net/internal/clock"
)

// Config configures a Client. Start from DefaultConfig (or TestConfig in tests)
// and set Servers; the config is copied by New and frozen.
type Config struct {
	// Servers are the overlay servers the client starts from, IPv4 or IPv6 but
	// all of one family (the client owns one socket). Servers[0] is the first
	// hop (where packets and insertions go that no cache hint routes) until the
	// client has measured the round trips; the nearest server that answers is
	// the first hop after that (FirstHop). The client also learns the rest of
	// the overlay's servers from them (ListInterval). Control replies are
	// believed only from known servers and from the servers hints name. At
	// least one.
	Servers []netip.AddrPort

	// LocalAddr is the UDP address to bind. The zero value binds an ephemeral
	// port on the wildcard address of the servers' family; the address the
	// client then states as its own (SENDER, trigger targets) is the source
	// address the kernel picks toward Servers[0]. Behind a NAT the servers see
	// another address; the client learns it (NAT) and adapts (paper §5.1).
	LocalAddr netip.AddrPort

	// Identity is the host's Ed25519 key. It is needed only to insert or remove
	// triggers on public ids (id.FromPublicKey of its public key): those are
	// signed with it automatically. Nil: public ids cannot be inserted.
	Identity ed25519.PrivateKey

	// Handler receives every data packet delivered to the client. It is called
	// serially from the receive goroutine, so it must not block: it may call
	// Send, SendTo and SendBatch, but not Insert, Remove or the pings, which
	// wait for replies that goroutine reads. The Delivery's slices are reused
	// after Handler returns: copy what you keep. Nil drops data (counted).
	Handler func(d Delivery)

	// OnBatchEnd, if set, is called from the receive goroutine after Handler
	// has seen every packet of one received batch (one recvmmsg): a handler
	// that batches its own output (the proxy's writes into its tun device)
	// flushes there. It must not block.
	OnBatchEnd func()
	// OnEvent receives what the servers report about this client's packets and
	// triggers: nothing matched an id (EventNotPresent), a request was refused
	// (EventRefused). Called serially from the receive goroutine; must not
	// block. Nil: events are only counted (Stats).
	OnEvent func(e Event)

	// RefreshMin and RefreshMax bound the interval between two refreshes of a
	// trigger; each interval is drawn uniformly between them (jitter), so
	// triggers inserted together do not refresh together. The refresh also
	// keeps the NAT mapping toward the server open. Default 10 s and 15 s.
	RefreshMin, RefreshMax time.Duration

	// RetryInterval is how long the client waits for an ACK before it resends
	// an insertion or refresh (the answer or the request was lost). Default 2 s.
	RetryInterval time.Duration

	// TriggerTTL is how long servers keep a trigger after its last refresh
	// (the servers' setting, 30 s by default; the client only assumes it).
	// RefreshMax plus one RetryInterval must fit inside it, so that one lost
	// refresh does not lose the trigger; TriggerState.Lapsed reports a trigger
	// not acknowledged for longer than this.
	TriggerTTL time.Duration

	// CacheTTL is how long a cache hint (an id prefix → the server responsible
	// for it, paper §2.2) is used after it arrived: soft state, 30 s by
	// default. A hint is asked for again when a third of it is left.
	CacheTTL time.Duration

	// MaxServers bounds the servers the client knows: Config.Servers and those
	// server lists name. Default 64.
	MaxServers int

	// ListInterval is how often the client asks up to three of its servers
	// for the overlay's server list (EXT_SERVER_LIST), the first time at New.
	// 0 or less: never (the client knows Servers and the servers hints name).
	// Ignored with NoExtensions. Default 1 min.
	ListInterval time.Duration

	// ProbeInterval is how often the client measures the round trip to every
	// known server (a ping each, at most eight at once), the first time at
	// New, jittered by ±20%; the nearest server that answers becomes the
	// first hop. 0 or less: never, and Servers[0] stays the first hop while
	// it answers. Default 30 s.
	ProbeInterval time.Duration

	// FailoverAfter is how long a server in use (the first hop, the servers
	// live hints name, a server that left an insertion unanswered) may stay
	// silent before the client stops using it. While the client sends, a
	// server it has not heard from for FailoverAfter/4 gets a ping every
	// FailoverAfter/4; one still silent FailoverAfter after it was last heard,
	// with two pings unanswered, is declared down: the next best server
	// becomes the first hop, the hints naming it are dropped (packets go
	// through the first hop, which forwards them to the server now
	// responsible), and the triggers it held are inserted again at once. A
	// server that answers again is used again. 0 or less: never. Default 1 s.
	FailoverAfter time.Duration

	// AddrCheckInterval is how often a client bound to a wildcard address
	// (LocalAddr unset) asks the kernel again for its source address toward
	// Servers[0], the address it states as its own: when the host's address
	// changed, the client states the new one and inserts its triggers again
	// at once (addrwatch.go), rather than at their next refresh. A route
	// lookup, nothing sent. 0 or less: never. Default 1 s.
	AddrCheckInterval time.Duration

	// NATCheckInterval is how often a client behind a NAT (as the servers'
	// answers tell, NAT) sends a reflecting ping (docs/wire.md) to each
	// server holding one of its triggers on its own address: the echo names
	// the address that server sees, and a trigger whose ACK named another
	// one (the NAT's mapping changed, the host's own address did not) is
	// refreshed at once rather than at its next refresh (nat.go). 20 bytes
	// each way per server: with one server, 10 B/s of payload each way (24
	// B/s with the UDP/IPv4 headers); it also keeps the mappings toward
	// those servers open. 0 or less: never (the liveness pings of a client
	// that sends still reflect). Default 2 s.
	NATCheckInterval time.Duration

	// ShortcutTimeout is how long a direct path to a receiver (a shortcut,
	// paper §5.2) is kept while the receiver answers none of the probes sent
	// along it (every ShortcutTimeout/3 while packets flow): then packets go
	// through the overlay again, and a probe through it finds the receiver
	// wherever it now is. Default 1.5 s.
	ShortcutTimeout time.Duration

	// BatchSize is how many datagrams one receive (recvmmsg) or one batched
	// send (sendmmsg) moves at most. Each receive slot holds a 64 KiB buffer.
	// Default 32.
	BatchSize int

	// NoExtensions makes the client speak only the original 2004 protocol, for
	// original Berkeley servers, which reject i3net's extension options: no
	// EXT_HELLO (so no EXT_ERROR comes back) and no signatures (so public ids
	// cannot be inserted at i3net servers). Without it the client still sends
	// the extensions only to servers that have shown they speak them
	// (extensions.go), so it works with original servers as it is. Default
	// false.
	NoExtensions bool

	// Clock tells time and runs the refresh and cache timers. Nil: the real
	// clock. Insert and ping deadlines come from their contexts.
	Clock clock.Clock

	// stated, in tests, replaces the address the client states as its own,
	// so that the servers see another one, as behind a NAT.
	stated netip.AddrPort
	// routeSource, in tests, replaces the route lookup that tells a client
	// bound to a wildcard address its own address (addrwatch.go).
	routeSource func(server netip.AddrPort) (netip.Addr, error)

	// Logger receives the client's few logs (trigger lapsed and regained,
	// refusals); packets are never logged, they are counted (Stats). Nil:
	// slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the configuration for real use; only Servers is left
// to set.
func DefaultConfig() Config {
	return Config{
		RefreshMin:    10 * time.Second, // DESIGN.md "soft state"; the original used 13–18 s
		RefreshMax:    15 * time.Second,
		RetryInterval: 2 * time.Second,  // a lost refresh is retried well before the TTL
		TriggerTTL:    30 * time.Second, // the servers' default (paper §2)
		CacheTTL:      30 * time.Second, // the paper's cache period (§2.2)
		MaxServers:    64,
		ListInterval:  time.Minute,
		ProbeInterval: 30 * time.Second,
		// One second of silence: a server on a path with a few hundred ms
		// of RTT still answers a ping in time; delivery resumes about a
		// second later (DESIGN.md: under 2 s after a server dies).
		FailoverAfter:     time.Second,
		AddrCheckInterval: time.Second,
		NATCheckInterval:  2 * time.Second,
		ShortcutTimeout:   1500 * time.Millisecond,
		BatchSize:         32, // 2 MiB of receive buffers
	}
}

// TestConfig returns a configuration with short timers for tests against
// server.TestConfig servers (whose trigger TTL is 10 s): refresh every
// 150–250 ms, retry after 100 ms, hints kept 1 s, server lists every 2 s,
// round trips every second, failover after 400 ms of silence, the local
// address checked every 100 ms, shortcuts given up after 600 ms, small
// batches, and a logger that discards.
func TestConfig() Config {
	c := DefaultConfig()
	c.RefreshMin = 150 * time.Millisecond
	c.RefreshMax = 250 * time.Millisecond
	c.RetryInterval = 100 * time.Millisecond
	c.TriggerTTL = 10 * time.Second
	c.CacheTTL = time.Second
	c.ListInterval = 2 * time.Second
	c.ProbeInterval = time.Second
	c.FailoverAfter = 400 * time.Millisecond
	c.AddrCheckInterval = 100 * time.Millisecond
	c.ShortcutTimeout = 600 * time.Millisecond
	c.BatchSize = 8
	c.Logger = slog.New(slog.DiscardHandler)
	return c
}

// check validates c and fills the nil Clock and Logger.
func (c *Config) check() error {
	if len(c.Servers) == 0 {
		return fmt.Errorf("client: config: no Servers")
	}
	c.Servers = append([]netip.AddrPort(nil), c.Servers...)
	for i, s := range c.Servers {
		if !s.IsValid() || s.Port() == 0 || s.Addr().IsUnspecified() {
			return fmt.Errorf("client: config: Servers[%d] = %q is not a server address", i, s)
		}
		c.Servers[i] = unmap(s)
		if c.Servers[i].Addr().Is4() != c.Servers[0].Addr().Is4() {
			return fmt.Errorf("client: config: Servers[%d] = %s and Servers[0] = %s are of different IP families; one client speaks one", i, s, c.Servers[0])
		}
	}
	if c.LocalAddr.IsValid() && unmap(c.LocalAddr).Addr().Is4() != c.Servers[0].Addr().Is4() {
		return fmt.Errorf("client: config: LocalAddr %s is not of the family of Servers[0] %s", c.LocalAddr, c.Servers[0])
	}
	if c.Identity != nil && len(c.Identity) != ed25519.PrivateKeySize {
		return fmt.Errorf("client: config: Identity is %d bytes, want an Ed25519 private key of %d", len(c.Identity), ed25519.PrivateKeySize)
	}
	switch {
	case c.RefreshMin <= 0 || c.RefreshMax < c.RefreshMin:
		return fmt.Errorf("client: config: refresh interval %v–%v: want 0 < RefreshMin ≤ RefreshMax", c.RefreshMin, c.RefreshMax)
	case c.RetryInterval <= 0:
		return fmt.Errorf("client: config: RetryInterval %v: want > 0", c.RetryInterval)
	case c.RefreshMax+c.RetryInterval >= c.TriggerTTL:
		return fmt.Errorf("client: config: RefreshMax %v + RetryInterval %v must be less than TriggerTTL %v, or one lost refresh loses the trigger",
			c.RefreshMax, c.RetryInterval, c.TriggerTTL)
	case c.CacheTTL <= 0:
		return fmt.Errorf("client: config: CacheTTL %v: want > 0", c.CacheTTL)
	case c.MaxServers < len(c.Servers) || c.MaxServers > 1024:
		return fmt.Errorf("client: config: MaxServers %d: want len(Servers) (%d) to 1024", c.MaxServers, len(c.Servers))
	case c.ShortcutTimeout <= 0:
		return fmt.Errorf("client: config: ShortcutTimeout %v: want > 0", c.ShortcutTimeout)
	case c.BatchSize < 1 || c.BatchSize > 1024:
		return fmt.Errorf("client: config: BatchSize %d: want 1..1024", c.BatchSize)
	}
	c.Clock = clock.OrReal(c.Clock)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
