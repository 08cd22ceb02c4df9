// Package limit keeps one token bucket (golang.org/x/time/rate) per client
// address, for the ingress's limits on new connections and on DNS queries.
//
// A client is an IPv4 address, or an IPv6 /64 (one subscriber's usual
// allocation: a host that changes its interface identifier stays one client).
// IPv4-mapped IPv6 addresses count as the IPv4 address.
//
// State is bounded: at most MaxClients buckets. A new client when the table is
// full evicts the least recently seen one; its bucket has most likely filled up
// again, and a full bucket is what a new one would be, so eviction costs that
// client nothing. A flood from more distinct clients than MaxClients can thus
// reset the buckets of the idlest ones, never grow the table.
//
// One mutex guards the table (a map and an LRU list; Allow is O(1)); the
// counters are atomic. Time comes from a clock.Clock so tests need not sleep.
// It knows nothing of DNS or TCP.
package limit

import (
	"container/list"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	"golang.org/x/time/rate"

	"github.com/i3net/i3net/internal/clock"
)

// DefaultMaxClients is MaxClients when the Config leaves it zero.
const DefaultMaxClients = 65536

// Config sets a Limiter's rate and bounds.
type Config struct {
	Rate       float64     // tokens per second per client; > 0
	Burst      int         // bucket size: events allowed at once; >= 1
	MaxClients int         // clients tracked at most; 0: DefaultMaxClients
	Clock      clock.Clock // nil: the system clock
}

// Limiter allows or refuses events per client. It is safe for concurrent use.
type Limiter struct {
	rate    rate.Limit
	burst   int
	max     int
	clock   clock.Clock
	allowed atomic.Uint64
	limited atomic.Uint64

	mu      sync.Mutex
	clients map[netip.Addr]*list.Element // of *client
	lru     list.List                    // front: most recently seen
}

// client is one tracked bucket.
type client struct {
	key    netip.Addr
	bucket *rate.Limiter
}

// Stats are a Limiter's counters.
type Stats struct {
	Allowed, Limited uint64 // events allowed and refused since New
	Tracked          int    // clients tracked now
}

// New checks cfg and returns a Limiter.
func New(cfg Config) (*Limiter, error) {
	if !(cfg.Rate > 0) {
		return nil, fmt.Errorf("limit: rate %v: must be a positive number of events per second", cfg.Rate)
	}
	if cfg.Burst < 1 {
		return nil, fmt.Errorf("limit: burst %d: must be at least 1", cfg.Burst)
	}
	if cfg.MaxClients < 0 {
		return nil, fmt.Errorf("limit: max clients %d: must be positive (0: %d)", cfg.MaxClients, DefaultMaxClients)
	}
	if cfg.MaxClients == 0 {
		cfg.MaxClients = DefaultMaxClients
	}
	return &Limiter{
		rate:    rate.Limit(cfg.Rate),
		burst:   cfg.Burst,
		max:     cfg.MaxClients,
		clock:   clock.OrReal(cfg.Clock),
		clients: make(map[netip.Addr]*list.Element),
	}, nil
}

// Allow takes a token from a's bucket and reports whether there was one.
func (l *Limiter) Allow(a netip.Addr) bool {
	key := Key(a)
	l.mu.Lock()
	now := l.clock.Now()
	ok := l.bucket(key).AllowN(now, 1)
	l.mu.Unlock()
	if ok {
		l.allowed.Add(1)
	} else {
		l.limited.Add(1)
	}
	return ok
}

// bucket returns key's bucket, marked most recently seen, making one (and
// evicting the least recently seen client when full) if needed. l.mu is held.
func (l *Limiter) bucket(key netip.Addr) *rate.Limiter {
	if e, ok := l.clients[key]; ok {
		l.lru.MoveToFront(e)
		return e.Value.(*client).bucket
	}
	if len(l.clients) >= l.max {
		oldest := l.lru.Back()
		l.lru.Remove(oldest)
		delete(l.clients, oldest.Value.(*client).key)
	}
	c := &client{key: key, bucket: rate.NewLimiter(l.rate, l.burst)}
	l.clients[key] = l.lru.PushFront(c)
	return c.bucket
}

// Key is the client that a counts as: the IPv4 address (unmapped from
// IPv6 if need be) or the IPv6 /64, without zone.
func Key(a netip.Addr) netip.Addr {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().Addr()
	}
	return a
}

// Stats returns the counters.
func (l *Limiter) Stats() Stats {
	l.mu.Lock()
	tracked := len(l.clients)
	l.mu.Unlock()
	return Stats{Allowed: l.allowed.Load(), Limited: l.limited.Load(), Tracked: tracked}
}
