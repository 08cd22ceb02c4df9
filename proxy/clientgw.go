package proxy

// The client side of i3-to-IP gateways (paper §4.4.1, §7.3): names the rules
// send to a gateway are asked of it over the session (control.go), and its
// answer reaches the program with virtual addresses of this host's pool, one
// per (gateway, real address) (target.go).

import (
	"net/netip"
	"sync"

	mdns "github.com/miekg/dns"

	"github.com/i3net/i3net/internal/clock"
	"github.com/i3net/i3net/proxy/dns"
	"github.com/i3net/i3net/proxy/rules"
)

// gatewayTTL is the TTL of the answers given for names behind a gateway: the
// program asks again soon, so a name that moves is followed, and every
// answer is a use that keeps the mapping.
const gatewayTTL = 5

// dnsReply gives a program the answer resp to its query (UDP: cut to the
// size it accepts; TCP: whole).
type dnsReply func(query, resp []byte)

// gatewayQueries are the names this host asked gateways and awaits, by
// request number.
type gatewayQueries struct {
	mu   sync.Mutex
	next uint32
	m    map[uint32]*gatewayQuery
}

// gatewayQuery is one program's query waiting for a gateway's answer.
type gatewayQuery struct {
	gw    *peer
	name  string
	query []byte      // the program's query, as it sent it
	reply dnsReply    // gives the program its answer (UDP or TCP)
	timer clock.Timer // SERVFAIL when the gateway does not answer in time
}

// add registers q and returns its request number.
func (g *gatewayQueries) add(q *gatewayQuery) uint32 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = make(map[uint32]*gatewayQuery)
	}
	g.next++
	g.m[g.next] = q
	return g.next
}

// take removes and returns query n if it was asked of gw (any gateway when gw
// is nil), or nil.
func (g *gatewayQueries) take(n uint32, gw *peer) *gatewayQuery {
	g.mu.Lock()
	defer g.mu.Unlock()
	q := g.m[n]
	if q == nil || (gw != nil && q.gw != gw) {
		return nil
	}
	delete(g.m, n)
	return q
}

// takeAll removes and returns the queries asked of gw.
func (g *gatewayQueries) takeAll(gw *peer) []*gatewayQuery {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []*gatewayQuery
	for n, q := range g.m {
		if q.gw == gw {
			out = append(out, q)
			delete(g.m, n)
		}
	}
	return out
}

// pending returns the queries waiting for gw, by request number, leaving
// them waiting.
func (g *gatewayQueries) pending(gw *peer) map[uint32]*gatewayQuery {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[uint32]*gatewayQuery)
	for n, q := range g.m {
		if q.gw == gw {
			out[n] = q
		}
	}
	return out
}

// connectGateways opens the sessions with the gateways the rules name, so
// that the first name a program asks of one costs one round trip, not a
// handshake too (and a gateway that refuses this host is known before).
// Gateways the book does not name yet are skipped (warnBook says so); it runs
// at start and when the book changes.
func (px *Proxy) connectGateways() {
	if px.cfg.Rules == nil {
		return
	}
	b := px.book.Book()
	for _, r := range px.cfg.Rules.All() {
		e, ok := b.Lookup(r.Via)
		if r.Via == "" || !ok || e.Blocked {
			continue
		}
		gw, err := px.peerFor(e.Key, &e)
		if err != nil {
			continue
		}
		gw.gateway.Store(true)
		px.connect(gw)
	}
}

// routeByRule decides a name outside the overlay by the rules: it reports
// false when the name goes upstream (no rule, or "direct"); otherwise reply
// gets the answer, now (refused) or later (from the gateway). query is only
// read during the call.
func (px *Proxy) routeByRule(query []byte, reply dnsReply) bool {
	if px.cfg.Rules == nil {
		return false
	}
	var m mdns.Msg
	if m.Unpack(query) != nil || len(m.Question) != 1 {
		return false
	}
	name := m.Question[0].Name
	rule, ok := px.cfg.Rules.Lookup(name)
	if !ok || rule.Action == rules.Direct {
		return false
	}
	if rule.Action == rules.Refuse {
		px.answerRcode(query, reply, mdns.RcodeRefused)
		return true
	}
	px.askGateway(rule.Via, name, query, reply)
	return true
}

