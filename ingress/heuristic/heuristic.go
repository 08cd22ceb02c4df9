// Package heuristic routes a connection that names no host (no HTTP Host, no
// TLS SNI: ssh, anything) to the overlay name its client most likely resolved:
// the paper's "first SYN within 1 s" (§4.4.2 and its appendix), bounded, and
// better than the paper's in three ways.
//
// Hand picks the waypoint that answers a DNS query for a name and records the
// name pending on it. Claim, called when a client's TCP handshake to a
// waypoint has completed (so a spoofed SYN claims nothing), binds that client
// and waypoint to the oldest name pending on the waypoint within the window
// that publishes the connection's port: the port tells apart names handed out
// at the same time, where the paper took the first SYN whatever its port. A
// binding serves the client's later connections until it idles out. Used
// consumes the pending entry of a connection routed by Host or SNI, so that
// another client cannot claim it. Hand spreads names over idle waypoints so
// that two clients resolving different names at once get different waypoints.
//
// Every piece of state is bounded: MaxPending entries per waypoint (the oldest
// goes), MaxBindings bindings (the least recently used goes), idle bindings
// expire after BindingTimeout, pending entries after Window. A flood of claims
// from many addresses can take only the entries pending in the window, one
// each; the limits this leaves are measured in TestAttackerFlood and
// documented in docs/ingress.md.
//
// It knows names, ports and addresses, not DNS, sockets or the overlay. A
// Table is safe for concurrent use; one mutex guards it, and the work per call
// is bounded by MaxPending per waypoint (Forget walks every binding).
package heuristic

import (
	"container/list"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/i3net/i3net/internal/clock"
)

// Defaults of Config.
const (
	DefaultWindow         = time.Second
	DefaultBindingTimeout = 10 * time.Minute
	DefaultMaxBindings    = 65536
	DefaultMaxPending     = 16
)

// Config configures a Table. Zero values take the defaults.
type Config struct {
	Waypoints      []netip.Addr  // IPv4 and IPv6 mixed; at least one
	Window         time.Duration // how long a handed-out name waits for its client; default 1 s
	BindingTimeout time.Duration // idle binding life, default 10 min (refreshed by each use)
	MaxBindings    int           // default 65536; the least recently used goes first
	MaxPending     int           // per waypoint, default 16; the oldest goes first
	Clock          clock.Clock   // nil: the system clock
}

// Stats are a Table's counters and sizes.
type Stats struct {
	Pending  int // names handed out and not yet claimed, within the window
	Bindings int // (client, waypoint) bindings
	// Handed counts names handed out; Claimed, claims answered from a pending
	// entry; Reused, claims answered by an existing binding; Bound, bindings
	// made or changed (by Claim and Used).
	Handed, Claimed, Reused, Bound uint64
	// Ambiguous counts claims with more than one pending name publishing the
	// port (the oldest was taken); Unmatched, claims that found nothing.
	Ambiguous, Unmatched uint64
	// Expired counts pending entries that outlived the window, Displaced those
	// pushed out by MaxPending newer ones; Idle counts bindings that idled out,
	// Evicted those pushed out by MaxBindings.
	Expired, Displaced, Idle, Evicted uint64
}

// Table is the heuristic's state: names pending on waypoints and bindings.
type Table struct {
	clk            clock.Clock
	window         time.Duration
	bindingTimeout time.Duration
	maxBindings    int
	maxPending     int

	mu        sync.Mutex
	waypoints map[netip.Addr]*waypoint
	families  [2][]*waypoint // IPv4, IPv6, in Config order
	next      [2]int         // round robin over idle waypoints, per family
	bindings  map[bindingKey]*list.Element
	lru       *list.List // of *binding, the most recently used in front
	stats     Stats
}

type waypoint struct {
	addr    netip.Addr
	pending []pending // oldest first
}

// pending is a name handed out on a waypoint at a time.
type pending struct {
	name string
	at   time.Time
}

type bindingKey struct{ client, waypoint netip.Addr }

type binding struct {
	key  bindingKey
	name string
	used time.Time
}

// New checks cfg and returns an empty Table.
func New(cfg Config) (*Table, error) {
	if err := fillDefaults(&cfg); err != nil {
		return nil, err
	}
	t := &Table{
		clk: clock.OrReal(cfg.Clock), window: cfg.Window, bindingTimeout: cfg.BindingTimeout,
		maxBindings: cfg.MaxBindings, maxPending: cfg.MaxPending,
		waypoints: make(map[netip.Addr]*waypoint), bindings: make(map[bindingKey]*list.Element), lru: list.New(),
	}
	for _, addr := range cfg.Waypoints {
		addr = addr.Unmap()
		if t.waypoints[addr] != nil {
			return nil, fmt.Errorf("heuristic: waypoint %s listed twice", addr)
		}
		w := &waypoint{addr: addr}
		t.waypoints[addr] = w
		t.families[family(addr.Is6())] = append(t.families[family(addr.Is6())], w)
	}
	return t, nil
}

// fillDefaults sets the defaults of zero fields and checks the others.
func fillDefaults(cfg *Config) error {
	if len(cfg.Waypoints) == 0 {
		return errors.New("heuristic: no waypoints: list at least one address")
	}
	for _, addr := range cfg.Waypoints {
		if !addr.IsValid() || addr.Unmap().IsUnspecified() {
			return fmt.Errorf("heuristic: waypoint %q is not a usable address", addr)
		}
	}
	if cfg.Window < 0 || cfg.BindingTimeout < 0 || cfg.MaxBindings < 0 || cfg.MaxPending < 0 {
		return fmt.Errorf("heuristic: negative window %v, binding timeout %v, max bindings %d or max pending %d",
			cfg.Window, cfg.BindingTimeout, cfg.MaxBindings, cfg.MaxPending)
	}
	cfg.Window = or(cfg.Window, DefaultWindow)
	cfg.BindingTimeout = or(cfg.BindingTimeout, DefaultBindingTimeout)
	cfg.MaxBindings = or(cfg.MaxBindings, DefaultMaxBindings)
	cfg.MaxPending = or(cfg.MaxPending, DefaultMaxPending)
	return nil
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func family(v6 bool) int {
	if v6 {
		return 1
	}
	return 0
}

// Stats returns the counters, and the sizes after dropping what has expired.
func (t *Table) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clk.Now()
	t.expireBindings(now)
	pendingNow := 0
	for _, w := range t.waypoints {
		t.expirePending(w, now)
		pendingNow += len(w.pending)
	}
	s := t.stats
	s.Pending, s.Bindings = pendingNow, t.lru.Len()
	return s
}
