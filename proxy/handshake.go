package proxy

// Sessions with peers (paper §4.3, with the key exchange of proxy/session):
//
//  1. a program's first packet to a virtual address (or the DNS answer that
//     gave it out) starts connect: insert the private trigger this host gives
//     the peer, then send message 1 to the peer's public id, resending the
//     same bytes with backoff until message 2 arrives (robust to loss)
//  2. the peer accepts message 1 (accept): it inserts its own private trigger,
//     then answers with message 2 on ours, which carries its private id
//  3. finish: the session is up; queued packets go out, or a keepalive that
//     confirms the session to the responder
//
// A peer that does not answer within HandshakeTimeout is marked unreachable
// (its mapping stays; the next packet after retryAfterFailure tries again);
// a peer that restarted and lost its keys is told so with a reset frame and
// handshakes again.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/proxy/book"
	"github.com/i3net/i3net/proxy/session"
)

// retryAfterFailure is how long a peer whose handshake failed is left alone.
const retryAfterFailure = 2 * time.Second

// maxAccepting bounds the message 1s being accepted at once.
const maxAccepting = 16

// peerFor returns the peer of key, registering it (with its addresses) if
// needed. entry is its address book entry, nil for a host the book does not
// name.
func (px *Proxy) peerFor(key identity.PublicKey, entry *book.Entry) (*peer, error) {
	name := ""
	if entry != nil {
		name = entry.Name
	}
	now := px.clk.Now().UnixNano()
	anonymous := entry != nil && px.anonymousFor(entry.Name, entry.Anonymous)
	mk := func(p *peer) {
		if entry != nil {
			p.plaintext, p.shortcut = entry.Plaintext, entry.Shortcut
			if anonymous {
				p.anonymous, p.shortcut = true, false
			}
		}
	}
	p, err := px.peers.get(key, name, now, mk)
	if err == nil && p.anonymous != anonymous && px.forget(p) {
		// The book changed whether the host is reached anonymously: what
		// this host had with it ends, and the next session is of the new kind.
		px.log.Info("address book: the host is now reached anonymously or not; its session ends", "peer", p.describe(), "anonymous", anonymous)
		p, err = px.peers.get(key, name, now, mk)
	}
	if err != nil {
		return nil, fmt.Errorf("proxy: no virtual address for %s: %w", key, err)
	}
	px.checkRotate(p, now) // a DNS answer is a new use
	return p, nil
}

func (px *Proxy) localFlags(p *peer) session.Flags {
	if p.anonymous { // nothing that names this host: no shortcut, no middlebox
		if p.plaintext {
			return session.FlagAnonymous | session.FlagPlaintext
		}
		return session.FlagAnonymous
	}
	f := session.FlagPreserveHeaders
	if p.plaintext || px.imposedFor(p) != nil { // a middlebox's IDS must read it
		f |= session.FlagPlaintext
	}
	if p.shortcut {
		f |= session.FlagShortcut
	}
	if px.raw != nil { // it can write large packets whole (reasm.go)
		f |= session.FlagChunks
	}
	return f
}

// connect starts a handshake with p unless one is under way, the session is
// up, or the last attempt failed a moment ago.
func (px *Proxy) connect(p *peer) {
	now := px.clk.Now()
	p.mu.Lock()
	switch {
	case p.state == peerConnecting,
		(p.state == peerFailed || p.state == peerRefused) && now.Sub(p.failedAt) < retryAfterFailure,
		p.state == peerEstablished && p.sess.Load() != nil:
		p.mu.Unlock()
		return
	}
	p.state = peerConnecting
	p.initStart = now
	p.mu.Unlock()
	px.spawn(func() { px.initiate(p) })
}

