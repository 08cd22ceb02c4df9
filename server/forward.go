package server

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/wire"
)

// The data path of a server, in the order a datagram meets it; the functions
// below follow this order (step 5 is control.go):
//
//  1. Receive   run, processBatch: one recvmmsg fills a batch; the clock is
//               read once per batch.
//  2. Classify  handle: count it; echo a ping (a reflecting one with the
//               observed source written in); decode once. A malformed
//               datagram is a drop counted by its wire reason, nothing more.
//  3. Limit     handle: the source's token bucket (insertions have their own).
//  4. First hop firstHop: if SENDER is not where the packet came from, the
//               host is behind a NAT: replies go to the observed source and a
//               trigger pointing at the stated SENDER is pointed at it (§5.1).
//     Ring      hop.go: in a ring of servers, a packet for an id another
//               server owns goes there in one hop, and its sender gets a
//               cache hint.
//  5. Control   control.go: insertions, removals, cache requests; replication
//               between servers (replicate.go).
//  6. Match     forward, route: ids[0] is looked up once in the trigger table.
//  7. Act       route, deliver, notPresent: deliver to IP targets, the header
//               [matched id, rest of the stack] written in place in front of
//               the payload and no options (but SENDER when the trigger and
//               the packet both allow a shortcut, §5.2: the receiver offers
//               the sender its address); replace ids[0] by a stack target's
//               ids and match again (service composition, §2.1), or send the
//               packet on when another server owns the new ids[0]; pop an
//               unmatched id when more follow; else tell the SENDER
//               TRIGGER_NOT_PRESENT.
//  8. Send      room, queue, flush: datagrams queue up and the batch is written
//               with one sendmmsg, after the batch's replication datagrams;
//               the counters are published per batch.
//
// Per packet there is no allocation, no log line, and no lock but the trigger
// table's read lock; the ring is one atomic load per batch and a binary
// search per packet.

// keepFlags are the header bits a delivered copy keeps: the low nibble, where
// the shortcut bit lives.
const keepFlags = 0x0f

// maxReadErrors is how many socket read errors in a row stop the server.
const maxReadErrors = 100

// run receives and handles batches until the socket is closed.
func (w *worker) run() error {
	errs := 0
	for {
		n, err := w.conn.ReadBatch(w.in)
		if n > 0 {
			w.processBatch(w.in[:n])
		}
		if err == nil {
			errs = 0
			continue
		}
		if errors.Is(err, net.ErrClosed) || w.s.isClosed() {
			return nil
		}
		if errs++; errs >= maxReadErrors {
			return err
		}
		if errs == 1 {
			w.s.log.Warn("socket read failed", "err", err)
		}
		time.Sleep(readErrorBackoff)
	}
}

// processBatch handles received datagrams ms (ms[i] in w.bufs[i]), sends what
// they produced and publishes the counters.
func (w *worker) processBatch(ms []message) {
	w.now = w.s.clock.Now().UnixNano()
	w.view = w.s.view.Load()
	for i := range ms {
		w.handle(w.bufs[i], &ms[i])
	}
	w.sealReplicas()
	w.flush()
	w.s.ctr.addFrom(&w.ctr)
}

// handle classifies, limits and acts on one datagram, held in buf at headroom.
func (w *worker) handle(buf *packetBuf, m *message) {
	w.ctr.inc(cPacketsIn)
	w.ctr.add(cBytesIn, m.n)
	if m.trunc || m.n > wire.MaxPacket {
		w.ctr.drop(DropTooBig)
		return
	}
	b := buf[headroom : headroom+m.n]
	src := m.addr.Addr()
	if wire.IsPing(b) {
		if !w.data.allow(src, w.now) {
			w.ctr.drop(DropRateLimited)
			return
		}
		w.ctr.inc(cPings)
		// A reflecting ping with room gets the observed source in its
		// body, in place: the echo is no larger (wire.PutReflected).
		wire.PutReflected(b, m.addr)
		w.room(0)
		w.queue(b, m.addr)
		return
	}
	p := &w.pkt
	if err := p.Decode(b); err != nil {
		w.ctr.drop(dropFor(err))
		return
	}
	w.budget = m.n // its replies total no more (control.go)
	// Datagrams of the other servers of a ring are not limited: they carry
	// many hosts' traffic, each limited by the server it reached first.
	peer := w.view != nil && w.view.IsMember(m.addr)
	switch {
	case peer:
	case hasRequest(p):
		if !w.inserts.allow(src, w.now) {
			w.ctr.inc(cHandled)
			rq := w.firstHop(p, m, false)
			w.refuseRate(p, &rq)
			return
		}
	case !w.data.allow(src, w.now):
		w.ctr.drop(DropRateLimited)
		return
	}
	w.ctr.inc(cHandled)
	rq := w.firstHop(p, m, peer)
	if peer && w.auth != nil && hasReplica(p) {
		rq.authed = w.auth.check(p, b, time.Unix(0, w.now))
	}
	if w.view != nil && w.ringRoute(p, buf, m, &rq) {
		return
	}
	acted := false
	if p.Flags&wire.FlagOptions != 0 {
		acted = w.control(p, &rq)
	}
	if p.Flags&wire.FlagData != 0 {
		w.forward(p, buf, m, &rq)
		acted = true
	}
	if !acted {
		w.ctr.drop(DropEmpty)
	}
}

