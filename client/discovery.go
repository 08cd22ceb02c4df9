package client

// Discovery, in the background: the client asks its servers for the
// overlay's server list (EXT_SERVER_LIST) every ListInterval and measures the
// round trip to every known server every ProbeInterval, then makes the
// nearest one that answers its first hop (servers.go). Both run on one timer
// of Config.Clock, the first time at New; a round blocks only its own
// goroutine (pings wait in real time, at most probeTimeout each).

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/i3net/i3net/internal/clock"
	"github.com/i3net/i3net/wire"
)

// discoveryState is the schedule of the discovery timer; only discover
// touches it (one round at a time).
type discoveryState struct {
	timer     clock.Timer
	nextList  time.Time
	nextProbe time.Time
}

// listsOn reports whether the client asks for server lists.
func (c *Client) listsOn() bool { return c.cfg.ListInterval > 0 && !c.cfg.NoExtensions }

// startDiscovery arms the discovery timer to run at once.
func (c *Client) startDiscovery() {
	if !c.listsOn() && c.cfg.ProbeInterval <= 0 {
		return
	}
	c.bgMu.Lock()
	c.disc.timer = c.clock.AfterFunc(0, c.discover)
	c.bgMu.Unlock()
}

// discover is the discovery timer: a list round and a round-trip round when
// they are due, then the timer is armed for the next one.
func (c *Client) discover() {
	if !c.enterBg() {
		return
	}
	defer c.wg.Done()
	d := &c.disc
	now := c.clock.Now()
	if c.listsOn() && !now.Before(d.nextList) {
		d.nextList = now.Add(jitter(c.cfg.ListInterval, 10))
		c.askServerLists()
		if !c.sleep(listWait) {
			return
		}
	}
	if c.cfg.ProbeInterval > 0 && !now.Before(d.nextProbe) {
		d.nextProbe = now.Add(jitter(c.cfg.ProbeInterval, 20))
		c.measure(context.Background())
	}
	next := d.nextProbe
	if c.listsOn() && (c.cfg.ProbeInterval <= 0 || d.nextList.Before(next)) {
		next = d.nextList
	}
	c.bgMu.Lock()
	if !c.stopping {
		d.timer.Reset(max(0, next.Sub(c.clock.Now())))
	}
	c.bgMu.Unlock()
}

// jitter returns d changed by a random amount of up to pct percent either way.
func jitter(d time.Duration, pct int64) time.Duration {
	span := int64(d) * pct / 100
	if span <= 0 {
		return d
	}
	return d + time.Duration(rand.Int64N(2*span+1)-span)
}

// sleep waits d in real time; it reports false when the client closed.
func (c *Client) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.done:
		return false
	}
}

// askServerLists starts a list round: learned servers no list named lately
// are forgotten, and the first hop and the next best are asked. Answers are
// merged as they arrive (onServerList).
func (c *Client) askServerLists() {
	c.servers.forgetUnlisted(c.cache.names)
	for _, a := range c.servers.ranked(listFanout) {
		c.sendListRequest(a)
	}
}

// sendListRequest asks server for the server list: EXT_SERVER_LIST with an
// all-zero body, padded so that a list of MaxServers addresses fits the
// answer (a server answers no datagram with more bytes than it had).
func (c *Client) sendListRequest(server netip.AddrPort) {
	p := wire.Packet{Flags: wire.FlagOptions}
	p.AddOption(wire.Option{Type: wire.ExtServerList})
	p.AddOption(wire.Option{Type: wire.OptSender, Addr: wire.IPAddr(c.self())})
	p.AddOption(wire.HelloOption())
	self := wire.IPAddr(c.self())
	addrLen := self.EncodedLen()
	want := c.cfg.MaxServers*addrLen + 9 // what the answer needs
	if pad := want - p.HeaderLen(); pad > 0 {
		p.Options[0].Body = make([]byte, pad)
	}
	if c.closed.Load() {
		return
	}
	buf := c.bufs.Get().(*[maxDatagram]byte)
	if _, err := c.conn.WriteToUDPAddrPort(p.AppendTo(buf[:0]), server); err == nil {
		c.stats.listRequests.Add(1)
		c.extProbed(server)
	}
	c.bufs.Put(buf)
}

// onServerList merges a server list that a known server sent.
func (c *Client) onServerList(body []byte) bool {
	addrs, err := wire.ParseServerList(nil, body)
	if err != nil || len(addrs) == 0 {
		return false
	}
	aps := make([]netip.AddrPort, len(addrs))
	for i := range addrs {
		aps[i] = addrs[i].IP
	}
	c.stats.serverLists.Add(1)
	if n := c.servers.learn(aps); n > 0 {
		c.log.Debug("servers learned", "new", n, "listed", len(aps))
	}
	return true
}

// Measure pings every known server now (at most eight at once, each waiting
// up to 500 ms twice), records the round trips and picks the first hop. It
// returns when every ping answered or timed out, or ctx ends. The client
// does this by itself every ProbeInterval; a program that wants the nearest
// server before its first packet calls it after New.
func (c *Client) Measure(ctx context.Context) error {
	if c.closed.Load() {
		return ErrClosed
	}
	c.measure(ctx)
	if c.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// measure is one round-trip round.
func (c *Client) measure(ctx context.Context) {
	sem := make(chan struct{}, probeParallel)
	var wg sync.WaitGroup
	for _, st := range c.servers.snapshot() {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		case <-c.done:
		}
		if ctx.Err() != nil || c.closed.Load() {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c.probe(ctx, st)
		}()
	}
	wg.Wait()
	s := &c.servers
	s.mu.Lock()
	changed := s.chooseLocked(false)
	first := s.first.Load()
	s.mu.Unlock()
	if changed {
		c.log.Info("first hop changed", "server", first.addr, "rtt", time.Duration(first.rtt.Load()).Round(time.Microsecond))
	}
}

// probe measures the round trip to one server, probeAttempts tries at most.
func (c *Client) probe(ctx context.Context, st *serverState) {
	for range probeAttempts {
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		rtt, err := c.Ping(pctx, st.addr)
		cancel()
		if err == nil {
			old := st.rtt.Load()
			if old > 0 {
				rtt = (3*time.Duration(old) + rtt) / 4
			}
			st.rtt.Store(max(int64(rtt), 1))
			c.servers.mu.Lock()
			st.unreachable = false
			c.servers.mu.Unlock()
			return
		}
		if ctx.Err() != nil || c.closed.Load() {
			return
		}
	}
	c.servers.mu.Lock()
	st.unreachable = true
	if !st.down.Load() && (c.servers.first.Load() == st || c.cache.names(st.addr)) {
		st.suspect, st.mark = true, st.heard.Load() // in use: liveness decides
	}
	c.servers.mu.Unlock()
}