// initiate runs one handshake as initiator, on its own goroutine.
func (px *Proxy) initiate(p *peer) {
	ctx, cancel := context.WithTimeout(px.ctx, px.cfg.HandshakeTimeout)
	defer cancel()
	init, via, err := px.initiator(ctx, p)
	if err != nil {
		px.fail(p, err)
		return
	}
	p.mu.Lock()
	p.init, p.badAnswer = init, 0
	p.mu.Unlock()
	msg1 := init.Message1()
	backoff, sends := 200*time.Millisecond, 0
	for {
		for range copiesOfMessage1(p) {
			if err := px.client.Send(viaStack(via, anycastTarget(p)), msg1); err == nil {
				px.stats.handshakesSent.Add(1)
			}
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			p.mu.Lock()
			mine := p.init == init
			if mine {
				p.init = nil
			}
			bad := p.badAnswer
			p.mu.Unlock()
			init.Abandon()
			if mine && px.ctx.Err() == nil {
				err := fmt.Errorf("no answer from %s within %v", p.describe(), px.cfg.HandshakeTimeout)
				if bad > 0 {
					err = fmt.Errorf("no valid answer from %s within %v: %d answer(s) did not authenticate with its key %s "+
						"(another host answers for its public id)", p.describe(), px.cfg.HandshakeTimeout, bad, p.key)
				}
				px.fail(p, err)
			}
			return
		case <-p.kick:
			t.Stop()
		case <-t.C:
		}
		p.mu.Lock()
		done := p.init != init
		p.mu.Unlock()
		if done {
			return // finished, or abandoned to the peer's own handshake
		}
		backoff = nextBackoff(p, backoff, sends)
		sends++
	}
}

// initiator returns the initiator of a handshake with p, after inserting the
// private trigger given to it, and the middlebox id message 1 goes through
// (zero: none). An anonymous peer gets an ephemeral key and no middlebox.
func (px *Proxy) initiator(ctx context.Context, p *peer) (*session.Initiator, id.ID, error) {
	if p.anonymous {
		init, err := px.initiateAnon(ctx, p)
		return init, id.ID{}, err
	}
	if err := px.ensureTrigger(ctx, p); err != nil {
		return nil, id.ID{}, err
	}
	via := px.viaFor(p)
	init, err := px.resp.InitiateVia(p.key, p.local(), px.localFlags(p), via, px.clk.Now())
	return init, via, err
}

// nextBackoff is the wait before the next resend of message 1 to p, after
// sends resends waited backoff: doubling up to 2 s, but for a gateway flat
// at first, since each resend goes to another random member of its anycast
// group and may reach a live one when the last one died (gatewayFastResends
// tries: all miss a live member of two with probability 2^-n).
func nextBackoff(p *peer, backoff time.Duration, sends int) time.Duration {
	if p.gateway.Load() && sends < gatewayFastResends {
		return backoff
	}
	return min(2*backoff, 2*time.Second)
}

// copiesOfMessage1 is how many copies of message 1 go to p at each send:
// one, but after p's gateway died (gwwatch.go) several, each to another
// random member of its anycast group, so that one reaches a live member at
// once (all of 4 miss the live one of two members with probability 1/16). A
// member that is alive but not chosen answers too; its session is not used.
func copiesOfMessage1(p *peer) int {
	if p.spread.Load() {
		return 4
	}
	return 1
}

// gatewayFastResends is how many resends of message 1 to a gateway wait only
// the first backoff.
const gatewayFastResends = 6

// ensureTrigger inserts the private trigger given to p, once; it allows
// shortcuts (§5.2) when the address book marks p so.
func (px *Proxy) ensureTrigger(ctx context.Context, p *peer) error {
	p.trigMu.Lock()
	defer p.trigMu.Unlock()
	p.mu.Lock()
	have := p.trig != nil
	p.mu.Unlock()
	if have {
		return nil
	}
	h, err := px.client.Insert(ctx, client.Trigger{ID: p.local(), Flags: p.triggerFlags()})
	if err != nil {
		return fmt.Errorf("insert private trigger %s: %w", p.local().Short(), err)
	}
	p.mu.Lock()
	p.trig = h
	p.mu.Unlock()
	return nil
}

// insertPrivate re-inserts the private trigger of a peer restored from the
// saved state, so that its packets reach this host again.
func (px *Proxy) insertPrivate(p *peer) {
	ctx, cancel := context.WithTimeout(px.ctx, px.cfg.HandshakeTimeout)
	defer cancel()
	if err := px.ensureTrigger(ctx, p); err != nil && px.ctx.Err() == nil {
		px.log.Warn("restored peer: private trigger not inserted", "peer", p.describe(), "err", err)
	}
}