// firstHop reads SENDER and EXT_HELLO and applies the NAT rule of §5.1 to a
// packet on its first hop: one with FIRST_HOP set (which it clears), and any
// packet that does not come from another server of the ring (peer), whatever
// its flag says: only a server sends a packet on for another host, so a host
// cannot aim replies at a third party by naming it as SENDER.
func (w *worker) firstHop(p *wire.Packet, m *message, peer bool) request {
	first := p.Flags&wire.FlagFirstHop != 0 || !peer
	rq := request{src: m.addr, dst: m.dst, replyTo: m.addr, peer: peer, firstHop: first}
	for i := range p.Options {
		switch o := &p.Options[i]; o.Type {
		case wire.OptSender:
			if o.Addr.IsIP() && !rq.sender {
				rq.sender, rq.stated, rq.replyTo = true, o.Addr.IP, o.Addr.IP
			}
		case wire.ExtHello:
			rq.hello = true
		}
	}
	p.Flags &^= wire.FlagFirstHop
	if first && rq.sender && rq.stated != m.addr {
		rq.nat, rq.replyTo = true, m.addr
		w.ctr.inc(cNATRewrites)
	}
	rq.origin = rq.src
	if peer && rq.sender {
		rq.origin = rq.replyTo // the host another server sent this for
	}
	return rq
}

// forward routes data packet p, held in buf, on its id stack.
func (w *worker) forward(p *wire.Packet, buf *packetBuf, m *message, rq *request) {
	w.fw = forwarding{
		buf:    buf,
		pay:    headroom + m.n - len(p.Payload),
		end:    headroom + m.n,
		flags:  p.Flags&keepFlags | wire.FlagData,
		budget: w.maxFanout,
	}
	if rq.sender && p.Flags&wire.FlagShortcut != 0 {
		w.fw.sender = rq.replyTo
	}
	if w.route(p.Stack.IDs[:p.Stack.N], 0, rq) {
		w.ctr.inc(cForwarded)
	}
	if w.deferCache {
		// A cache request on a data packet that may take a shortcut: the
		// receiver answers it when the packet took one (§5.2).
		if !w.fw.shortcut {
			w.cacheReply(p.Stack.IDs[0], rq)
		}
		w.deferCache = false
	}
	w.fw = forwarding{}
}

// route matches ids[0] and acts on the matching triggers; depth counts the
// stack expansions so far. It reports whether a copy was delivered or sent
// on to another server.
func (w *worker) route(ids []id.ID, depth int, rq *request) bool {
	for moved := depth > 0; len(ids) > 0; moved = true {
		if moved {
			if o, ok := w.ownerElsewhere(ids[0], rq); ok {
				return w.hopStack(ids, o.Data, rq)
			}
		}
		win, tg, excess, ok := w.s.table.lookup(ids[0], w.now, w.targets[depth][:0], w.fw.budget)
		w.targets[depth] = tg
		if !ok {
			if len(ids) > 1 {
				w.ctr.inc(cPopped)
				ids = ids[1:]
				continue
			}
			w.notPresent(ids[0], rq)
			return false
		}
		if excess > 0 {
			w.ctr.add(cDrops+int(DropFanout), excess)
		}
		sent := false
		for i := range tg {
			t := &tg[i]
			if t.ip.IsValid() {
				sent = w.deliver(win, ids[1:], t.ip, t.flags&wire.TriggerShortcut != 0) || sent
				continue
			}
			sent = w.expand(t.stack, ids[1:], depth, rq) || sent
		}
		return sent
	}
	return false
}

// expand routes the stack made of a trigger's stack target followed by rest.
func (w *worker) expand(stack, rest []id.ID, depth int, rq *request) bool {
	switch {
	case depth+1 > w.maxHops:
		w.ctr.drop(DropHopLimit)
		return false
	case len(stack)+len(rest) > wire.MaxStack:
		w.ctr.drop(DropStackOverflow)
		return false
	case w.fw.budget <= 0:
		w.ctr.drop(DropFanout)
		return false
	}
	w.fw.budget--
	w.ctr.inc(cExpanded)
	next := append(append(w.stacks[depth+1][:0], stack...), rest...)
	return w.route(next, depth+1, rq)
}

