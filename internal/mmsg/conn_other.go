//go:build !linux

package mmsg

import "net"

// New returns x/net's PacketConn for conn: elsewhere than Linux, it reads and
// writes one datagram per call.
func New(conn *net.UDPConn) Batch { return xnet(conn) }
