package proxy

// A userspace TCP/IP stack (gVisor's netstack) joined to the proxy by
// packets: inject hands it an IP packet the proxy read from the tun device,
// and every packet it sends goes to the output function (the proxy writes it
// into the tun device). It terminates TCP for the proxy's own services (DNS
// over TCP, dnstcp.go) without a socket on the host. Nothing here knows DNS.

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

const (
	// netstackNIC is the stack's only interface.
	netstackNIC tcpip.NICID = 1
	// netstackQueue is how many outgoing packets the stack may queue before
	// output takes them; more are dropped (TCP sends them again).
	netstackQueue = 256
	// hostStackQueue is the same for the stack of userspace mode, which
	// carries every flow of the host.
	hostStackQueue = 4096
)

// netstack is a userspace TCP/IP stack with one interface whose packets are
// handed over by the caller. It is safe for concurrent use.
type netstack struct {
	stack *stack.Stack
	ep    *channel.Endpoint
}

// newNetstack returns a stack that owns addrs, sends everything through its
// only interface (MTU mtu, bytes), and accepts packets to any of addrs.
// run must be called to move its outgoing packets.
func newNetstack(mtu int, addrs ...netip.Addr) (*netstack, error) {
	return newStack(mtu, []stack.TransportProtocolFactory{tcp.NewProtocol}, netstackQueue, addrs)
}

// newHostStack returns a stack that stands for the tun device in userspace
// mode (userspace.go): TCP, UDP and ICMP (it answers pings), a longer
// queue, and TCP buffers large enough for a fast path.
func newHostStack(mtu int, addrs ...netip.Addr) (*netstack, error) {
	protos := []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6}
	ns, err := newStack(mtu, protos, hostStackQueue, addrs)
	if err != nil {
		return nil, err
	}
	if err := ns.tuneTCP(); err != nil {
		ns.close()
		return nil, err
	}
	return ns, nil
}

// newStack returns a stack with the transport protocols protos, a queue of
// queue outgoing packets, owning addrs.
func newStack(mtu int, protos []stack.TransportProtocolFactory, queue int, addrs []netip.Addr) (*netstack, error) {
	ns := &netstack{
		stack: stack.New(stack.Options{
			NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
			TransportProtocols: protos,
			HandleLocal:        true,
		}),
		ep: channel.New(queue, uint32(mtu), ""),
	}
	if err := ns.configure(addrs); err != nil {
		ns.close()
		return nil, err
	}
	return ns, nil
}

func (ns *netstack) configure(addrs []netip.Addr) error {
	sack := tcpip.TCPSACKEnabled(true)
	if err := ns.stack.SetTransportProtocolOption(tcp.ProtocolNumber, &sack); err != nil {
		return fmt.Errorf("netstack: enable SACK: %v", err)
	}
	if err := ns.stack.CreateNIC(netstackNIC, ns.ep); err != nil {
		return fmt.Errorf("netstack: create the interface: %v", err)
	}
	for _, a := range addrs {
		if !a.IsValid() {
			continue
		}
		pa := tcpip.ProtocolAddress{
			Protocol:          protoOf(a),
			AddressWithPrefix: tcpip.AddrFromSlice(a.AsSlice()).WithPrefix(),
		}
		if err := ns.stack.AddProtocolAddress(netstackNIC, pa, stack.AddressProperties{}); err != nil {
			return fmt.Errorf("netstack: add address %v: %v", a, err)
		}
	}
	ns.stack.SetRouteTable([]tcpip.Route{
		{Destination: header.IPv4EmptySubnet, NIC: netstackNIC},
		{Destination: header.IPv6EmptySubnet, NIC: netstackNIC},
	})
	return nil
}

// tuneTCP sets TCP buffers that let one flow fill a fast path (gVisor's
// defaults suit many small flows) and lets the receive buffer grow with the
// flow (moderate receive buffer, as Linux does).
func (ns *netstack) tuneTCP() error {
	snd := tcpip.TCPSendBufferSizeRangeOption{Min: 4 << 10, Default: 1 << 20, Max: 8 << 20}
	rcv := tcpip.TCPReceiveBufferSizeRangeOption{Min: 4 << 10, Default: 1 << 20, Max: 8 << 20}
	moderate := tcpip.TCPModerateReceiveBufferOption(true)
	for _, opt := range []tcpip.SettableTransportProtocolOption{&snd, &rcv, &moderate} {
		if err := ns.stack.SetTransportProtocolOption(tcp.ProtocolNumber, opt); err != nil {
			return fmt.Errorf("netstack: TCP option %T: %v", opt, err)
		}
	}
	return nil
}

// dialUDP connects a UDP socket to ap.
func (ns *netstack) dialUDP(ap netip.AddrPort) (net.Conn, error) {
	raddr := fullAddr(ap)
	c, err := gonet.DialUDP(ns.stack, nil, &raddr, protoOf(ap.Addr()))
	if err != nil {
		return nil, fmt.Errorf("netstack: connect UDP to %v: %w", ap, err)
	}
	return c, nil
}

// protoOf is the network protocol of a.
func protoOf(a netip.Addr) tcpip.NetworkProtocolNumber {
	if a.Is4() {
		return ipv4.ProtocolNumber
	}
	return ipv6.ProtocolNumber
}

// inject hands the stack one IP packet (v4 or v6, by its version); pkt is
// copied. It does not wait for the stack to process it.
func (ns *netstack) inject(pkt []byte) {
	if len(pkt) == 0 {
		return
	}
	var proto tcpip.NetworkProtocolNumber
	switch pkt[0] >> 4 {
	case 4:
		proto = ipv4.ProtocolNumber
	case 6:
		proto = ipv6.ProtocolNumber
	default:
		return
	}
	pkb := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(pkt)})
	ns.ep.InjectInbound(proto, pkb)
	pkb.DecRef()
}

// run calls output with each packet the stack sends, in order, until ctx
// ends; the slice is the caller's only for the call.
func (ns *netstack) run(ctx context.Context, output func(pkt []byte)) {
	for {
		pkb := ns.ep.ReadContext(ctx)
		if pkb == nil {
			return
		}
		v := pkb.ToView()
		output(v.AsSlice())
		v.Release()
		pkb.DecRef()
	}
}

// listenTCP listens on ap, which must be one of the stack's addresses.
func (ns *netstack) listenTCP(ap netip.AddrPort) (net.Listener, error) {
	ln, err := gonet.ListenTCP(ns.stack, fullAddr(ap), protoOf(ap.Addr()))
	if err != nil {
		return nil, fmt.Errorf("netstack: listen on %v: %w", ap, err)
	}
	return ln, nil
}

// dialTCP connects to ap.
func (ns *netstack) dialTCP(ctx context.Context, ap netip.AddrPort) (net.Conn, error) {
	c, err := gonet.DialContextTCP(ctx, ns.stack, fullAddr(ap), protoOf(ap.Addr()))
	if err != nil {
		return nil, fmt.Errorf("netstack: connect to %v: %w", ap, err)
	}
	return c, nil
}

// fullAddr is ap as netstack names it, on the stack's one NIC.
func fullAddr(ap netip.AddrPort) tcpip.FullAddress {
	return tcpip.FullAddress{NIC: netstackNIC, Addr: tcpip.AddrFromSlice(ap.Addr().AsSlice()), Port: ap.Port()}
}

// close stops the stack and waits for its goroutines; connections and
// listeners on it fail from then on.
func (ns *netstack) close() {
	ns.stack.Close()
	ns.ep.Close()
	ns.stack.Wait()
}
