//go:build !linux

package udpgso

import "net"

// DisableEnv, set to a non-empty value, turns the offloads off; elsewhere
// than Linux there are none.
const DisableEnv = "I3NET_NO_UDP_OFFLOAD"

func enable(*net.UDPConn) (gso, gro bool)      { return false, false }
func putSegmentSize(b []byte, _ uint16) []byte { return b[:0] }
func groSize([]byte) int                       { return 0 }
func (c *Conn) refused(error, int) bool        { return false }