// askGateway asks the gateway the address book names via to resolve query.
func (px *Proxy) askGateway(via, name string, query []byte, reply dnsReply) {
	e, ok := px.book.Book().Lookup(via)
	if !ok || e.Blocked {
		px.log.Warn("a name rule names a gateway the address book does not (or blocks): the name fails",
			"name", name, "gateway", via)
		px.answerRcode(query, reply, mdns.RcodeServerFailure)
		return
	}
	gw, err := px.peerFor(e.Key, &e)
	if err != nil {
		px.answerRcode(query, reply, mdns.RcodeServerFailure)
		return
	}
	gw.gateway.Store(true)
	now := px.clk.Now()
	gw.touch(now.UnixNano())
	gw.mu.Lock()
	refused := gw.state == peerRefused && now.Sub(gw.failedAt) < retryAfterFailure
	gw.mu.Unlock()
	if refused {
		px.answerRcode(query, reply, mdns.RcodeRefused)
		return
	}
	q := &gatewayQuery{gw: gw, name: name, query: append([]byte(nil), query...), reply: reply}
	n := px.queries.add(q)
	q.timer = px.clk.AfterFunc(px.cfg.UpstreamTimeout, func() {
		if q := px.queries.take(n, nil); q != nil {
			px.stats.gwTimeouts.Add(1)
			px.answerRcode(q.query, q.reply, mdns.RcodeServerFailure)
		}
	})
	px.stats.gwQueries.Add(1)
	px.sendControl(gw, appendControl(make([]byte, 0, controlHeaderLen+len(query)), controlQuery, n, query))
}

// gatewayAnswered gives a program the answer gw sent to query n, with the
// real addresses replaced by virtual ones.
func (px *Proxy) gatewayAnswered(gw *peer, n uint32, resp []byte) {
	q := px.queries.take(n, gw)
	if q == nil {
		px.stats.dropControl.Add(1) // late (answered SERVFAIL already), or not ours
		return
	}
	q.timer.Stop()
	px.stats.gwAnswers.Add(1)
	now := px.clk.Now().UnixNano()
	out, err := dns.RewriteGatewayAnswer(q.query, resp, func(r netip.Addr) (netip.Addr, bool) {
		t, err := px.peers.target(gw, r, q.name, now)
		if err != nil {
			return netip.Addr{}, false
		}
		if r.Unmap().Is4() {
			return t.local4, t.local4.IsValid()
		}
		return t.local6, t.local6.IsValid()
	}, gatewayTTL, nil)
	if err != nil {
		px.stats.dnsErrors.Add(1)
		px.answerRcode(q.query, q.reply, mdns.RcodeServerFailure)
		return
	}
	q.reply(q.query, out)
}

// failQueries answers every query waiting for gw: REFUSED when gw refused
// this host, else SERVFAIL (gw unreachable).
func (px *Proxy) failQueries(gw *peer, refused bool) {
	rcode := mdns.RcodeServerFailure
	if refused {
		rcode = mdns.RcodeRefused
	}
	for _, q := range px.queries.takeAll(gw) {
		q.timer.Stop()
		px.answerRcode(q.query, q.reply, rcode)
	}
}

// answerRcode gives the program an empty answer to query with rcode.
func (px *Proxy) answerRcode(query []byte, reply dnsReply, rcode int) {
	if rcode != mdns.RcodeSuccess {
		px.stats.dnsErrors.Add(1)
	}
	if resp, err := px.dns.Fail(query, nil, rcode); err == nil {
		reply(query, resp)
	}
}
