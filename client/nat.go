package client

// NAT awareness (paper §5.1). The client states its own address (SENDER,
// trigger targets); a server that sees the packet come from elsewhere uses
// what it sees, and puts it in the trigger it challenges and acknowledges.
// So the target of every ACK and CHALLENGE for a trigger pointing at this
// client is the address the servers observe: the client compares it with
// the one it states and knows whether it is behind a NAT. No extension is
// needed. When the host's own address changes, the client states the new one
// and forgets what it knew (addrwatch.go); the next answer tells again.
//
// Behind a NAT (or before the first answer tells), an insertion for an id
// the cache has no hint for first asks the first hop who is responsible
// (REQUEST_FOR_CACHE) and waits for the hint up to RetryInterval/4 (500 ms
// at most), then
// goes straight to that server: the NAT then opens a mapping toward the
// server that will send to this client, which restricted and symmetric
// NATs require. Refreshes keep going there (every ACK renews the hint) and
// keep that mapping open: RefreshMax (15 s) is below the 30 s that UDP
// mappings commonly last. Behind a NAT, shortcuts are off both ways (paper
// §5.2): triggers are inserted without ShortcutAllowed, no probe is sent
// and no offer made.
//
// A NAT may change its mapping (a new outside address or port) without the
// host seeing any local change (addrwatch.go sees none): the servers then
// deliver to the old mapping until the next refresh, 10–15 s later. So
// the liveness pings (liveness.go) and, behind a NAT, one ping every
// Config.NATCheckInterval (2 s) to each server holding one of this
// client's triggers on its own address (at most maxWatched servers, only
// while it has such triggers) are reflecting pings: our servers echo them
// with the address they see (docs/wire.md; original servers echo zeros,
// which tell nothing). An echo from server S naming another address than
// the target of S's last ACK for a trigger refreshes that trigger at once
// (rebind; at most once per RetryInterval per trigger): the refresh comes
// from the new mapping, S points the trigger there and challenges it as
// usual. Delivery to a host whose NAT changed its mapping resumes within
// about NATCheckInterval, sooner while it sends (the liveness pings). Cost:
// a 20-byte datagram each way per server every 2 s (24 B/s with UDP/IPv4
// headers), which also keeps those mappings open.

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/wire"
)

// natState is what the client knows of the address the servers see.
type natState struct {
	known  atomic.Bool // an ACK or CHALLENGE told
	behind atomic.Bool // the servers see another address than the stated one

	mu       sync.Mutex
	observed netip.AddrPort
	rebound  netip.AddrPort // the new mapping last logged (onReflection)
}

// NATInfo is what the client knows of a NAT in front of it.
type NATInfo struct {
	// Known: an answer of a server has told the client the address it sees
	// (the first insertion's).
	Known bool `json:"known"`
	// Behind: the servers see Observed, not the address the client states
	// (LocalAddr): a NAT rewrites it.
	Behind   bool           `json:"behind"`
	Observed netip.AddrPort `json:"observed,omitzero"`
}

// NAT returns what the client knows of a NAT in front of it.
func (c *Client) NAT() NATInfo {
	c.nat.mu.Lock()
	defer c.nat.mu.Unlock()
	return NATInfo{Known: c.nat.known.Load(), Behind: c.nat.behind.Load(), Observed: c.nat.observed}
}

// noteObserved records the address a server put in the target of an ACK or
// CHALLENGE for one of this client's triggers on its own address.
func (c *Client) noteObserved(a netip.AddrPort) {
	a = unmap(a)
	n := &c.nat
	n.mu.Lock()
	if n.known.Load() && n.observed == a {
		n.mu.Unlock()
		return
	}
	n.observed = a
	behind := a != c.self()
	was := n.behind.Swap(behind)
	n.known.Store(true)
	n.mu.Unlock()
	switch {
	case behind && !was:
		c.log.Info("behind a NAT: insertions go straight to the responsible server; shortcuts off",
			"stated", c.self(), "observed", a)
	case !behind && was:
		c.log.Info("no NAT any more", "addr", a)
	}
}

