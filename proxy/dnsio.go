package proxy

import (
	"net/netip"

	mdns "github.com/miekg/dns"

	"github.com/i3net/i3net/proxy/packet"
)

// handleDNS answers a DNS query a program sent to the service address through
// the tun device: overlay names from the address book at once, other names
// through the upstream resolvers, the answer written back into the tun device.
// It runs on the tun goroutine and never waits on the network.
func (px *Proxy) handleDNS(pkt []byte, pp *packet.Parsed) {
	if pp.IPProto != packet.ProtoUDP || pp.Dst.Port() != 53 {
		px.stats.dropMalformed.Add(1)
		return
	}
	px.stats.dnsQueries.Add(1)
	resp, forward, err := px.dns.Answer(pp.Payload(pkt), px.dnsBuf[:0])
	if err != nil {
		px.stats.dnsErrors.Add(1)
		return
	}
	from, to := pp.Dst, pp.Src
	if !forward {
		px.writeUDP(from, to, resp)
		return
	}
	if px.fwd == nil {
		// No upstream: say so at once rather than let the program time out.
		if resp, err := px.dns.Fail(pp.Payload(pkt), px.dnsBuf[:0], mdns.RcodeServerFailure); err == nil {
			px.writeUDP(from, to, resp)
		}
		px.stats.dnsErrors.Add(1)
		return
	}
	px.stats.dnsForwarded.Add(1)
	if !px.fwd.Go(px.ctx, pp.Payload(pkt), func(resp []byte, err error) {
		if err != nil {
			px.stats.dnsErrors.Add(1)
			return
		}
		px.writeUDP(from, to, resp)
	}) {
		px.stats.dnsErrors.Add(1)
	}
}

// writeUDP writes a UDP packet from → to carrying payload into the tun device.
func (px *Proxy) writeUDP(from, to netip.AddrPort, payload []byte) {
	b, err := packet.Build(packet.Header{Src: from, Dst: to, Proto: packet.ProtoUDP}, payload)
	if err != nil {
		px.stats.dnsErrors.Add(1)
		return
	}
	buf := make([]byte, tunOffset+len(b))
	copy(buf[tunOffset:], b)
	if _, err := px.tun.Write([][]byte{buf}, tunOffset); err != nil {
		px.stats.dropTunWrite.Add(1)
	}
}

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
