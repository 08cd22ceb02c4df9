package proxy

// Anonymous peers (paper §6.3, docs/anonymity.md). A peer that the address
// book (anonymous = true) or a name rule marks anonymous is reached without
// this host's identity:
//
//  1. each session is made with a fresh key (anonState.ident) and announces
//     session.FlagAnonymous: the peer never sees this host's key
//  2. this host's own virtual addresses are rewritten, both ways, to those
//     the peer derives from that key (anonSource, anonDest); ICMP errors,
//     which quote a packet to this host's own address, are not sent
//  3. the private trigger the peer sends to sits on a server picked at
//     random, neither the first hop nor the previous session's relay when
//     another server is known (pickRelay, relayAvoid)
//  4. no shortcut, no middlebox route, no preserved headers, nothing saved
//  5. a session older than Config.AnonRotate is ended at its next use after
//     a pause of anonQuiet (anonDue, rotate); the next packet makes a new
//     one, so a running connection is never cut
//
// On the other side, a message 1 flagged anonymous from a key the book does
// not name is accepted when Config.AcceptAnonymous (admit), and the peer is
// forgotten after min(MappingTimeout, anonForget) unused.

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/proxy/packet"
	"github.com/i3net/i3net/proxy/session"
	"github.com/i3net/i3net/proxy/vaddr"
)

const (
	// DefaultAnonRotate is Config.AnonRotate's default.
	DefaultAnonRotate = 10 * time.Minute
	// anonQuiet is the pause (no packet either way) a session due for
	// rotation waits for, so that no running connection is cut.
	anonQuiet = 2 * time.Second
	// anonTries bounds the private ids tried for a relay that is not to be
	// avoided.
	anonTries = 8
	// anonForget bounds how long a peer that reached this host anonymously
	// is kept unused: it never comes back (a rotation makes a new key).
	anonForget = 10 * time.Minute
)

// anonState is one anonymous session's identity on the initiating side:
// made before the handshake, read per packet without a lock.
type anonState struct {
	ident        *identity.Identity // the session's ephemeral key
	addr4, addr6 netip.Addr         // this host's addresses as the peer derives them from ident
	started      int64              // unix nanoseconds: when it was made
}

// newAnonState returns a new ephemeral key and the addresses derived from
// it in pool4 and pool6 (zero when a pool is not set), made at now.
func newAnonState(pool4, pool6 netip.Prefix, now time.Time) (*anonState, error) {
	x, err := identity.Generate()
	if err != nil {
		return nil, fmt.Errorf("ephemeral key: %w", err)
	}
	st := &anonState{ident: x, addr4: vaddr.Derive(pool4, x.ID()), started: now.UnixNano()}
	if pool6.IsValid() {
		st.addr6 = vaddr.Derive(pool6, x.ID())
	}
	return st, nil
}

// anonymousFor reports whether the host of entry is reached anonymously:
// its book entry says so, or a name rule that sends through it does.
func (px *Proxy) anonymousFor(name string, anonymous bool) bool {
	return anonymous || (name != "" && px.cfg.Rules.Anonymous(name))
}

// relayAvoid returns the servers the relay of a new anonymous session should
// not be: the first hop and the previous session's relay prev; the first hop
// only when every other live server is prev; none when no other live server
// is known (one server: nothing can be avoided).
func relayAvoid(servers []client.ServerInfo, first, prev netip.AddrPort) []netip.AddrPort {
	othersThan := func(skip ...netip.AddrPort) bool {
		for _, s := range servers {
			if !s.Down && !slices.Contains(skip, s.Addr) {
				return true
			}
		}
		return false
	}
	switch {
	case prev.IsValid() && prev != first && othersThan(first, prev):
		return []netip.AddrPort{first, prev}
	case othersThan(first):
		return []netip.AddrPort{first}
	}
	return nil
}

// pickRelay inserts triggers at random private ids (newID) until the server
// holding one is not in avoid, or anonTries ids were tried; the others are
// removed. It returns the trigger kept, its id and server, and the tries.
func pickRelay[H any](ctx context.Context, insert func(context.Context, id.ID) (H, netip.AddrPort, error),
	remove func(H), newID func() id.ID, avoid []netip.AddrPort) (h H, x id.ID, server netip.AddrPort, tries int, err error) {
	for tries = 1; ; tries++ {
		x = newID()
		h, server, err = insert(ctx, x)
		if err != nil {
			return h, x, server, tries, err
		}
		if !slices.Contains(avoid, server) || tries >= anonTries {
			return h, x, server, tries, nil
		}
		remove(h)
	}
}

