package client

// The stated address. A client bound to a wildcard address (the default)
// states as its own the bound port with the source address the kernel picks
// toward Config.Servers[0]: its triggers point there, SENDER names it, its
// shortcut offers name it. A host that moves (its interface renumbered, a
// new DHCP lease, another network) keeps its socket, but that address goes
// stale: its triggers point where nobody answers and its offers are refused
// until the next refresh, 10–15 s later. So every Config.AddrCheckInterval
// (1 s) a timer of Config.Clock asks the kernel again (connecting a UDP
// socket is a route lookup: nothing is sent) and, when the answer changed:
//
//  1. the new address replaces the old one, whole: one atomic pointer to
//     the address and its encoded SENDER option, which the per-packet paths
//     read without a lock and without allocating;
//  2. what the client knew of a NAT is forgotten: the next ACK tells again
//     (meanwhile insertions ask for the hint and go straight to the
//     responsible server, nat.go);
//  3. every trigger is inserted again at once, those on the client's own
//     address pointing at the new one (the server challenges the new
//     target; its copy pointing at the old one expires after the trigger
//     TTL);
//  4. the shortcuts this client sends on are probed again at their next
//     packet. A sender with a direct path to this client finds it dead
//     within ShortcutTimeout and probes through the overlay, which now
//     leads to the new address, where the offer comes from.
//
// So delivery to a host that moved resumes about a second after the move.
// A lookup that fails (no route for a moment while the interface changes)
// keeps the old address until one succeeds. What cannot be seen locally, a
// NAT in front of the host that changes its outside address or loses its
// mappings, the host's own address unchanged, the servers tell: the echoes
// of reflecting pings name the address they see, and a trigger whose server
// sees another one is refreshed at once (nat.go). A client
// bound to a specific address (Config.LocalAddr) states that one and
// watches nothing.

import (
	"net/netip"

	"github.com/i3net/i3net/internal/clock"
)

// statedSelf is the address the client states (in SENDER, written into
// every data header, and in trigger targets); never changed once published.
type statedSelf struct {
	addr netip.AddrPort
}

func newStatedSelf(a netip.AddrPort) *statedSelf { return &statedSelf{addr: a} }

// self returns the address the client states as its own.
func (c *Client) self() netip.AddrPort { return c.stated.Load().addr }

// addrWatch is the address check's state; only New and addrTick touch it.
type addrWatch struct {
	timer   clock.Timer
	on      bool // bound to a wildcard address: the address is derived
	failing bool // the last lookup failed (logged once)
}

// sourceAddr asks the kernel which source address it picks toward
// Servers[0].
func (c *Client) sourceAddr() (netip.Addr, error) {
	if c.cfg.routeSource != nil {
		return c.cfg.routeSource(c.cfg.Servers[0])
	}
	return routeSource(c.cfg.Servers[0])
}

// deriveSelf returns the address the client states at New: the bound one,
// or, bound to a wildcard, the bound port with the source address the kernel
// picks toward Servers[0] (then watched).
func (c *Client) deriveSelf() (netip.AddrPort, error) {
	if c.cfg.stated.IsValid() {
		return c.cfg.stated, nil
	}
	bound := boundAddr(c.conn)
	if !bound.Addr().IsUnspecified() {
		return bound, nil
	}
	src, err := c.sourceAddr()
	if err != nil {
		return netip.AddrPort{}, err
	}
	c.addr.on = true
	return netip.AddrPortFrom(src, bound.Port()), nil
}

// startAddrWatch arms the address check.
func (c *Client) startAddrWatch() {
	if !c.addr.on || c.cfg.AddrCheckInterval <= 0 {
		return
	}
	c.bgMu.Lock()
	c.addr.timer = c.clock.AfterFunc(c.cfg.AddrCheckInterval, c.addrTick)
	c.bgMu.Unlock()
}

// addrTick is the address check's timer.
func (c *Client) addrTick() {
	if !c.enterBg() {
		return
	}
	defer c.wg.Done()
	c.checkSelf()
	c.bgMu.Lock()
	if !c.stopping {
		c.addr.timer.Reset(c.cfg.AddrCheckInterval)
	}
	c.bgMu.Unlock()
}

// checkSelf derives the stated address again and, when it changed, does
// steps 1–4 above. It reports whether it changed.
func (c *Client) checkSelf() bool {
	old := c.self()
	src, err := c.sourceAddr()
	if err != nil || !src.IsValid() || src.IsUnspecified() || src.Is4() != old.Addr().Is4() {
		if !c.addr.failing {
			c.addr.failing = true
			c.log.Info("cannot tell the local address: keeping the one stated", "addr", old, "err", err)
		}
		return false
	}
	c.addr.failing = false
	now := netip.AddrPortFrom(src, old.Port())
	if now == old {
		return false
	}
	c.stated.Store(newStatedSelf(now))
	c.forgetNAT()
	n := c.reinsertAll()
	c.shortcuts.reprobe(c.clock.Now())
	c.log.Info("local address changed: triggers inserted again", "old", old, "new", now, "triggers", n)
	return true
}

// forgetNAT drops what the client knew of a NAT: its address changed.
func (c *Client) forgetNAT() {
	n := &c.nat
	n.mu.Lock()
	n.known.Store(false)
	n.behind.Store(false)
	n.observed = netip.AddrPort{}
	n.mu.Unlock()
}

// reinsertAll sends at once the insertion of every trigger (each names the
// stated address as it is when sent, packetLocked) and returns how many.
func (c *Client) reinsertAll() int {
	n := 0
	for _, h := range c.allHandles() {
		h.mu.Lock()
		if !h.removed {
			// An answer to what went from the old address is not missed.
			h.waiting = false
			h.timer.Reset(0)
			n++
		}
		h.mu.Unlock()
	}
	return n
}
