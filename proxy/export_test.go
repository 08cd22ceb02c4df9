package proxy

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/proxy/packet"
)

// Hooks into the proxy for its external tests (package proxy_test), which
// use the shared harness of proxytest.

// OutboundPacket runs the outbound path for one packet read from the tun
// device and reports whether it produced a frame to send.
func OutboundPacket(px *Proxy, pkt []byte, pp *packet.Parsed, frame []byte, now int64) bool {
	var st [2]id.ID
	_, _, _, ok := px.outboundPacket(pkt, pp, frame, &st, now)
	return ok
}

// Inbound hands the proxy a delivery from the overlay, as the client does.
func Inbound(px *Proxy, to id.ID, payload []byte) {
	px.inbound(client.Delivery{ID: to, Payload: payload})
}

// LimitQueue applies the inbound queue limit to pkt, which waited queued in
// the socket and was read at now (Unix ns), and reports whether it passes.
func LimitQueue(px *Proxy, pkt []byte, queued time.Duration, now int64) bool {
	return px.limitQueue(pkt, queued, now)
}

// FlushInbound writes the packets Inbound opened into the tun device.
func FlushInbound(px *Proxy) { px.flushInbound() }

// Sealer returns a function that seals packets in the session px has with
// the peer of key, as that peer's frames to px, and the private id they go
// to; ok is false without a session.
func Sealer(px *Proxy, key identity.PublicKey) (seal func(dst, pkt []byte) []byte, to id.ID, ok bool) {
	p := px.peerByKey(key)
	if p == nil {
		return nil, to, false
	}
	s := p.sess.Load()
	r, known := p.remote()
	if s == nil || !known {
		return nil, to, false
	}
	return func(dst, pkt []byte) []byte { b, _ := s.Seal(dst, pkt); return b }, r, true
}

// AddPeer registers the host of key, as a DNS answer for it does.
func AddPeer(px *Proxy, key identity.PublicKey) error {
	_, err := px.peerFor(key, nil)
	return err
}

// ForgetPeer forgets the host of key.
func ForgetPeer(px *Proxy, key identity.PublicKey) { px.forget(px.peerByKey(key)) }

// ClientStats returns the statistics of px's overlay client.
func ClientStats(px *Proxy) client.Stats { return px.client.Stats() }

// Netstack is the proxy's userspace TCP/IP stack, for tests in which one
// stands for the programs of a host.
type Netstack = netstack

// NewNetstack returns a stack with the addresses addrs.
func NewNetstack(mtu int, addrs ...netip.Addr) (*Netstack, error) { return newNetstack(mtu, addrs...) }

// NetstackRun hands the stack's outgoing packets to output until ctx ends.
func NetstackRun(ns *Netstack, ctx context.Context, output func([]byte)) { ns.run(ctx, output) }

// NetstackInject gives the stack a packet from the network.
func NetstackInject(ns *Netstack, pkt []byte) { ns.inject(pkt) }

// NetstackDial opens a TCP connection from the stack to ap.
func NetstackDial(ns *Netstack, ctx context.Context, ap netip.AddrPort) (net.Conn, error) {
	return ns.dialTCP(ctx, ap)
}

// NetstackClose stops the stack.
func NetstackClose(ns *Netstack) { ns.close() }

// DNSAddrs returns px's DNS service addresses.
func DNSAddrs(px *Proxy) (v4, v6 netip.Addr) { return px.dns4, px.dns6 }
