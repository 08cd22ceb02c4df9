package proxy

import (
	"net/netip"
	"sync"

	mdns "github.com/miekg/dns"

	"github.com/i3net/i3net/proxy/dns"
	"github.com/i3net/i3net/proxy/packet"
)

// handleDNS takes a packet a program sent to the service address through the
// tun device: UDP to port 53 is answered here, TCP goes to the DNS over TCP
// server (dnstcp.go). Overlay names are answered from the address book at
// once, other names through the upstream resolvers; the answer is written
// back into the tun device, cut to the size the program accepts over UDP
// (TC set: it asks again over TCP). It runs on the tun goroutine and never
// waits on the network.
func (px *Proxy) handleDNS(pkt []byte, pp *packet.Parsed) {
	if pp.IPProto == packet.ProtoTCP {
		px.tcpDNS.inject(px, pkt)
		return
	}
	if pp.IPProto != packet.ProtoUDP || pp.Dst.Port() != 53 {
		px.stats.dropMalformed.Add(1)
		return
	}
	px.stats.dnsQueries.Add(1)
	query := pp.Payload(pkt)
	resp, forward, err := px.dns.Answer(query, px.dnsBuf[:0])
	from, to := pp.Dst, pp.Src
	if err != nil {
		// An answer that cannot be made: say so rather than let the
		// program wait for its time-out (a query that is not DNS at all
		// gets nothing: Fail refuses it too).
		px.answerServfail(from, to, query)
		return
	}
	if !forward {
		px.writeUDP(from, to, dns.FitUDP(query, resp))
		return
	}
	if px.routeByRule(query, func(query, resp []byte) { px.writeUDP(from, to, dns.FitUDP(query, resp)) }) {
		return
	}
	if px.fwd == nil {
		// No upstream: say so at once rather than let the program time out.
		px.answerServfail(from, to, query)
		return
	}
	px.stats.dnsForwarded.Add(1)
	if !px.fwd.Go(px.ctx, query, func(query, resp []byte, err error) {
		if err != nil {
			// No upstream answered within the budget: say so before the
			// program's own time-out.
			px.answerServfail(from, to, query)
			return
		}
		px.writeUDP(from, to, dns.FitUDP(query, resp))
	}) {
		px.stats.dnsErrors.Add(1) // too many in flight: dropped, the program asks again
	}
}

// answerServfail answers query with SERVFAIL; it may run on any goroutine.
func (px *Proxy) answerServfail(from, to netip.AddrPort, query []byte) {
	px.stats.dnsErrors.Add(1)
	if resp, err := px.dns.Fail(query, nil, mdns.RcodeServerFailure); err == nil {
		px.writeUDP(from, to, resp)
	}
}

// writeUDP writes a UDP packet from → to carrying payload into the tun device.
func (px *Proxy) writeUDP(from, to netip.AddrPort, payload []byte) {
	tp := tunPackets.Get().(*tunPacket)
	defer tunPackets.Put(tp)
	b, err := packet.AppendUDP(tp.buf[:tunOffset], from, to, payload)
	if err != nil {
		px.stats.dnsErrors.Add(1)
		return
	}
	px.writeTunBuf(tp, b)
}

// writeTun writes one IP packet into the tun device, from any goroutine
// (wireguard's tun devices serialise concurrent writes).
func (px *Proxy) writeTun(pkt []byte) {
	tp := tunPackets.Get().(*tunPacket)
	defer tunPackets.Put(tp)
	px.writeTunBuf(tp, append(tp.buf[:tunOffset], pkt...))
}

// writeTunBuf writes buf, tunOffset bytes of headroom and a packet, into the
// tun device, keeping it in tp for the next packet.
func (px *Proxy) writeTunBuf(tp *tunPacket, buf []byte) {
	tp.buf = buf
	tp.bufs[0] = buf
	_, err := px.tun.Write(tp.bufs[:], tunOffset)
	tp.bufs[0] = nil
	if err != nil {
		px.stats.dropTunWrite.Add(1)
	}
}

// tunPacket is a buffer for a packet written into the tun device, reused
// (tunPackets) so that an answer costs no allocation.
type tunPacket struct {
	buf  []byte
	bufs [1][]byte
}

var tunPackets = sync.Pool{New: func() any { return &tunPacket{buf: make([]byte, tunOffset, tunOffset+1500)} }}

// ResolveOverlay implements dns.Resolver: the address book names the host,
// the mapping table gives its virtual addresses, and the answer is a use that
// starts the session (paper §4.3 step 1) so the program's first packet finds
// it ready or nearly so.
func (px *Proxy) ResolveOverlay(name string) (v4, v6 netip.Addr, ok bool) {
	e, found := px.book.Book().Lookup(name)
	if !found {
		if changed, _ := px.book.ReloadIfChanged(); changed {
			px.applyBook()
			e, found = px.book.Book().Lookup(name)
		}
	}
	if !found || e.Blocked {
		return netip.Addr{}, netip.Addr{}, false
	}
	if e.ID == px.ownID {
		return px.own4, px.own6, true
	}
	p, err := px.peerFor(e.Key, &e)
	if err != nil {
		px.log.Warn("no mapping for a name", "name", name, "err", err)
		return netip.Addr{}, netip.Addr{}, false
	}
	p.touch(px.clk.Now().UnixNano())
	px.connect(p)
	return p.local4, p.local6, true
}

// ReverseOverlay implements dns.ReverseResolver: a virtual address names its
// peer (NAME.i3), this host's own addresses name this host.
func (px *Proxy) ReverseOverlay(a netip.Addr) (string, bool) {
	if !px.cfg.Pool4.Contains(a) && !(px.cfg.Pool6.IsValid() && px.cfg.Pool6.Contains(a)) {
		return "", false
	}
	if a == px.own4 || a == px.own6 {
		if names := px.book.Book().Names(px.ident.Public()); len(names) > 0 {
			return names[0], true
		}
		return "", true
	}
	p := px.peers.byAddress(a)
	if p == nil {
		return "", true
	}
	return p.name, true
}