// admitCopy spends one copy of the fan-out budget on a datagram to to, with
// room for it in the send queue, unless the budget is spent or to is of the
// other address family than the socket's (counted drops).
func (w *worker) admitCopy(to netip.AddrPort) bool {
	switch {
	case w.fw.budget <= 0:
		w.ctr.drop(DropFanout)
		return false
	case !w.sameFamily(to.Addr()):
		w.ctr.drop(DropFamily)
		return false
	}
	w.fw.budget--
	w.room(0)
	return true
}

// deliver sends the payload to an IP target with the stack [win, rest...]. The
// first copy's header is written in place in front of the payload; a later
// copy with the same header shares it, one with another header gets a pooled
// buffer. With shortcut (the trigger allows one) and a packet that allows
// one too and names its SENDER, the copy carries that SENDER (§5.2).
func (w *worker) deliver(win id.ID, rest []id.ID, to netip.AddrPort, shortcut bool) bool {
	if !w.admitCopy(to) {
		return false
	}
	fw := &w.fw
	sender := shortcut && fw.sender.IsValid()
	if sender {
		fw.shortcut = true
		w.ctr.inc(cShortcuts)
	}
	h := w.dataHeader(win, rest, sender)
	var b []byte
	switch {
	case fw.inplace == nil:
		off := h.PutBefore(fw.buf[:], fw.pay)
		fw.inplace, fw.hdrLen = fw.buf[off:fw.end], fw.pay-off
		b = fw.inplace
	default:
		hb := h.AppendTo(w.hdr[:0])
		if bytes.Equal(fw.inplace[:fw.hdrLen], hb) {
			b = fw.inplace
			break
		}
		nb := bufPool.Get().(*packetBuf)
		w.extra = append(w.extra, nb)
		n := copy(nb[:], hb)
		n += copy(nb[n:], fw.buf[fw.pay:fw.end])
		b = nb[:n]
	}
	w.queue(b, to)
	w.ctr.inc(cDelivered)
	return true
}

// dataHeader returns the header of a delivered copy: the stack [win,
// rest...], in w.hdrStack, and the packet's SENDER when sender is set.
func (w *worker) dataHeader(win id.ID, rest []id.ID, sender bool) wire.DataHeader {
	w.hdrStack[0] = win
	n := 1 + copy(w.hdrStack[1:], rest)
	h := wire.DataHeader{Flags: w.fw.flags, IDs: w.hdrStack[:n]}
	if sender {
		h.Sender = w.fw.sender
	}
	return h
}

// notPresent counts a packet nothing matched and tells its SENDER, if any.
func (w *worker) notPresent(x id.ID, rq *request) {
	w.ctr.inc(cNotPresent)
	if !rq.sender {
		return
	}
	rp := w.startReply()
	rp.Options = append(rp.Options, wire.Option{Type: wire.OptTriggerNotPresent, ID: x})
	w.sendReply(rq.replyTo)
}

func (w *worker) sameFamily(a netip.Addr) bool { return a.Is4() != w.s.is6 }

// room makes sure one more datagram, and reply more bytes of control reply, can
// be queued, flushing the queue if not.
func (w *worker) room(reply int) {
	if len(w.out) == cap(w.out) || cap(w.arena)-len(w.arena) < reply {
		w.flush()
	}
}

// queue adds datagram b for to; room must have been called.
func (w *worker) queue(b []byte, to netip.AddrPort) {
	w.out = append(w.out, message{buf: b, addr: to})
}

// flush writes the queued datagrams and releases what they referenced. It
// publishes the counters first, so that a host that receives a reply sees the
// counters of what caused it.
func (w *worker) flush() {
	w.s.ctr.addFrom(&w.ctr)
	ms := w.out
	for len(ms) > 0 {
		n, err := w.conn.WriteBatch(ms)
		for i := range n {
			w.ctr.inc(cPacketsOut)
			w.ctr.add(cBytesOut, len(ms[i].buf))
		}
		ms = ms[n:]
		if len(ms) == 0 {
			break
		}
		if err != nil || n == 0 {
			if errors.Is(err, net.ErrClosed) {
				w.ctr.add(cDrops+int(DropSendFailed), len(ms))
				break
			}
			w.ctr.drop(DropSendFailed)
			ms = ms[1:]
		}
	}
	clear(w.out)
	w.out = w.out[:0]
	w.arena = w.arena[:0]
	for i, b := range w.extra {
		bufPool.Put(b)
		w.extra[i] = nil
	}
	w.extra = w.extra[:0]
}
