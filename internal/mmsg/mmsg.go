package mmsg

import (
	"net"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Batch is the batch half of x/net's ipv4.PacketConn and ipv6.PacketConn
// (their Message types are the same type), which New returns.
type Batch interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

var (
	_ Batch = (*ipv4.PacketConn)(nil)
	_ Batch = (*ipv6.PacketConn)(nil)
)

// xnet returns x/net's PacketConn for conn's family.
func xnet(conn *net.UDPConn) Batch {
	if ua, ok := conn.LocalAddr().(*net.UDPAddr); ok && ua.IP.To4() != nil {
		return ipv4.NewPacketConn(conn)
	}
	return ipv6.NewPacketConn(conn)
}