// spreadIDs returns a source of random private ids, each in another of
// anonTries equal sectors of the id space, in random order: a server
// holding at least a sector's share of the ring (servers place ids by their
// first bits) is found within anonTries tries, which independent ids would
// miss often (a server holding 1/5 of the ring: 17% of the time).
func spreadIDs() func() id.ID {
	order := mrand.Perm(anonTries)
	n := 0
	return func() id.ID {
		x := id.Random()
		x[0] = byte(order[n%anonTries]*(256/anonTries)) + x[0]%(256/anonTries)
		n++
		return x.WithPublic(false)
	}
}

// prepareAnon returns p's anonymous state, making it first unless p has one
// with its private trigger: a fresh key and addresses, and the trigger on a
// relay picked by pickRelay; p is then indexed under the trigger's id.
func (px *Proxy) prepareAnon(ctx context.Context, p *peer) (*anonState, error) {
	p.trigMu.Lock()
	defer p.trigMu.Unlock()
	p.mu.Lock()
	st, have, prev := p.anon.Load(), p.trig != nil, p.prevRelay
	p.mu.Unlock()
	if st != nil && have {
		return st, nil
	}
	st, err := newAnonState(px.cfg.Pool4, px.cfg.Pool6, px.clk.Now())
	if err != nil {
		return nil, err
	}
	avoid := relayAvoid(px.client.Servers(), px.client.FirstHop(), prev)
	insert := func(ctx context.Context, x id.ID) (*client.Handle, netip.AddrPort, error) {
		h, err := px.client.Insert(ctx, client.Trigger{ID: x})
		if err != nil {
			return nil, netip.AddrPort{}, err
		}
		return h, h.State().Server, nil
	}
	h, x, relay, tries, err := pickRelay(ctx, insert, px.removeTrigger, spreadIDs(), avoid)
	if err != nil {
		return nil, fmt.Errorf("insert private trigger %s: %w", x.Short(), err)
	}
	if slices.Contains(avoid, relay) {
		px.log.Warn("anonymous session: no relay found other than the first hop or the previous relay; using it",
			"peer", p.describe(), "relay", relay, "tries", tries)
	}
	px.peers.setLocal(p, x)
	p.mu.Lock()
	p.trig, p.relay, p.avoided = h, relay, avoid
	p.anon.Store(st)
	p.mu.Unlock()
	return st, nil
}

// setLocal gives p the private id x, re-indexing it (an anonymous session's
// relay, prepareAnon).
func (r *registry) setLocal(p *peer, x id.ID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byKey[p.key] == p {
		r.byLocal.del(p.local(), p)
		r.byLocal.put(x, p)
	}
	p.localPriv.Store(&x)
}

// removeTrigger removes h from the servers, off the caller's goroutine.
func (px *Proxy) removeTrigger(h *client.Handle) {
	if h == nil {
		return
	}
	px.spawn(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		h.Remove(ctx)
	})
}

// initiateAnon makes the initiator of an anonymous handshake with p: its
// state first (prepareAnon), then a message 1 under the ephemeral key.
func (px *Proxy) initiateAnon(ctx context.Context, p *peer) (*session.Initiator, error) {
	st, err := px.prepareAnon(ctx, p)
	if err != nil {
		return nil, err
	}
	return session.NewInitiator(st.ident, p.key, p.local(), session.Options{Flags: px.localFlags(p)}, px.clk.Now())
}

// anonDue returns p's anonymous state and whether it is due for rotation at
// now (unix nanoseconds): older than AnonRotate, and no packet either way
// for anonQuiet. It takes no lock and allocates nothing.
func (px *Proxy) anonDue(p *peer, now int64) (*anonState, bool) {
	st := p.anon.Load()
	if st == nil || now-st.started < int64(px.cfg.AnonRotate) {
		return st, false
	}
	return st, now-max(p.lastTx.Load(), p.lastRx.Load()) >= int64(anonQuiet)
}

