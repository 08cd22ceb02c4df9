package proxy

import "github.com/i3net/i3net/proxy/packet"

// tooBig answers a packet larger than the tunnel carries (the tun MTU) with
// ICMP "fragmentation needed" (IPv4 with DF) or "packet too big" (IPv6), so
// the program's path-MTU discovery lowers its size instead of its packets
// vanishing (§7.2). The error comes from the address the program sent to.
// Packets the kernel hands the tun device are normally within its MTU; this
// catches the rest (a device with a larger MTU than configured, offloads
// gone wrong, a gateway forwarding for hosts with a larger MTU). Others are
// dropped and counted.
func (px *Proxy) tooBig(pkt []byte, pp *packet.Parsed) {
	px.stats.dropTooBig.Add(1)
	var (
		icmp []byte
		err  error
	)
	switch {
	case pp.IPVersion == 4 && pp.DontFragment():
		icmp, err = packet.AppendICMPFragNeeded(nil, pkt, px.cfg.MTU)
	case pp.IPVersion == 6:
		icmp, err = packet.AppendICMPv6PacketTooBig(nil, pkt, px.cfg.MTU)
	default:
		return
	}
	if err == nil {
		px.stats.icmpTooBig.Add(1)
		px.writeTun(icmp)
	}
}
