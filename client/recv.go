package client

// The receive path, one goroutine:
//
//  1. read a batch of datagrams (recvmmsg, up to Config.BatchSize) and read
//     the clock once; each datagram's kernel arrival stamp says how long it
//     waited in the socket (Delivery.Queued);
//  2. per datagram: a known server's is stamped heard (liveness.go); a ping
//     echo goes to the waiting Ping call (a liveness echo stops here);
//  3. decode once into a reused wire.Packet; a malformed datagram is counted
//     and dropped;
//  4. data: a packet straight from a sender (FIRST_HOP still set: a
//     shortcut) only for a trigger that allows shortcuts; a shortcut probe is
//     answered with an offer (shortcut.go), a reply to PingID goes to its
//     caller, anything else to Config.Handler, whose view aliases the receive
//     buffer;
//  5. control, believed only from known servers: cache hints first (a hint
//     naming another server than the one holding a trigger of this client
//     moves the trigger there, trigger.go follow), then challenges
//     (answered at once), ACKs (their target tells the address the servers
//     see, nat.go), TRIGGER_NOT_PRESENT, refusals and server lists; from
//     anyone else, only shortcut offers.
//
// The data path does not log and allocates nothing (the batch read,
// internal/mmsg, reuses the source addresses it returns).

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/udpgso"
	"github.com/i3net/i3net/wire"
)

// Delivery is a data packet the overlay delivered to this client. Its slices
// alias the receive buffer, which is reused once Config.Handler returns: copy
// what you keep.
type Delivery struct {
	// ID is the id of the trigger that matched: the packet's stack[0].
	ID id.ID
	// Rest holds the ids left on the packet's stack. A node in a chain
	// (service composition, paper §2.1) sends the payload on with
	// Send(d.Rest, d.Payload); an end host gets none.
	Rest []id.ID
	// Payload is the packet's data.
	Payload []byte
	// From is the server that forwarded the packet, or the sender itself
	// for a packet that took a shortcut (§5.2). Data is taken from any
	// address, so a payload is authenticated above this layer (the proxy's
	// sessions do).
	From netip.AddrPort
	// Queued is how long the datagram waited in this client's socket
	// before it was read (the kernel's arrival stamp against the clock
	// when the batch was read), 0 where the kernel does not stamp them: a
	// receiver that cannot keep up sees it grow (the proxy's queue limit).
	Queued time.Duration
}