// rotate ends p's anonymous session st (anonDue): the session and its
// trigger go, and the next handshake makes a new key, addresses and relay.
// It takes p's lock only, so the tun goroutine may call it.
func (px *Proxy) rotate(p *peer, st *anonState) {
	p.mu.Lock()
	if p.anon.Load() != st || p.state == peerConnecting {
		p.mu.Unlock()
		return
	}
	h, relay := p.trig, p.relay
	p.trig, p.prevRelay, p.relay = nil, relay, netip.AddrPort{}
	p.state = peerIdle
	p.anon.Store(nil)
	p.mu.Unlock()
	p.sess.Store(nil)
	p.prevSess.Store(nil)
	px.removeTrigger(h)
	px.log.Info("anonymous session rotated: the next one has a new key, address and relay",
		"peer", p.describe(), "age", time.Duration(px.clk.Now().UnixNano()-st.started), "relay", relay)
}

// checkRotate rotates p's anonymous session if it is due at now.
func (px *Proxy) checkRotate(p *peer, now int64) {
	if st, due := px.anonDue(p, now); due {
		px.rotate(p, st)
	}
}

// anonSource rewrites the source of pkt (decoded in pp), a packet to a peer
// reached anonymously with state st, from this host's own address to st's.
// It reports false for a packet not to send: an ICMP error, which quotes a
// packet to this host's own address.
func (px *Proxy) anonSource(st *anonState, pkt []byte, pp *packet.Parsed) bool {
	if isICMPError(pp) {
		return false
	}
	var to netip.Addr
	switch pp.Src.Addr() {
	case px.own4:
		to = st.addr4
	case px.own6:
		to = st.addr6
	default:
		return true
	}
	return to.IsValid() && pp.SetSrcAddr(pkt, to) == nil
}

// anonDest rewrites the destination of pkt (decoded in pp), from a peer
// reached anonymously with state st, from st's address to this host's own;
// it reports false for a packet to any other address.
func (px *Proxy) anonDest(st *anonState, pkt []byte, pp *packet.Parsed) bool {
	var to netip.Addr
	switch pp.Dst.Addr() {
	case st.addr4:
		to = px.own4
	case st.addr6:
		to = px.own6
	}
	return to.IsValid() && pp.SetDstAddr(pkt, to) == nil
}

// isICMPError reports whether pp is an ICMP error message (which quotes the
// packet that caused it).
func isICMPError(pp *packet.Parsed) bool {
	switch pp.IPProto {
	case packet.ProtoICMPv4:
		switch pp.ICMPType {
		case 3, 4, 5, 11, 12: // unreachable, source quench, redirect, time exceeded, parameter problem
			return true
		}
	case packet.ProtoICMPv6:
		return pp.ICMPType < 128 // error messages (RFC 4443 §2.1)
	}
	return false
}

// admitAnonymous decides on a message 1 flagged anonymous from key, which
// the book does not name: accepted when AcceptAnonymous, refused (and told
// so, authenticated) otherwise.
func (px *Proxy) admitAnonymous(key identity.PublicKey) (*peer, error) {
	if !px.cfg.AcceptAnonymous {
		return nil, fmt.Errorf("%w: %s announces an anonymous session, and this host accepts none "+
			"(accept_anonymous, or allow_anonymous on a gateway) (%w)", errRefused, key, session.ErrRefuse)
	}
	p, err := px.peers.get(key, "", px.clk.Now().UnixNano(), func(p *peer) { p.anonymousIn = true })
	if err != nil {
		return nil, fmt.Errorf("proxy: no virtual address for %s: %w", key, err)
	}
	return p, nil
}

// expiresAfter is how long p lives unused, given the mapping timeout to.
func (p *peer) expiresAfter(to time.Duration) time.Duration {
	if p.anonymousIn {
		return min(to, anonForget)
	}
	return to
}

// anonStatus fills in the anonymous fields of ps for p at now.
func (px *Proxy) anonStatus(p *peer, ps *PeerStatus, now time.Time) {
	ps.Anonymous = p.anonymous || p.anonymousIn
	st := p.anon.Load()
	if st == nil {
		return
	}
	p.mu.Lock()
	ps.Relay, ps.RelayAvoided = p.relay, slices.Clone(p.avoided)
	p.mu.Unlock()
	started := time.Unix(0, st.started)
	ps.SessionAge = now.Sub(started)
	ps.NextRotation = started.Add(px.cfg.AnonRotate)
	ps.AnonAddr4, ps.AnonAddr6 = st.addr4, st.addr6
	ps.AnonKey = st.ident.Public().String()
}
