package proxy

// DNS over TCP on the service addresses. Programs reach the service address
// through the tun device, so the proxy terminates their TCP itself, in a
// userspace stack (netstack.go) made when the first TCP segment for it
// arrives: until a program asks over TCP, the proxy pays nothing for it.

import (
	"context"
	"net/netip"
	"sync"

	mdns "github.com/miekg/dns"

	"github.com/i3net/i3net/proxy/dns"
)

// dnsTCP is the DNS over TCP server of a proxy, started on first use.
type dnsTCP struct {
	once sync.Once
	ns   *netstack // nil until started, and if starting failed
}

// inject hands a TCP segment for the service address to the server, starting
// it on the first call. It runs on the tun goroutine and does not wait.
func (d *dnsTCP) inject(px *Proxy, pkt []byte) {
	d.once.Do(func() { d.ns = px.startDNSTCP() })
	if d.ns == nil {
		px.stats.dropMalformed.Add(1)
		return
	}
	d.ns.inject(pkt)
}

// startDNSTCP makes the stack, listens on port 53 of the service addresses
// and serves them until the proxy stops; nil if any of it failed (logged).
func (px *Proxy) startDNSTCP() *netstack {
	ns, err := newNetstack(px.cfg.MTU, px.dns4, px.dns6)
	if err != nil {
		px.log.Error("DNS over TCP unavailable", "err", err)
		return nil
	}
	var lns []func()
	for _, a := range []netip.Addr{px.dns4, px.dns6} {
		if !a.IsValid() {
			continue
		}
		ln, err := ns.listenTCP(netip.AddrPortFrom(a, 53))
		if err != nil {
			px.log.Error("DNS over TCP unavailable", "err", err)
			ns.close()
			return nil
		}
		lns = append(lns, func() { dns.ServeTCP(px.ctx, ln, px.answerTCP, dns.TCPConfig{}) })
	}
	started := px.spawn(func() {
		var wg sync.WaitGroup
		for _, serve := range lns {
			wg.Go(serve)
		}
		wg.Go(func() { ns.run(px.ctx, px.writeTun) })
		wg.Wait() // every server and the output have stopped: px.ctx ended
		ns.close()
	})
	if !started { // the proxy is stopping
		ns.close()
		return nil
	}
	return ns
}

// answerTCP answers one query a program sent over TCP: overlay names from the
// address book, other names through the upstreams (complete answers, never
// truncated), SERVFAIL when they cannot answer within their budget.
func (px *Proxy) answerTCP(ctx context.Context, query []byte) []byte {
	px.stats.dnsQueries.Add(1)
	resp, forward, err := px.dns.Answer(query, nil)
	if err != nil {
		px.stats.dnsErrors.Add(1)
		return nil
	}
	if !forward {
		return resp
	}
	answer := make(chan []byte, 1)
	if px.routeByRule(query, func(_, resp []byte) { answer <- resp }) {
		select {
		case resp := <-answer:
			return resp
		case <-ctx.Done():
			return nil
		}
	}
	if px.fwd != nil {
		px.stats.dnsForwarded.Add(1)
		if resp, err := px.fwd.Forward(ctx, query); err == nil {
			return resp
		}
	}
	px.stats.dnsErrors.Add(1)
	resp, _ = px.dns.Fail(query, nil, mdns.RcodeServerFailure)
	return resp
}
