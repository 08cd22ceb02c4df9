package server

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/ring"
	"github.com/i3net/i3net/wire"
)

// One hop to the responsible server (paper §2, §2.2), for a server in a ring.
// After step 4 of forward.go (first hop: NAT), a data packet, an insertion, a
// removal or a cache request whose ids[0] another server owns:
//
//  1. Own?      ringRoute: one lookup in the batch's ring snapshot. Owned ids
//               are handled here (steps 5–8). So is every packet another
//               server sent on (FIRST_HOP clear, source a member's data
//               address), even when this server's view says another owns it:
//               views differ for a moment while membership changes, and a
//               packet must never go back and forth (counted, Misrouted).
//  2. Answer    a cache request alone is answered here: CACHE_ADDR naming
//               the owner (a hint), nothing sent on.
//  3. Hop       hop: the datagram goes to the owner's data address as it
//               came, FIRST_HOP cleared in place, when it needs no change. A
//               NAT rewrite (§5.1), or a request without SENDER, makes this
//               server re-encode it: SENDER becomes where replies must go,
//               and a trigger target the host stated as its own address
//               becomes the observed one; a signature that no longer covers
//               the rewritten trigger is checked here and removed (the owner
//               trusts its peers, as it trusts their EXT_REPLICATE).
//  4. Hint      hint: the SENDER, if any, gets CACHE_ADDR (ids[0]/128 →
//               the owner's data address) so that its next packets go
//               straight there; at most one per sender and prefix per
//               hintRepeat, however many packets are in flight.
//
// So a packet crosses at most one server-to-server hop: the server it
// reaches first may send it on (and so may the owner when a stack target or
// a popped id leads to another server's id, forward.go), the server it is
// sent to never does. Replies (ACK, CHALLENGE, TRIGGER_NOT_PRESENT) go from
// the owner straight to the host.

// ringRoute is steps 1–4 for packet p, held in buf; it reports whether the
// packet was dealt with (sent on, answered or dropped), false when it is
// to be handled here.
func (w *worker) ringRoute(p *wire.Packet, buf *packetBuf, m *message, rq *request) bool {
	x, ok := routingID(p)
	if !ok {
		return false
	}
	if rq.peer {
		w.ctr.inc(cHopsIn)
	}
	o, mine := owner(w.view, x)
	if mine || o.Data == w.s.public {
		return false
	}
	if rq.peer && !rq.firstHop {
		w.ctr.inc(cMisrouted)
		return false
	}
	if !w.sameFamily(o.Data.Addr()) {
		w.ctr.drop(DropFamily)
		return true
	}
	if p.Flags&wire.FlagData == 0 && !hasRequest(p) {
		// A cache request alone: the answer is the owner's address.
		w.sendHint(x, o.Data, rq.replyTo)
		return true
	}
	if !w.hop(p, buf[headroom:headroom+m.n], o.Data, rq) {
		return true
	}
	if rq.sender && w.hintDue(x, rq.replyTo) {
		w.sendHint(x, o.Data, rq.replyTo)
	}
	return true
}

// routingID returns the id a packet is routed on: ids[0] of a data packet or
// of a request (insertion, removal, cache request); a request without ids
// goes by its first trigger's id. Other packets (pings, server lists,
// replication) are for the server that receives them.
func routingID(p *wire.Packet) (id.ID, bool) {
	if p.Flags&wire.FlagData != 0 {
		return p.Stack.IDs[0], true
	}
	if p.Flags&wire.FlagOptions == 0 {
		return id.ID{}, false
	}
	for i := range p.Options {
		o := &p.Options[i]
		switch o.Type {
		case wire.OptTriggerInsert, wire.OptTriggerRemove:
			if p.Stack.N > 0 {
				return p.Stack.IDs[0], true
			}
			return o.Trigger.ID, true
		case wire.OptRequestForCache:
			if p.Stack.N > 0 {
				return p.Stack.IDs[0], true
			}
		}
	}
	return id.ID{}, false
}

// hop sends datagram b (decoded as p) on to the owner at to: step 3. It
// reports false when the packet was refused instead (a bad signature).
func (w *worker) hop(p *wire.Packet, b []byte, to netip.AddrPort, rq *request) bool {
	if !rq.nat && (rq.sender || !hasRequest(p)) && p.Option(wire.ExtSigChecked) == nil {
		wire.ClearFlags(b, wire.FlagFirstHop)
		w.room(0)
		w.queue(b, to)
		w.ctr.inc(cHops)
		return true
	}
	if !w.rewriteForHop(p, rq) {
		return false
	}
	w.room(0)
	nb := bufPool.Get().(*packetBuf)
	w.extra = append(w.extra, nb)
	w.queue(p.AppendTo(nb[:0]), to)
	w.ctr.inc(cHops)
	return true
}

