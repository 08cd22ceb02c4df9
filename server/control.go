package server

import (
	"net/netip"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/wire"
)

// The control path: the options a server acts on (TRIGGER_INSERT,
// TRIGGER_REMOVE, REQUEST_FOR_CACHE, EXT_SERVER_LIST requests, and
// EXT_REPLICATE from the other servers of a ring, replicate.go) and the
// replies it sends. Every other option is hop-local information the server
// reads (SENDER, EXT_HELLO, EXT_SIGNATURE) or ignores; none is forwarded
// (a whole packet going on to another server of the ring is hop.go's).
//
// Replies, and where they go:
//
//	insertion, wrong nonce   TRIGGER_CHALLENGE               → the trigger's target (an
//	                                                           IP address), or the
//	                                                           inserter for a stack target
//	insertion, right nonce   TRIGGER_ACK + CACHE_ADDR        → the inserter
//	REQUEST_FOR_CACHE        CACHE_ADDR                      → the inserter (none when
//	                         the same data packet takes a shortcut: its receiver answers)
//	nothing matched          TRIGGER_NOT_PRESENT             → SENDER, if given
//	refusal                  EXT_ERROR                       → the inserter, only if
//	                                                           it sent EXT_HELLO
//	EXT_SERVER_LIST request  EXT_SERVER_LIST                 → the observed source, only
//	                                                           if it sent EXT_HELLO
//	packet sent on (ring)    CACHE_ADDR naming the owner     → SENDER, if given (hop.go)
//
// "The inserter" is SENDER, or the observed source when SENDER is missing or a
// NAT rewrote it. Every reply passes the destination's reply limit (ReplyRate).
//
// No amplification: the replies to one datagram never total more bytes than
// the datagram had (w.budget; a reply that does not fit is withheld and
// counted, DropReplyTooBig), so a spoofed or SENDER-aimed request cannot
// make a server send a third party more than the attacker sent. What does
// not fit is left out rather than the whole reply: CACHE_ADDR in an ACK, the
// end of an EXT_ERROR message, addresses of a server list. A CHALLENGE never
// carries CACHE_ADDR (the original server's did: 155 bytes answering an
// INSERT of 80 to 120, aimed at the trigger's target; the ACK has it). A
// host that wants a longer answer pads its request (EXT_PADDING, or zeros in
// an EXT_SERVER_LIST request body), as QUIC clients pad their first packet.
// One exception: an ACK whose nonce the server had sent to the ACK's own
// destination (the trigger's target is the inserter, or a stack) goes with its
// CACHE_ADDR whatever its size, as the original server sent it: the nonce
// proves that the destination asked. A ping is echoed as it came. In a ring,
// a datagram the first server sends on may be answered by both servers
// (that one's hint, the owner's reply), each within the datagram's size.

// hasRequest reports whether p carries an insertion or a removal, which count
// against InsertRate instead of DataRate.
func hasRequest(p *wire.Packet) bool {
	if p.Flags&wire.FlagOptions == 0 {
		return false
	}
	for i := range p.Options {
		if t := p.Options[i].Type; t == wire.OptTriggerInsert || t == wire.OptTriggerRemove {
			return true
		}
	}
	return false
}

// control acts on p's options; it reports whether any was a request.
func (w *worker) control(p *wire.Packet, rq *request) bool {
	acted, notMember, badAuth := false, false, false
	for i := range p.Options {
		o := &p.Options[i]
		switch o.Type {
		case wire.OptTriggerInsert:
			w.insert(p, &o.Trigger, rq)
			acted = true
		case wire.OptTriggerRemove:
			w.remove(p, &o.Trigger, rq)
			acted = true
		case wire.OptRequestForCache:
			switch {
			case p.Stack.N == 0:
			case p.Flags&wire.FlagData != 0 && p.Flags&wire.FlagShortcut != 0:
				w.deferCache = true // forward decides (shortcut or not)
			default:
				w.cacheReply(p.Stack.IDs[0], rq)
			}
			acted = true
		case wire.ExtServerList:
			if isListRequest(o.Body) {
				w.serverList(rq)
				acted = true
			}
		case wire.ExtReplicate:
			switch {
			case !rq.peer:
				notMember = true
			case w.auth != nil && !rq.authed:
				badAuth = true
			default:
				w.applyReplica(o.Body)
			}
			acted = true
		}
	}
	if notMember {
		w.ctr.drop(DropNotMember)
	}
	if badAuth {
		w.ctr.drop(DropRingAuth)
	}
	return acted
}