// fail ends a handshake that did not complete: the queued packets are
// dropped, so programs get no answer rather than a hang that never ends. The
// mapping stays (only TO without use ends it): the next packet or DNS answer
// after retryAfterFailure handshakes again, so a flow cut by a block resumes
// once the peer unblocks this host.
func (px *Proxy) fail(p *peer, err error) {
	p.mu.Lock()
	p.state = peerFailed
	p.failedAt = px.clk.Now()
	p.lastErr = err.Error()
	dropped := len(p.queue)
	p.queue = nil
	p.mu.Unlock()
	p.drops.Add(uint64(dropped))
	px.stats.handshakesFailed.Add(1)
	px.failQueries(p, false)
	px.log.Warn("peer unreachable; its packets are dropped and it is tried again on the next one",
		"peer", p.describe(), "err", err, "dropped", dropped, "retry_after", retryAfterFailure)
}

// refusedBy records that p refused this host (an authenticated refusal: a
// gateway whose allowlist does not name this host's key): the queued packets
// are dropped and the names asked of it answered REFUSED at once, so the
// programs fail promptly; it is tried again, as after a failure, on the next
// packet after retryAfterFailure.
func (px *Proxy) refusedBy(p *peer) {
	msg := fmt.Sprintf("refused by %s: its allowlist does not name this host's key %s (ask its operator to add it)",
		p.describe(), px.ident.Public())
	if p.anonymous {
		msg = fmt.Sprintf("refused by %s: it accepts no anonymous session (its operator can allow them: "+
			"allow_anonymous on a gateway, accept_anonymous on a proxy), or reach it identified", p.describe())
	}
	p.mu.Lock()
	p.state = peerRefused
	p.failedAt = px.clk.Now()
	logIt := p.lastErr != msg
	p.lastErr = msg
	dropped := len(p.queue)
	p.queue = nil
	p.mu.Unlock()
	p.drops.Add(uint64(dropped))
	px.stats.gwRefused.Add(1)
	px.failQueries(p, true)
	if logIt {
		px.log.Warn("peer refused this host", "peer", p.describe(), "err", msg, "dropped", dropped)
	}
}

// acceptLater hands a message 1 to a goroutine: accepting it inserts a trigger
// and waits for the ACK, which the client's receive goroutine must not do.
func (px *Proxy) acceptLater(msg1 []byte) {
	select {
	case px.accepting <- struct{}{}:
	default:
		px.stats.dropBusy.Add(1)
		return
	}
	m := append([]byte(nil), msg1...)
	px.spawn(func() {
		defer func() { <-px.accepting }()
		px.accept(m)
	})
}

// accept answers a message 1 as responder.
func (px *Proxy) accept(msg1 []byte) {
	var target *peer
	acc, err := px.resp.Handle(msg1, func(h session.Hello) (session.Reply, error) {
		p, err := px.admit(h)
		if err != nil {
			return session.Reply{}, err
		}
		target = p
		return session.Reply{PrivID: p.local(), Flags: px.localFlags(p), Via: px.viaFor(p)}, nil
	}, px.clk.Now())
	if err != nil {
		switch {
		case errors.Is(err, session.ErrSimultaneous):
		case errors.Is(err, session.ErrStale):
			px.stats.dropReplay.Add(1)
		case errors.Is(err, errRefused):
			px.stats.refusedPeers.Add(1)
			px.log.Warn("handshake refused", "err", err)
			if acc.Refusal != nil && px.client.SendTo(acc.RefusalTo, acc.Refusal) == nil {
				px.stats.handshakesSent.Add(1)
			}
		default:
			px.stats.dropAuth.Add(1)
		}
		return
	}
	px.stats.handshakesAccepted.Add(1)
	if target == nil {
		target = px.peers.byPeerKey(acc.Peer)
		if target == nil {
			return
		}
	}
	p := target
	if acc.Abandoned != nil {
		p.mu.Lock()
		if p.init == acc.Abandoned {
			p.init = nil
		}
		p.mu.Unlock()
		p.wake()
	}
	ctx, cancel := context.WithTimeout(px.ctx, px.cfg.HandshakeTimeout)
	defer cancel()
	if err := px.ensureTrigger(ctx, p); err != nil {
		px.log.Warn("handshake from a peer not answered", "peer", p.describe(), "err", err)
		return
	}
	remote := acc.Session.PeerPrivateID()
	if !acc.Duplicate {
		p.useRoute(acc.Session)
		px.peers.setRemote(p, remote)
		if old := p.sess.Swap(acc.Session); old != nil && old != acc.Session {
			p.prevSess.Store(old)
		}
		p.mu.Lock()
		p.state = peerEstablished
		p.lastErr = ""
		p.mu.Unlock()
	}
	var st [2]id.ID
	if err := px.client.SendWith(p.stack(remote, &st), acc.Message2, p.sendFlags()); err == nil {
		px.stats.handshakesSent.Add(1)
	}
	px.flush(p)
}