// recvLoop is the receive goroutine (stage 1).
func (c *Client) recvLoop() {
	defer c.wg.Done()
	n := c.cfg.BatchSize
	bufs := make([]*[maxDatagram]byte, n)
	msgs := make([]ipv4.Message, n)
	stamped := udpgso.EnableRxTime(c.conn)
	for i := range msgs {
		bufs[i] = new([maxDatagram]byte)
		msgs[i].Buffers = [][]byte{bufs[i][:]}
		if stamped {
			msgs[i].OOB = make([]byte, udpgso.RxTimeSpace)
		}
	}
	var p wire.Packet
	for {
		k, err := c.bconn.ReadBatch(msgs, 0)
		now := c.clock.Now().UnixNano()
		var wall int64 // the kernel stamps in real time
		if stamped {
			wall = time.Now().UnixNano()
		}
		if err != nil {
			if c.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// An ICMP error reported on the socket, or memory pressure: not
			// fatal to a datagram socket.
			c.log.Debug("receive", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		for i := range k {
			c.queued = 0
			if at, ok := udpgso.RxTime(msgs[i].OOB[:msgs[i].NN]); ok && at < wall {
				c.queued = time.Duration(wall - at)
			}
			c.handleDatagram(&p, bufs[i][:msgs[i].N], addrPortOf(msgs[i].Addr), now)
		}
		if c.cfg.OnBatchEnd != nil {
			c.cfg.OnBatchEnd()
		}
	}
}

// handleDatagram is stages 2–5 for one datagram b from from, received at
// now (Unix ns of Config.Clock).
func (c *Client) handleDatagram(p *wire.Packet, b []byte, from netip.AddrPort, now int64) {
	c.stats.received.Add(1)
	known := c.servers.heardFrom(from, now)
	if wire.IsPing(b) {
		if known {
			c.servers.noteEcho(from)
		}
		if b[0]&^wire.PingReflect == livePingKind && known {
			if b[0] == reflectPingKind {
				c.onReflection(from, b)
			}
			return
		}
		if !c.pings.onServerPong(b, from) {
			c.stats.dropped.Add(1)
		}
		return
	}
	if err := p.Decode(b); err != nil {
		c.stats.dropped.Add(1)
		return
	}
	if p.Flags&wire.FlagData != 0 {
		if p.Flags&wire.FlagFirstHop != 0 {
			c.deliverDirect(p, from)
			return
		}
		var sender netip.AddrPort
		if len(p.Options) > 0 && (known || c.cache.names(from)) {
			c.handleControl(p, from)
			if o := p.Option(wire.OptSender); o != nil && o.Addr.IsIP() {
				sender = unmap(o.Addr.IP)
			}
		}
		c.deliver(p, from, sender)
		return
	}
	if !known && !c.cache.names(from) {
		if !c.shortcuts.onOffer(p, from) {
			c.stats.dropped.Add(1)
		}
		return
	}
	c.handleControl(p, from)
}

// deliverDirect is stage 4 for a data packet that came straight from its
// sender (a shortcut): taken only for a trigger of this client on exactly
// that id that allows shortcuts.
func (c *Client) deliverDirect(p *wire.Packet, from netip.AddrPort) {
	if !c.acceptsDirect(p.Stack.IDs[0]) {
		c.stats.dropped.Add(1)
		return
	}
	if !isProbe(p) {
		c.stats.directIn.Add(1)
	}
	c.deliver(p, from, from)
}

// deliver is stage 4; sender is where a shortcut probe is answered (the
// SENDER a server added, or where a direct packet came from), if known.
func (c *Client) deliver(p *wire.Packet, from, sender netip.AddrPort) {
	if isProbe(p) {
		c.answerProbe(p, sender)
		return
	}
	if c.pings.waiting() && c.pings.onIDPong(p, from) {
		return
	}
	if c.cfg.Handler == nil {
		c.stats.dropped.Add(1)
		return
	}
	c.stats.delivered.Add(1)
	c.cfg.Handler(Delivery{
		ID:      p.Stack.IDs[0],
		Rest:    p.Stack.IDs[1:p.Stack.N],
		Payload: p.Payload,
		From:    from,
		Queued:  c.queued,
	})
}

// handleControl is stage 5: the options of a packet from a known server.
func (c *Client) handleControl(p *wire.Packet, from netip.AddrPort) {
	// Hints first, so that answers to challenges in the same packet already
	// go to the server the hint names.
	for i := range p.Options {
		if o := &p.Options[i]; o.Type == wire.OptCacheAddr || o.Type == wire.OptForceCacheAddr {
			if c.cache.onHint(&o.Trigger) {
				c.followHint(&o.Trigger, from)
				if c.extFor(from) {
					c.probeExtensionsOnce(unmap(o.Trigger.Target.IP))
				}
			}
		}
	}
	var buf [4]*Handle
	for i := range p.Options {
		o := &p.Options[i]
		switch o.Type {
		case wire.OptTriggerChallenge:
			hs := c.handlesFor(buf[:0], o.Trigger.ID, &o.Trigger)
			if len(hs) > 0 && o.Trigger.Target.IsIP() {
				c.noteObserved(o.Trigger.Target.IP)
			}
			for _, h := range hs {
				if h.onChallenge(o.Trigger.Nonce) {
					c.stats.challenges.Add(1)
				}
			}
		case wire.OptTriggerAck:
			c.stats.acks.Add(1)
			hs := c.handlesFor(buf[:0], o.Trigger.ID, &o.Trigger)
			var observed netip.AddrPort
			if len(hs) > 0 && o.Trigger.Target.IsIP() {
				observed = unmap(o.Trigger.Target.IP)
				c.noteObserved(observed)
			}
			for _, h := range hs {
				h.onAck(from, observed)
			}
		case wire.ExtServerList:
			if !c.onServerList(o.Body) {
				c.stats.dropped.Add(1)
				continue
			}
			c.extConfirmed(from)
		case wire.OptTriggerNotPresent:
			c.stats.notPresent.Add(1)
			c.pings.onNotPresent(o.ID, from)
			c.emit(Event{Kind: EventNotPresent, ID: o.ID, Server: from})
		case wire.ExtError:
			e, err := wire.ParseError(o.Body)
			if err != nil {
				c.stats.dropped.Add(1)
				continue
			}
			c.extConfirmed(from)
			c.refused(&RefusedError{ID: e.ID, Server: from, Code: e.Code, Message: e.Message}, buf[:0])
		case wire.OptConstraintFailed:
			c.refused(&RefusedError{ID: o.Trigger.ID, Server: from, Message: msgConstraintFailed}, buf[:0])
		case wire.OptRouteBroken:
			c.refused(&RefusedError{ID: o.Trigger.ID, Server: from, Message: msgRouteBroken}, buf[:0])
		}
	}
}

// followHint moves this client's triggers on t.ID to the server the hint t
// names, if they live elsewhere (Handle.follow).
func (c *Client) followHint(t *wire.Trigger, from netip.AddrPort) {
	var buf [4]*Handle
	server := unmap(t.Target.IP)
	for _, h := range c.handlesFor(buf[:0], t.ID, nil) {
		if h.follow(server) {
			c.stats.hintMoves.Add(1)
			c.log.Info("trigger moved: a hint names another server", "id", t.ID.Short(), "to", server, "hint_from", from)
		}
	}
}

// The messages of the original protocol's failures (Code 0).
const (
	msgConstraintFailed = "constraint failed"
	msgRouteBroken      = "route broken"
)

func (c *Client) refused(e *RefusedError, buf []*Handle) {
	c.stats.refused.Add(1)
	if ok, skipped := c.refusedLog.Allow(refusalKind(e.Code, e.Message)); ok {
		args := []any{"id", e.ID.Short(), "server", e.Server, "code", uint16(e.Code), "reason", reason(e.Code, e.Message)}
		if skipped > 0 {
			args = append(args, "suppressed", skipped)
		}
		c.log.Warn("refused", args...)
	}
	for _, h := range c.handlesFor(buf, e.ID, nil) {
		h.onRefused(e)
	}
	c.emit(Event{Kind: EventRefused, ID: e.ID, Server: e.Server, Code: e.Code, Message: e.Message})
}

func (c *Client) emit(e Event) {
	if c.cfg.OnEvent != nil {
		c.cfg.OnEvent(e)
	}
}
