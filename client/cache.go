package client

import (
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/clock"
	"github.com/i3net/i3net/wire"
)

// cache holds the hints of paper §2.2: which server is responsible for the ids
// that share a 128-bit prefix (servers place all of them on one server). A
// server sends a hint (CACHE_ADDR) with every ACK and CHALLENGE and in answer to
// REQUEST_FOR_CACHE; the client then sends packets and insertions for those ids
// straight to that server instead of through the first hop. Hints are soft
// state: used for CacheTTL, asked for again when a third of that is left, and
// forgotten when the server they name stops acknowledging refreshes or is
// declared down (liveness.go); hints naming a server that is down are
// ignored.
type cache struct {
	c     *Client
	ttl   time.Duration
	retry time.Duration // least time between two requests for one prefix

	mu      sync.RWMutex
	m       map[id.Key128]cacheEntry
	targets map[netip.AddrPort]time.Time  // servers named by hints → when the last hint naming them expires
	waiters map[id.Key128][]chan struct{} // closed when a hint for the prefix arrives (nat.go)
	sweep   clock.Timer
	stopped bool
}

type cacheEntry struct {
	server  netip.AddrPort // invalid until a hint arrived
	expires time.Time      // the hint is used until then
	asked   time.Time      // when REQUEST_FOR_CACHE was last sent for the prefix
}

func (k *cache) init(c *Client, ttl time.Duration) {
	k.c = c
	k.ttl = ttl
	k.retry = c.cfg.RetryInterval
	k.m = make(map[id.Key128]cacheEntry)
	k.targets = make(map[netip.AddrPort]time.Time)
	k.waiters = make(map[id.Key128][]chan struct{})
	k.mu.Lock() // the timer may fire (a short ttl) before the assignment below is done
	k.sweep = c.clock.AfterFunc(ttl, k.sweepExpired)
	k.mu.Unlock()
}

// route returns the server a packet for x goes to and whether the caller should
// ask that server for a hint about x (none yet, or the current one is ageing).
// In steady state it takes a read lock and allocates nothing.
func (k *cache) route(x id.ID, now time.Time) (server netip.AddrPort, ask bool) {
	key := x.Key()
	k.mu.RLock()
	e, ok := k.m[key]
	k.mu.RUnlock()
	hinted := ok && e.server.IsValid() && now.Before(e.expires)
	if hinted {
		server = e.server
		ask = e.expires.Sub(now) < k.ttl/3 && now.Sub(e.asked) >= k.retry
	} else {
		server = k.c.servers.firstHop()
		ask = !ok || now.Sub(e.asked) >= k.retry
	}
	if !ask {
		return server, false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	e = k.m[key] // another sender may have asked meanwhile
	if now.Sub(e.asked) < k.retry {
		return server, false
	}
	e.asked = now
	k.m[key] = e
	return server, true
}

// put records a hint: ids sharing prefix's first 128 bits are served by server.
func (k *cache) put(prefix id.ID, server netip.AddrPort, now time.Time) {
	server = unmap(server)
	key := prefix.Key()
	exp := now.Add(k.ttl)
	k.mu.Lock()
	e := k.m[key]
	e.server, e.expires = server, exp
	k.m[key] = e
	if exp.After(k.targets[server]) {
		k.targets[server] = exp
	}
	for _, ch := range k.waiters[key] {
		close(ch)
	}
	delete(k.waiters, key)
	k.mu.Unlock()
	k.c.stats.cacheHints.Add(1)
}

// wait returns a channel closed when a hint about x's prefix arrives; the
// caller gives it back with unwait.
func (k *cache) wait(x id.ID) chan struct{} {
	ch := make(chan struct{})
	key := x.Key()
	k.mu.Lock()
	k.waiters[key] = append(k.waiters[key], ch)
	k.mu.Unlock()
	return ch
}

// unwait forgets ch, if no hint closed it.
func (k *cache) unwait(x id.ID, ch chan struct{}) {
	key := x.Key()
	k.mu.Lock()
	defer k.mu.Unlock()
	l := k.waiters[key]
	for i, w := range l {
		if w == ch {
			l = append(l[:i:i], l[i+1:]...)
			break
		}
	}
	if len(l) == 0 {
		delete(k.waiters, key)
	} else {
		k.waiters[key] = l
	}
}

// forgetServer drops every hint naming server a (declared down), so that
// packets for those ids go through the first hop again.
func (k *cache) forgetServer(a netip.AddrPort) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for key, e := range k.m {
		if e.server == a {
			delete(k.m, key)
		}
	}
	delete(k.targets, a)
}

// liveTargets returns up to n servers that live hints name, those whose
// hints last longest (the most recently renewed) first.
func (k *cache) liveTargets(now time.Time, n int) []netip.AddrPort {
	type target struct {
		a   netip.AddrPort
		exp time.Time
	}
	k.mu.RLock()
	ts := make([]target, 0, len(k.targets))
	for a, exp := range k.targets {
		if now.Before(exp) {
			ts = append(ts, target{a, exp})
		}
	}
	k.mu.RUnlock()
	slices.SortFunc(ts, func(x, y target) int { return y.exp.Compare(x.exp) })
	out := make([]netip.AddrPort, 0, min(n, len(ts)))
	for _, t := range ts[:min(n, len(ts))] {
		out = append(out, t.a)
	}
	return out
}

// forget drops the hint about x, so that packets for x go through the first
// hop again (the server the hint named stopped answering).
func (k *cache) forget(x id.ID) {
	k.mu.Lock()
	delete(k.m, x.Key())
	k.mu.Unlock()
}

// lookup returns the server the hint about x names, if a live one exists.
func (k *cache) lookup(x id.ID, now time.Time) (netip.AddrPort, bool) {
	k.mu.RLock()
	e, ok := k.m[x.Key()]
	k.mu.RUnlock()
	if !ok || !e.server.IsValid() || !now.Before(e.expires) {
		return netip.AddrPort{}, false
	}
	return e.server, true
}

// names reports whether a live hint names server a.
func (k *cache) names(a netip.AddrPort) bool {
	now := k.c.clock.Now()
	k.mu.RLock()
	exp, ok := k.targets[a]
	k.mu.RUnlock()
	return ok && now.Before(exp)
}

// onHint handles a CACHE_ADDR or FORCE_CACHE_ADDR option: t.ID's prefix is
// served by t.Target, which becomes a known server. It reports false for a
// hint that names no IP address or a server that is down.
func (k *cache) onHint(t *wire.Trigger) bool {
	if !t.Target.IsIP() {
		return false
	}
	a := unmap(t.Target.IP)
	if st := k.c.servers.lookup(a); st != nil && st.down.Load() {
		return false
	} else if st == nil {
		k.c.servers.learn([]netip.AddrPort{a})
	}
	k.put(t.ID, a, k.c.clock.Now())
	return true
}

// sweepExpired drops dead hints once per TTL, so that the map does not keep
// every id the client ever sent to.
func (k *cache) sweepExpired() {
	now := k.c.clock.Now()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stopped {
		return
	}
	for key, e := range k.m {
		if !now.Before(e.expires) && now.Sub(e.asked) >= k.retry {
			delete(k.m, key)
		}
	}
	for a, exp := range k.targets {
		if !now.Before(exp) {
			delete(k.targets, a)
		}
	}
	k.sweep.Reset(k.ttl)
}

func (k *cache) stop() {
	k.mu.Lock()
	k.stopped = true
	k.sweep.Stop()
	k.mu.Unlock()
}
