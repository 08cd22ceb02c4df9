package client

// Liveness of the servers in use, and failover. Every FailoverAfter/4 (the
// tick, 250 ms by default) a timer of Config.Clock looks at the servers in
// use: the first hop, the servers live hints name (among them those holding
// this client's triggers, whose ACKs carry hints), and the suspects (a
// server that left an insertion or refresh unanswered, or a round-trip
// ping). The receive path stamps every datagram from a known server
// (serverState.heard).
//
//  1. While the client has sent data in the last FailoverAfter, or for a
//     suspect, a server not heard from for a tick gets a liveness ping (a
//     reflecting ping, 20 bytes, echoed with the address the server sees:
//     nat.go), at most one per tick: a live server in use answers about
//     every other tick, two pings a second.
//  2. A server silent for FailoverAfter with livePingsBeforeDown pings
//     unanswered is declared down: the next best becomes the first hop, the
//     hints naming it are dropped and ignored while it is down (packets go
//     through the first hop, which forwards them in one hop to the server now
//     responsible), and the triggers it held are inserted again at once
//     (through the new route; the challenge machinery does the rest).
//  3. A down server is used again as soon as anything comes from it (a
//     round-trip ping of the next ProbeInterval round, say).
//
// The same timer sends the NAT checks every Config.NATCheckInterval (nat.go).
//
// So delivery resumes about FailoverAfter (1 s) after a server in use dies,
// plus the time the ring takes to notice (its "lan" preset: about 1 s, in
// parallel). An idle client sends nothing for this: its triggers' refreshes
// find a dead server (suspect) and its copies serve meanwhile.

import (
	"net/netip"
	"time"

	"github.com/i3net/i3net/internal/clock"
	"github.com/i3net/i3net/wire"
)

// livenessState is the liveness timer's state; only liveTick touches it.
type livenessState struct {
	timer    clock.Timer
	lastSent uint64    // stats.sent at the last tick
	activeAt time.Time // when data was last seen going out
	natAt    time.Time // the last NAT check
}

// tick returns the liveness check's period (the NAT checks' without
// failover).
func (c *Client) tick() time.Duration {
	if c.cfg.FailoverAfter <= 0 {
		return c.cfg.NATCheckInterval
	}
	return max(c.cfg.FailoverAfter/4, time.Millisecond)
}

// startLiveness arms the liveness timer.
func (c *Client) startLiveness() {
	if c.cfg.FailoverAfter <= 0 && c.cfg.NATCheckInterval <= 0 {
		return
	}
	c.bgMu.Lock()
	c.live.timer = c.clock.AfterFunc(c.tick(), c.liveTick)
	c.bgMu.Unlock()
}

// liveTick is steps 1 and 2 above, and the NAT checks.
func (c *Client) liveTick() {
	if !c.enterBg() {
		return
	}
	defer c.wg.Done()
	l := &c.live
	now := c.clock.Now()
	if sent := c.stats.sent.Load(); sent != l.lastSent {
		l.lastSent, l.activeAt = sent, now
	}
	if c.cfg.FailoverAfter > 0 {
		active := !l.activeAt.IsZero() && now.Sub(l.activeAt) < c.cfg.FailoverAfter
		c.check(now, active)
	}
	if c.cfg.NATCheckInterval > 0 && now.Sub(l.natAt) >= c.cfg.NATCheckInterval {
		l.natAt = now
		c.checkMappings()
	}
	c.bgMu.Lock()
	if !c.stopping {
		l.timer.Reset(c.tick())
	}
	c.bgMu.Unlock()
}

// check pings the silent servers in use and declares down those that stayed
// silent; active says the client is sending data.
func (c *Client) check(now time.Time, active bool) {
	ns := now.UnixNano()
	tick := int64(c.tick())
	var ping []netip.AddrPort
	var down []*serverState
	s := &c.servers
	watched := c.watched(now)
	s.mu.Lock()
	for _, st := range watched {
		if st.down.Load() || c.answersNoPings(st) {
			continue
		}
		h := st.heard.Load()
		if h != st.mark {
			st.mark, st.pings, st.suspect = h, 0, false
		}
		if !active && !st.suspect {
			continue
		}
		quiet := ns - h
		switch {
		case quiet >= int64(c.cfg.FailoverAfter) && st.pings >= livePingsBeforeDown:
			down = append(down, st)
		case quiet >= tick && ns-st.pinged >= tick:
			st.pinged = ns
			st.pings++
			ping = append(ping, st.addr)
		}
	}
	s.mu.Unlock()
	for _, a := range ping {
		c.sendLivePing(a)
	}
	for _, st := range down {
		c.declareDown(st, time.Duration(ns-st.heard.Load()))
	}
}