// natTarget applies the NAT rule to trigger t in place: a target equal to the
// SENDER the host stated becomes the observed source. It returns the trigger as
// the host sent it (what a signature covers).
func (w *worker) natTarget(t *wire.Trigger, rq *request) *wire.Trigger {
	if !rq.nat || !t.Target.IsIP() || t.Target.IP != rq.stated {
		return t
	}
	w.sigTrig = *t
	t.Target = wire.IPAddr(rq.src)
	return &w.sigTrig
}

// insert handles one TRIGGER_INSERT: check it, challenge it or install it.
func (w *worker) insert(p *wire.Packet, t *wire.Trigger, rq *request) {
	w.ctr.inc(cInserts)
	signed := w.natTarget(t, rq)
	if msg := w.checkTrigger(t, rq); msg != "" {
		w.refuse(RefusedBadTrigger, t.ID, msg, rq)
		return
	}
	if t.ID.IsPublic() {
		if r, msg := w.checkSignature(p, signed, wire.SigInsert, rq); msg != "" {
			w.refuse(r, t.ID, msg, rq)
			return
		}
	}
	if !w.ch.check(t, rq.replyTo, w.now) {
		if t.Nonce != [wire.NonceLen]byte{} {
			w.ctr.inc(cStaleNonces)
		}
		w.challenge(t, rq)
		return
	}
	e := entry{
		id:        t.ID,
		prefixLen: t.PrefixLen,
		flags:     t.Flags,
		key:       t.Key,
		expires:   w.now + w.ttl,
		owner:     sourceKey(rq.origin.Addr()),
	}
	if t.Target.IsIP() {
		e.ip = t.Target.IP
	} else {
		e.stack = t.Target.Stack.IDs[:t.Target.Stack.N]
	}
	switch w.s.table.upsert(e, w.now) {
	case upsertInstalled:
		w.ctr.inc(cInstalled)
		w.replicate(wire.ReplicateInstall, t, w.ttl, rq.origin)
	case upsertRefreshed:
		w.ctr.inc(cRefreshed)
		w.replicate(wire.ReplicateInstall, t, w.ttl, rq.origin)
	case upsertTableFull:
		w.refuse(RefusedTableFull, t.ID, "trigger table full", rq)
		return
	case upsertSourceLimit:
		w.refuse(RefusedSourceLimit, t.ID, "too many triggers from this source address", rq)
		return
	}
	// The nonce went to the target, or to the inserter for a stack target:
	// when that is where the ACK goes, its destination asked for it.
	asked := !t.Target.IsIP() || t.Target.IP == rq.replyTo
	rp := w.startReply()
	rp.Options = append(rp.Options, wire.Option{Type: wire.OptTriggerAck, Trigger: *t})
	w.appendCacheAddr(rp, t.ID, t.Key, rq, asked)
	if w.sendReplyAsked(rq.replyTo, asked) {
		w.ctr.inc(cAcks)
	}
}

// challenge sends t back with the nonce it must carry, to its target when that
// is an IP address (only the target can answer), else to the inserter; no
// CACHE_ADDR (see above: it would make the reply larger than the request).
func (w *worker) challenge(t *wire.Trigger, rq *request) {
	to := rq.replyTo
	if t.Target.IsIP() {
		to = t.Target.IP
	}
	rp := w.startReply()
	rp.Options = append(rp.Options, wire.Option{Type: wire.OptTriggerChallenge, Trigger: *t})
	rp.Options[0].Trigger.Nonce = w.ch.nonce(t, rq.replyTo, w.now)
	if w.sendReply(to) {
		w.ctr.inc(cChallenges)
	}
}

// remove handles one TRIGGER_REMOVE: with a valid nonce (and signature, for a
// public id) the trigger with that id and target goes. Nothing is answered.
func (w *worker) remove(p *wire.Packet, t *wire.Trigger, rq *request) {
	signed := w.natTarget(t, rq)
	if t.ID.IsPublic() {
		if r, msg := w.checkSignature(p, signed, wire.SigRemove, rq); msg != "" {
			w.ctr.inc(cRemovalsRefused)
			w.refuse(r, t.ID, msg, rq)
			return
		}
	}
	if !w.ch.check(t, rq.replyTo, w.now) {
		w.ctr.inc(cRemovalsRefused)
		return
	}
	var tg target
	if t.Target.IsIP() {
		tg.ip = t.Target.IP
	} else {
		tg.stack = t.Target.Stack.IDs[:t.Target.Stack.N]
	}
	if w.s.table.remove(t.ID, tg) {
		w.ctr.inc(cRemovals)
		w.replicate(wire.ReplicateRemove, t, 0, rq.origin)
	}
}

