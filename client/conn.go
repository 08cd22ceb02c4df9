package client

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/i3net/i3net/internal/mmsg"
	"github.com/i3net/i3net/internal/udpgso"
)

// batchConn is the client's socket seen as batches: recvmmsg and sendmmsg on
// Linux (internal/mmsg, under internal/udpgso's offloads), one datagram per
// call elsewhere.
type batchConn = mmsg.Batch

// listen binds the client's UDP socket: local if set, else an ephemeral port on
// the wildcard address of the family of server.
func listen(local, server netip.AddrPort) (*net.UDPConn, batchConn, error) {
	v4 := server.Addr().Is4()
	network := "udp6"
	if v4 {
		network = "udp4"
	}
	if !local.IsValid() {
		if v4 {
			local = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
		} else {
			local = netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
		}
	}
	conn, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(unmap(local)))
	if err != nil {
		return nil, nil, fmt.Errorf("client: bind %s: %w", local, err)
	}
	// Best effort: the kernel caps both at its *mem_max settings.
	_ = conn.SetReadBuffer(socketBuffer)
	_ = conn.SetWriteBuffer(socketBuffer)
	// Segmentation offloads: a run of equal datagrams to one server (a bulk
	// transfer) is one trip through the kernel each way. Under them,
	// recvmmsg and sendmmsg that allocate nothing per datagram.
	return conn, udpgso.New(conn, mmsg.New(conn)), nil
}

// boundAddr returns the address the socket is bound to.
func boundAddr(conn *net.UDPConn) netip.AddrPort {
	return unmap(conn.LocalAddr().(*net.UDPAddr).AddrPort())
}

// routeSource returns the source address the kernel picks toward server. A
// first server that sees another source (a NAT) uses what it sees (paper
// §5.1), so a wrong guess costs nothing but the hint.
func routeSource(server netip.AddrPort) (netip.Addr, error) {
	network := "udp6"
	if server.Addr().Is4() {
		network = "udp4"
	}
	// Connecting a UDP socket sends nothing; it only asks for a route.
	probe, err := net.DialUDP(network, nil, net.UDPAddrFromAddrPort(server))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("client: no route to server %s: %w", server, err)
	}
	defer probe.Close()
	return unmap(probe.LocalAddr().(*net.UDPAddr).AddrPort()).Addr(), nil
}

// addrPortOf converts the address a batch read returns.
func addrPortOf(a net.Addr) netip.AddrPort {
	if ua, ok := a.(*net.UDPAddr); ok {
		return unmap(ua.AddrPort())
	}
	return netip.AddrPort{}
}

// setUDPAddr points ua, whose IP has 16 bytes of capacity, at ap without
// allocating.
func setUDPAddr(ua *net.UDPAddr, ap netip.AddrPort) {
	a := ap.Addr()
	if a.Is4() {
		b := a.As4()
		ua.IP = append(ua.IP[:0], b[:]...)
	} else {
		b := a.As16()
		ua.IP = append(ua.IP[:0], b[:]...)
	}
	ua.Port = int(ap.Port())
	ua.Zone = ""
}