// watched returns the servers in use: the first hop, the suspects, and the
// servers live hints name, at most maxWatched.
func (c *Client) watched(now time.Time) []*serverState {
	s := &c.servers
	out := []*serverState{s.first.Load()}
	s.mu.Lock()
	for _, st := range s.list {
		if st.suspect && st != out[0] && len(out) < maxWatched {
			out = append(out, st)
		}
	}
	s.mu.Unlock()
	for _, a := range c.cache.liveTargets(now, maxWatched) {
		if len(out) >= maxWatched {
			break
		}
		if st := s.lookup(a); st != nil && !containsState(out, st) {
			out = append(out, st)
		}
	}
	return out
}

func containsState(l []*serverState, st *serverState) bool {
	for _, x := range l {
		if x == st {
			return true
		}
	}
	return false
}

// sendLivePing sends a liveness ping to server; its echo stamps the server
// heard, like any datagram from it, and names the address it sees (a
// reflecting ping: onReflection).
func (c *Client) sendLivePing(server netip.AddrPort) {
	if c.sendReflectPing(server) {
		c.stats.livePings.Add(1)
	}
}

// sendReflectPing sends a reflecting ping to server: the kind byte and room
// for an IPv6 address, which our servers fill with the address they see
// (wire.PutReflected).
func (c *Client) sendReflectPing(server netip.AddrPort) bool {
	if c.closed.Load() {
		return false
	}
	b := [wire.ReflectLen]byte{reflectPingKind}
	_, err := c.conn.WriteToUDPAddrPort(b[:], server)
	return err == nil
}

// suspect marks server a suspect: something sent to it went unanswered, so
// the liveness check pings it whether or not the client sends data.
func (c *Client) suspect(a netip.AddrPort) {
	st := c.servers.lookup(a)
	if st == nil || c.cfg.FailoverAfter <= 0 {
		return
	}
	c.servers.mu.Lock()
	if !st.down.Load() && !st.suspect {
		st.suspect, st.mark = true, st.heard.Load()
	}
	c.servers.mu.Unlock()
}

// declareDown is step 2 for st, silent for quiet.
func (c *Client) declareDown(st *serverState, quiet time.Duration) {
	s := &c.servers
	s.mu.Lock()
	if st.down.Load() {
		s.mu.Unlock()
		return
	}
	st.down.Store(true)
	st.suspect = false
	moved := s.first.Load() == st && s.chooseLocked(true)
	first := s.first.Load()
	s.mu.Unlock()
	c.stats.failovers.Add(1)
	c.log.Warn("server not answering: not used until it answers again", "server", st.addr,
		"silent", quiet.Round(time.Millisecond))
	if moved {
		c.log.Warn("first hop changed", "server", first.addr, "rtt", time.Duration(first.rtt.Load()).Round(time.Microsecond))
	}
	c.cache.forgetServer(st.addr)
	c.reinsertFrom(st.addr)
}

// reinsertFrom sends at once the insertion of every trigger whose last
// insertion or refresh went to server a, or that a acknowledged last: a is
// down, and the new route (the first hop, or a fresh hint) takes it.
func (c *Client) reinsertFrom(a netip.AddrPort) {
	c.mu.Lock()
	var hs []*Handle
	for _, l := range c.handles {
		hs = append(hs, l...)
	}
	c.mu.Unlock()
	n := 0
	for _, h := range hs {
		h.mu.Lock()
		if !h.removed && (h.server == a || h.ackedBy == a) {
			h.timer.Reset(0)
			n++
		}
		h.mu.Unlock()
	}
	if n > 0 {
		c.log.Info("inserting triggers again elsewhere", "triggers", n, "down", a)
	}
}

// answersNoPings reports whether st is a server whose silence to pings says
// nothing: it answered other requests but never a ping, and has not shown it
// speaks i3net's extensions. An original 2004 server is one (it drops every
// ping, docs/wire.md); the client judges it by the answers to its insertions
// and refreshes only, rather than declare a live server down every
// FailoverAfter while it sends.
func (c *Client) answersNoPings(st *serverState) bool {
	return !st.echoes.Load() && st.heard.Load() != 0 && !c.extFor(st.addr)
}
