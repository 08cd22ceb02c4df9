package udpgso

import (
	"encoding/binary"
	"errors"
	"net"
	"os"

	"golang.org/x/sys/unix"

	"github.com/i3net/i3net/internal/cmsg"
)

// DisableEnv, set to a non-empty value, turns the offloads off (to measure
// what they are worth, or to work around a kernel that mishandles them).
const DisableEnv = "I3NET_NO_UDP_OFFLOAD"

// enable turns UDP_GRO on for conn's socket and reports whether the kernel
// accepts UDP_SEGMENT sends and UDP_GRO.
func enable(conn *net.UDPConn) (gso, gro bool) {
	if conn == nil || os.Getenv(DisableEnv) != "" {
		return false, false
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		return false, false
	}
	_ = rc.Control(func(fd uintptr) {
		// Kernels that know UDP_SEGMENT answer the getsockopt (Linux 4.18).
		_, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT)
		gso = err == nil
		gro = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, 1) == nil
	})
	return gso, gro
}

// putSegmentSize writes a UDP_SEGMENT control message of size at the start of
// b (of cmsgSegmentSpace bytes) and returns it.
func putSegmentSize(b []byte, size uint16) []byte {
	var d [2]byte
	binary.NativeEndian.PutUint16(d[:], size)
	return cmsg.Put(b, unix.IPPROTO_UDP, unix.UDP_SEGMENT, d[:])
}

// groSize returns the segment size of a UDP_GRO control message in oob, or 0
// when there is none (the datagram is one datagram).
func groSize(oob []byte) int {
	data, ok := cmsg.Find(oob, unix.IPPROTO_UDP, unix.UDP_GRO)
	switch {
	case !ok:
		return 0
	case len(data) >= 4: // the kernel writes an int
		return int(int32(binary.NativeEndian.Uint32(data)))
	case len(data) >= 2:
		return int(binary.NativeEndian.Uint16(data))
	}
	return 0
}

// refused reports whether err is the kernel refusing a coalesced send of
// segments of size seg, which then goes out one datagram at a time, and
// adjusts what later sends try: without checksum offload (EIO) no coalescing
// at all; a segment too large for the path (EINVAL, EMSGSIZE) no coalescing
// of segments that large.
func (c *Conn) refused(err error, seg int) bool {
	switch {
	case errors.Is(err, unix.EIO):
		c.gso.Store(false)
		return true
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.EMSGSIZE):
		for {
			cur := c.maxSeg.Load()
			if int64(seg) > cur || c.maxSeg.CompareAndSwap(cur, int64(seg)-1) {
				return true
			}
		}
	}
	return false
}
