package udpgso

import (
	"encoding/binary"
	"errors"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// cmsgSegmentSpace is the control space of a UDP_SEGMENT message (a uint16).
const cmsgSegmentSpace = (unix.SizeofCmsghdr + 2 + 7) &^ 7

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

// putSegmentSize writes a UDP_SEGMENT control message of size into b (of
// cmsgSegmentSpace bytes) and returns it.
func putSegmentSize(b []byte, size uint16) []byte {
	b = b[:cmsgSegmentSpace]
	clear(b)
	h := unix.Cmsghdr{Level: unix.IPPROTO_UDP, Type: unix.UDP_SEGMENT}
	h.SetLen(unix.CmsgLen(2))
	putHeader(b, &h)
	binary.NativeEndian.PutUint16(b[unix.CmsgLen(0):], size)
	return b
}

// putHeader writes h at the start of b in the kernel's layout.
func putHeader(b []byte, h *unix.Cmsghdr) {
	if unix.SizeofCmsghdr == 16 {
		binary.NativeEndian.PutUint64(b, uint64(h.Len))
		binary.NativeEndian.PutUint32(b[8:], uint32(h.Level))
		binary.NativeEndian.PutUint32(b[12:], uint32(h.Type))
		return
	}
	binary.NativeEndian.PutUint32(b, uint32(h.Len))
	binary.NativeEndian.PutUint32(b[4:], uint32(h.Level))
	binary.NativeEndian.PutUint32(b[8:], uint32(h.Type))
}

// groSize returns the segment size of a UDP_GRO control message in oob, or 0
// when there is none (the datagram is one datagram).
func groSize(oob []byte) int {
	const hdr = unix.SizeofCmsghdr
	for len(oob) >= hdr {
		var l, level, typ int
		if hdr == 16 {
			l = int(binary.NativeEndian.Uint64(oob))
			level = int(int32(binary.NativeEndian.Uint32(oob[8:])))
			typ = int(int32(binary.NativeEndian.Uint32(oob[12:])))
		} else {
			l = int(binary.NativeEndian.Uint32(oob))
			level = int(int32(binary.NativeEndian.Uint32(oob[4:])))
			typ = int(int32(binary.NativeEndian.Uint32(oob[8:])))
		}
		if l < hdr || l > len(oob) {
			return 0
		}
		data := oob[unix.CmsgLen(0):l]
		if level == unix.IPPROTO_UDP && typ == unix.UDP_GRO {
			switch {
			case len(data) >= 4: // the kernel writes an int
				return int(int32(binary.NativeEndian.Uint32(data)))
			case len(data) >= 2:
				return int(binary.NativeEndian.Uint16(data))
			}
			return 0
		}
		oob = oob[min(len(oob), unix.CmsgSpace(l-unix.CmsgLen(0))):]
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
