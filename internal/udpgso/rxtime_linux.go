package udpgso

import (
	"encoding/binary"
	"net"

	"golang.org/x/sys/unix"

	"github.com/i3net/i3net/internal/cmsg"
)

// RxTimeSpace is the control space one received message needs for its
// arrival time (a struct timespec), with room for the UDP_GRO segment size
// beside it (ReadBatch copies a coalesced receive's control data to each of
// its segments; the kernel's order of the two has not always been the same).
var RxTimeSpace = cmsg.Space(4) + cmsg.Space(16)

// EnableRxTime asks the kernel to stamp every datagram conn receives with the
// time it arrived (SO_TIMESTAMPNS, the real-time clock), which RxTime reads
// from a message's control data: now minus that is how long the datagram
// waited in the socket's receive queue. It reports whether the kernel
// agreed. The segments of a coalesced (GRO) receive share one stamp.
func EnableRxTime(conn *net.UDPConn) bool {
	rc, err := conn.SyscallConn()
	if err != nil {
		return false
	}
	ok := false
	_ = rc.Control(func(fd uintptr) {
		ok = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) == nil
	})
	return ok
}

// RxTime returns the arrival time in oob, as Unix nanoseconds, or false when
// oob holds none.
func RxTime(oob []byte) (int64, bool) {
	data, ok := cmsg.Find(oob, unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS)
	if !ok || len(data) < 16 {
		return 0, false
	}
	sec := int64(binary.NativeEndian.Uint64(data))
	nsec := int64(binary.NativeEndian.Uint64(data[8:]))
	return sec*1e9 + nsec, true
}
