// Package cmsg reads socket control messages (the ancillary data of recvmsg)
// in place, without allocating: golang.org/x/sys/unix's parser returns a new
// slice per call, too much for a per-datagram path. The server reads the
// destination address of a datagram (IP_PKTINFO) with it, package udpgso the
// segment size of a coalesced receive (UDP_GRO).
package cmsg

import (
	"encoding/binary"
	"unsafe"
)

// word is the alignment of control messages: the size of a C long.
const word = int(unsafe.Sizeof(uintptr(0)))

// headerLen is the size of struct cmsghdr: a size_t length, then level and
// type as ints.
const headerLen = word + 8

func align(n int) int { return (n + word - 1) &^ (word - 1) }

// Find returns the data of the first control message in oob of the given
// level and type. A malformed message ends the search.
func Find(oob []byte, level, typ int) (data []byte, ok bool) {
	for len(oob) >= headerLen {
		var l int
		if word == 8 {
			l = int(binary.NativeEndian.Uint64(oob))
		} else {
			l = int(binary.NativeEndian.Uint32(oob))
		}
		lv := int(int32(binary.NativeEndian.Uint32(oob[word:])))
		ty := int(int32(binary.NativeEndian.Uint32(oob[word+4:])))
		if l < headerLen || l > len(oob) {
			return nil, false
		}
		if lv == level && ty == typ {
			return oob[align(headerLen):l], true
		}
		if align(l) >= len(oob) {
			break
		}
		oob = oob[align(l):]
	}
	return nil, false
}

// Space is the bytes a control message with n bytes of data takes (CMSG_SPACE).
func Space(n int) int { return align(headerLen) + align(n) }

// Put writes a control message of level and typ with data at the start of b,
// which must hold Space(len(data)) bytes, and returns that part of b.
func Put(b []byte, level, typ int, data []byte) []byte {
	b = b[:Space(len(data))]
	clear(b)
	l := align(headerLen) + len(data) // CMSG_LEN
	if word == 8 {
		binary.NativeEndian.PutUint64(b, uint64(l))
	} else {
		binary.NativeEndian.PutUint32(b, uint32(l))
	}
	binary.NativeEndian.PutUint32(b[word:], uint32(int32(level)))
	binary.NativeEndian.PutUint32(b[word+4:], uint32(int32(typ)))
	copy(b[align(headerLen):], data)
	return b
}