// insertDirect reports whether insertions must reach the responsible server
// straight (behind a NAT, or not known yet).
func (c *Client) insertDirect() bool { return !c.nat.known.Load() || c.nat.behind.Load() }

// hintWait is how long an insertion waits for the hint it asked for.
func (c *Client) hintWait() time.Duration { return min(c.cfg.RetryInterval/4, hintWaitMax) }

// awaitHint makes sure, when insertions must go straight to the responsible
// server, that a live hint names it for x: if none does, it asks the first
// hop and waits up to hintWait, or until ctx ends, for the answer. It may
// block; it is not called from the receive goroutine.
func (c *Client) awaitHint(ctx context.Context, x id.ID) {
	if !c.insertDirect() {
		return
	}
	if _, ok := c.cache.lookup(x, c.clock.Now()); ok {
		return
	}
	ch := c.cache.wait(x)
	defer c.cache.unwait(x, ch)
	c.requestHint(x, c.servers.firstHop())
	t := time.NewTimer(c.hintWait())
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
	case <-c.done:
	}
}

// checkMappings is the NAT check: behind a NAT, a reflecting ping to each
// known server (at most maxWatched) that acknowledged one of this client's
// triggers on its own address.
func (c *Client) checkMappings() {
	if !c.nat.behind.Load() {
		return
	}
	var to []netip.AddrPort
	for _, h := range c.allHandles() {
		h.mu.Lock()
		a := h.ackedBy
		ok := !h.removed && h.inserted && len(h.t.Target) == 0 && a.IsValid()
		h.mu.Unlock()
		if ok && len(to) < maxWatched && !slices.Contains(to, a) {
			if st := c.servers.lookup(a); st != nil && !st.down.Load() {
				to = append(to, a)
			}
		}
	}
	for _, a := range to {
		if c.sendReflectPing(a) {
			c.stats.natChecks.Add(1)
		}
	}
}

// onReflection handles the echo b of a reflecting ping from server from: when
// from names another address than the target of its last ACK for a trigger
// on this client's own address, the NAT's mapping changed, and the trigger
// is refreshed at once (rebind).
func (c *Client) onReflection(from netip.AddrPort, b []byte) {
	seen, ok := wire.Reflected(b)
	if !ok {
		return // a server that does not reflect
	}
	now := c.clock.Now()
	var old netip.AddrPort
	n := 0
	for _, h := range c.allHandles() {
		if o, ok := h.rebind(from, seen, now); ok {
			old = o
			n++
		}
	}
	if n == 0 {
		return
	}
	c.stats.natRebinds.Add(uint64(n))
	nat := &c.nat
	nat.mu.Lock()
	logged := nat.rebound == seen
	nat.rebound = seen
	nat.mu.Unlock()
	if !logged {
		c.log.Info("NAT mapping changed: triggers refreshed at once", "old", old, "new", seen, "server", from, "triggers", n)
	}
}

// rebind refreshes h at once when server, which acknowledged it last, now
// sees this client at seen rather than at the target its ACK named; it
// returns that target. Nothing happens for a stack target, a trigger being
// prepared (the insertion goes out from the new mapping anyway), or more
// than once per RetryInterval.
func (h *Handle) rebind(server, seen netip.AddrPort, now time.Time) (netip.AddrPort, bool) {
	c := h.c
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.removed || !h.inserted || h.firing || len(h.t.Target) != 0 || h.ackedBy != server ||
		!h.observed.IsValid() || h.observed == seen ||
		(!h.rebound.IsZero() && now.Sub(h.rebound) < c.cfg.RetryInterval) {
		return netip.AddrPort{}, false
	}
	h.rebound = now
	// An answer to what went from the old mapping is not missed (its ACK
	// went there).
	h.waiting = false
	h.timer.Reset(0)
	return h.observed, true
}