// cacheReply answers REQUEST_FOR_CACHE for x: this server is responsible.
func (w *worker) cacheReply(x id.ID, rq *request) {
	rp := w.startReply()
	w.appendCacheAddr(rp, x, [wire.KeyLen]byte{}, rq, true)
	if w.sendReply(rq.replyTo) {
		w.ctr.inc(cCacheReplies)
	}
}

// checkTrigger returns why t cannot be installed here, or "".
func (w *worker) checkTrigger(t *wire.Trigger, rq *request) string {
	if t.PrefixLen > wire.MaxPrefixLen {
		return "prefix length above 256"
	}
	switch t.Target.Kind {
	case wire.AddrStack:
		if t.Target.Stack.N == 0 {
			return "empty stack target"
		}
		return ""
	}
	a := t.Target.IP.Addr()
	switch {
	case !a.IsValid() || a.IsUnspecified() || a.IsMulticast() || t.Target.IP.Port() == 0 ||
		a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "target is not a unicast address and port"
	case !w.sameFamily(a):
		if w.s.is6 {
			return "IPv4 target: this server serves IPv6"
		}
		return "IPv6 target: this server serves IPv4"
	case t.Target.IP == w.s.local || t.Target.IP == w.s.advertised(rq.dst):
		return "target is this server"
	}
	return ""
}

// checkSignature checks the EXT_SIGNATURE of p for operation op on public-id
// trigger t (as the host sent it). It returns the refusal and a message, or
// "" when the request may proceed. A request another server of the ring sent
// on without a signature is that server's word; one marked EXT_SIG_CHECKED
// had its signature verified there against the trigger as the host stated it
// (hop.go), so here it is checked for replay only.
func (w *worker) checkSignature(p *wire.Packet, t *wire.Trigger, op byte, rq *request) (Refusal, string) {
	o := p.Option(wire.ExtSignature)
	if o == nil {
		if w.requireSig && !rq.peer {
			return RefusedSignatureNeeded, "public id needs an EXT_SIGNATURE by its key"
		}
		return 0, ""
	}
	s, err := wire.ParseSignature(o.Body)
	if err != nil {
		return RefusedBadSignature, "malformed EXT_SIGNATURE"
	}
	if now, skew := w.now/1e9, w.skew/1e9; s.Time < now-skew || s.Time > now+skew {
		return RefusedBadSignature, "signature time too far from the server's clock"
	}
	// A key owns the 128-bit prefix of its public id: the members of an
	// anycast group sharing the key keep the prefix and choose their suffixes
	// (paper §2.1); the overlay never matches fewer than 128 bits.
	if id.CommonPrefixLen(id.FromPublicKey(s.PublicKey[:]), t.ID) < id.Bits/2 {
		return RefusedBadSignature, "signing key does not own this id"
	}
	if !(rq.peer && p.Option(wire.ExtSigChecked) != nil) && !s.Verify(op, t) {
		return RefusedBadSignature, "signature does not verify"
	}
	if !w.sigs.use(o.Body, rq.origin, w.now) {
		return RefusedSignatureReplayed, "signature already used from another address"
	}
	return 0, ""
}

// refuseRate refuses every request of p: its source is over InsertRate.
func (w *worker) refuseRate(p *wire.Packet, rq *request) {
	var first id.ID
	n := 0
	for i := range p.Options {
		o := &p.Options[i]
		if o.Type != wire.OptTriggerInsert && o.Type != wire.OptTriggerRemove {
			continue
		}
		if o.Type == wire.OptTriggerInsert {
			w.ctr.inc(cInserts)
		}
		w.ctr.refuse(RefusedRateLimited)
		if n == 0 {
			first = o.Trigger.ID
		}
		n++
	}
	w.tell(RefusedRateLimited, first, w.rateLimitMsg, rq)
}

// refuse counts a refused request and tells the host why, if it can hear it.
func (w *worker) refuse(r Refusal, x id.ID, msg string, rq *request) {
	w.ctr.refuse(r)
	w.tell(r, x, msg, rq)
}