// rewriteForHop applies what this first server knows to p before it goes on:
// SENDER is where replies must go (the observed source behind a NAT), and
// the NAT rule applies to its triggers. A public id's signature covers the
// trigger as the host sent it, so when the rule rewrote a signed trigger the
// signature is checked here and goes on marked EXT_SIG_CHECKED: the owner
// cannot verify it against the rewritten trigger, but checks it for replay
// (a signature used from another address). It reports false, after
// refusing, when a signature does not hold.
func (w *worker) rewriteForHop(p *wire.Packet, rq *request) bool {
	sender, checked := false, false
	for i := range p.Options {
		o := &p.Options[i]
		switch o.Type {
		case wire.OptSender:
			if o.Addr.IsIP() && !sender {
				o.Addr, sender = wire.IPAddr(rq.replyTo), true
			}
		case wire.OptTriggerInsert, wire.OptTriggerRemove:
			signed := w.natTarget(&o.Trigger, rq)
			if signed == &o.Trigger || !o.Trigger.ID.IsPublic() {
				continue
			}
			op := byte(wire.SigInsert)
			if o.Type == wire.OptTriggerRemove {
				op = wire.SigRemove
			}
			if r, msg := w.checkSignature(p, signed, op, rq); msg != "" {
				w.refuse(r, o.Trigger.ID, msg, rq)
				return false
			}
			checked = true
		}
	}
	// A host's own EXT_SIG_CHECKED is dropped: only this server's word
	// counts.
	kept := p.Options[:0]
	for _, o := range p.Options {
		if o.Type != wire.ExtSigChecked {
			kept = append(kept, o)
		}
	}
	p.Options = kept
	if checked {
		p.AddOption(wire.Option{Type: wire.ExtSigChecked})
	}
	if !sender {
		p.AddOption(wire.Option{Type: wire.OptSender, Addr: wire.IPAddr(rq.replyTo)})
	}
	return true
}

// hopStack sends the data packet being forwarded on to the owner of ids[0],
// with the stack ids: a stack target or a popped id led to an id another
// server owns (forward.go). The packet keeps its SENDER, if it had one, so
// the owner can say TRIGGER_NOT_PRESENT.
func (w *worker) hopStack(ids []id.ID, to netip.AddrPort, rq *request) bool {
	if !w.admitCopy(to) {
		return false
	}
	fw := &w.fw
	nb := bufPool.Get().(*packetBuf)
	w.extra = append(w.extra, nb)
	h := wire.DataHeader{Flags: fw.flags, IDs: ids}
	if rq.sender {
		h.Sender = rq.replyTo
	}
	b := h.AppendTo(nb[:0])
	b = append(b, fw.buf[fw.pay:fw.end]...)
	w.queue(b, to)
	w.ctr.inc(cHops)
	return true
}

// ownerElsewhere returns the owner of x when another server owns it and the
// packet may still hop (it did not come from a server): forward.go asks
// before looking up an id it reached by expansion or popping.
func (w *worker) ownerElsewhere(x id.ID, rq *request) (ring.Member, bool) {
	if w.view == nil || rq.peer {
		return ring.Member{}, false
	}
	o, mine := owner(w.view, x)
	if mine || o.Data == w.s.public {
		return ring.Member{}, false
	}
	return o, true
}

// sendHint sends CACHE_ADDR to to: ids sharing x's first 128 bits are served
// by server.
func (w *worker) sendHint(x id.ID, server, to netip.AddrPort) {
	rp := w.startReply()
	rp.Options = append(rp.Options, wire.Option{Type: wire.OptCacheAddr, Trigger: wire.Trigger{
		ID:        x,
		PrefixLen: cachePrefixLen,
		Target:    wire.IPAddr(server),
	}})
	if w.sendReply(to) {
		w.ctr.inc(cHints)
	}
}

// hintDue reports whether the sender at to should get a hint about x now:
// not if it got one about x's prefix less than hintRepeat ago. The memory
// is a small table of hashes; a collision only delays a hint.
func (w *worker) hintDue(x id.ID, to netip.AddrPort) bool {
	var k [16 + 2 + id.KeyLen]byte
	a := to.Addr().As16()
	copy(k[:], a[:])
	binary.BigEndian.PutUint16(k[16:], to.Port())
	copy(k[18:], x[:id.KeyLen])
	h := maphash.Bytes(w.hintSeed, k[:])
	s := &w.hints[h&(hintSlots-1)]
	if s.hash == h && w.now-s.at < int64(hintRepeat) {
		return false
	}
	s.hash, s.at = h, w.now
	return true
}

// hintSlot remembers the last hint sent for one (sender, prefix).
type hintSlot struct {
	hash uint64
	at   int64 // Unix nanoseconds
}