var errRefused = errors.New("peer refused")

// admit decides whether the host h.Key may open a session, and returns its
// peer. The address book pins names to keys; a blocked key is refused, and so
// is one this host reaches anonymously (its sessions are this host's own,
// under ephemeral keys). An unknown key is refused unless AcceptUnknown, or,
// for an anonymous session, AcceptAnonymous (admitAnonymous).
func (px *Proxy) admit(h session.Hello) (*peer, error) {
	key := h.Key
	b := px.book.Book()
	if names := b.Names(key); len(names) > 0 {
		e, _ := b.Lookup(names[0])
		if e.Blocked {
			return nil, px.refusal(fmt.Errorf("%w: %s (%s) is blocked in the address book", errRefused, e.Name, key))
		}
		if px.anonymousFor(e.Name, e.Anonymous) {
			return nil, fmt.Errorf("%w: %s (%s) is reached anonymously: its own sessions to this host are refused", errRefused, e.Name, key)
		}
		return px.peerFor(key, &e)
	}
	if h.Flags&session.FlagAnonymous != 0 {
		return px.admitAnonymous(key)
	}
	if !px.cfg.AcceptUnknown {
		return nil, px.refusal(fmt.Errorf("%w: %s is not in the address book", errRefused, key))
	}
	return px.peerFor(key, nil)
}

// finish completes this side's handshake with a message 2.
func (px *Proxy) finish(d client.Delivery) {
	p := px.peers.byLocalPriv(d.ID)
	if p == nil {
		px.stats.dropUnknownID.Add(1)
		return
	}
	p.mu.Lock()
	init := p.init
	if init == nil {
		p.mu.Unlock()
		px.stats.dropReplay.Add(1) // a duplicate message 2
		return
	}
	s, err := init.Finish(d.Payload)
	if errors.Is(err, session.ErrRefusedByPeer) {
		p.init = nil
		p.mu.Unlock()
		px.refusedBy(p)
		return
	}
	if err != nil {
		first := false
		if errors.Is(err, session.ErrAuth) {
			p.badAnswer++
			first = p.badAnswer == 1
		}
		p.mu.Unlock()
		if !errors.Is(err, session.ErrFinished) {
			px.stats.dropAuth.Add(1)
		}
		if first {
			// Once per handshake: whoever knows our private id can send
			// these, so the rest are only counted.
			px.log.Warn("handshake answer refused: not from the key the address book pins for this peer "+
				"(another host answers for its public id, or the answer was altered)",
				"peer", p.describe(), "want_key", p.key.String())
		}
		return
	}
	p.init = nil
	p.state = peerEstablished
	p.lastErr = ""
	p.mu.Unlock()
	p.spread.Store(false)
	remote := s.PeerPrivateID()
	p.useRoute(s)
	px.peers.setRemote(p, remote)
	p.sess.Store(s)
	p.prevSess.Store(nil)
	p.wake()
	if !px.flush(p) {
		// Nothing to send: confirm the session to the responder.
		if ka, err := s.Keepalive(nil); err == nil {
			var st [2]id.ID
			px.client.SendWith(p.stack(remote, &st), ka, p.sendFlags())
		}
	}
}

// flush sends the packets queued for p; it reports whether there were any.
func (px *Proxy) flush(p *peer) bool {
	s := p.sendSession()
	r, ok := p.remote()
	if s == nil || !ok {
		return false
	}
	q := p.takeQueue()
	for _, pkt := range q {
		px.sendNow(p, s, r, pkt)
	}
	return len(q) > 0
}

// reset handles a peer's word that it lost the session (it restarted).
func (px *Proxy) reset(d client.Delivery) {
	p := px.peers.byLocalPriv(d.ID)
	if p == nil {
		px.stats.dropUnknownID.Add(1)
		return
	}
	s := p.sess.Load()
	if s == nil || s.CheckReset(d.Payload) != nil {
		px.stats.dropAuth.Add(1)
		return
	}
	px.stats.resetsReceived.Add(1)
	p.sess.CompareAndSwap(s, nil)
	p.mu.Lock()
	if p.state == peerEstablished {
		p.state = peerIdle
	}
	p.mu.Unlock()
	px.connect(p)
}