// tell sends EXT_ERROR to a host that announced EXT_HELLO, its message cut
// to what the reply budget leaves room for.
func (w *worker) tell(r Refusal, x id.ID, msg string, rq *request) {
	if !rq.hello {
		return
	}
	room := w.budget - errorReplyLen
	if room < 0 {
		w.ctr.drop(DropReplyTooBig)
		return
	}
	e := wire.ErrorBody{Code: r.Code(), ID: x, Message: msg[:min(len(msg), room)]}
	b := e.AppendTo(w.errBody[:0])
	rp := w.startReply()
	rp.Options = append(rp.Options, wire.Option{Type: wire.ExtError, Body: b})
	if w.sendReply(rq.replyTo) {
		w.ctr.inc(cErrorsSent)
	}
}

// isListRequest reports whether an EXT_SERVER_LIST body asks for the list: it
// is empty or all zeros (padding; an answer's count is never 0).
func isListRequest(body []byte) bool {
	for _, b := range body {
		if b != 0 {
			return false
		}
	}
	return true
}

// serverList answers an EXT_SERVER_LIST request with the data addresses of
// the ring's servers in ring order (this server's own address when it runs
// alone), as many as fit in the request's size (the host pads its request
// for a longer list), to a host that announced EXT_HELLO, at the address the
// request came from.
func (w *worker) serverList(rq *request) {
	if !rq.hello {
		return
	}
	budget := w.budget - (wire.ControlHeaderLen + wire.ExtHeaderLen + wire.ServerListHeaderLen)
	addrs := w.listAddrs[:0]
	add := func(a netip.AddrPort) bool {
		wa := wire.IPAddr(a)
		if budget -= wa.EncodedLen(); budget < 0 || len(addrs) == wire.MaxServerList {
			return false
		}
		addrs = append(addrs, wa)
		return true
	}
	if w.view == nil {
		add(w.s.advertised(rq.dst))
	} else {
		for _, m := range w.view.Members() {
			if !add(m.Data) {
				break
			}
		}
	}
	w.listAddrs = addrs
	if len(addrs) == 0 {
		w.ctr.drop(DropReplyTooBig) // not even one address fits
		return
	}
	b := wire.AppendServerList(w.listBody[:0], addrs)
	w.listBody = b
	rp := w.startReply()
	rp.Options = append(rp.Options, wire.Option{Type: wire.ExtServerList, Body: b})
	if w.sendReply(rq.src) {
		w.ctr.inc(cServerLists)
	}
}

// appendCacheAddr adds CACHE_ADDR for x: a trigger on x's 128-bit prefix whose
// target is this server, as the host can reach it. Unless always, it is left
// out when the reply would no longer fit in the reply budget.
func (w *worker) appendCacheAddr(rp *wire.Packet, x id.ID, key [wire.KeyLen]byte, rq *request, always bool) {
	rp.Options = append(rp.Options, wire.Option{Type: wire.OptCacheAddr, Trigger: wire.Trigger{
		ID:        x,
		PrefixLen: cachePrefixLen,
		Target:    wire.IPAddr(w.s.advertised(rq.dst)),
		Key:       key,
	}})
	if !always && rp.HeaderLen() > w.budget {
		rp.Options = rp.Options[:len(rp.Options)-1]
	}
}

// startReply returns the reply scratch packet, emptied: a control packet.
func (w *worker) startReply() *wire.Packet {
	w.reply.Reset()
	w.reply.Flags = wire.FlagOptions
	return &w.reply
}

// sendReply queues the reply scratch packet for to, within to's reply limit
// and what is left of the reply budget of the datagram being handled.
func (w *worker) sendReply(to netip.AddrPort) bool { return w.sendReplyAsked(to, false) }

// sendReplyAsked is sendReply; with asked (the destination proved that it
// asked for this reply) a reply larger than the budget left is sent too.
func (w *worker) sendReplyAsked(to netip.AddrPort, asked bool) bool {
	n := w.reply.HeaderLen()
	if n > w.budget && !asked {
		w.ctr.drop(DropReplyTooBig)
		return false
	}
	w.budget = max(w.budget-n, 0)
	if !w.sameFamily(to.Addr()) {
		w.ctr.drop(DropFamily)
		return false
	}
	if !w.replies.allow(to.Addr(), w.now) {
		w.ctr.drop(DropReplyLimited)
		return false
	}
	w.room(maxReply)
	start := len(w.arena)
	w.arena = w.reply.AppendTo(w.arena)
	w.queue(w.arena[start:len(w.arena):len(w.arena)], to)
	return true
}
