package server

import (
	"encoding/binary"
	"net/netip"
	"syscall"
	"unsafe"
)

// pktinfoDst returns the destination address in an IP_PKTINFO or IPV6_PKTINFO
// control message of oob, or the zero Addr. It parses in place (the x/net
// parser allocates).
func pktinfoDst(oob []byte) netip.Addr {
	const hdr = syscall.SizeofCmsghdr
	const word = int(unsafe.Sizeof(uintptr(0))) // cmsg alignment
	align := func(n int) int { return (n + word - 1) &^ (word - 1) }
	for len(oob) >= hdr {
		var l, level, typ int
		if hdr == 16 { // 64-bit: len is a uint64
			l = int(binary.NativeEndian.Uint64(oob))
			level = int(int32(binary.NativeEndian.Uint32(oob[8:])))
			typ = int(int32(binary.NativeEndian.Uint32(oob[12:])))
		} else {
			l = int(binary.NativeEndian.Uint32(oob))
			level = int(int32(binary.NativeEndian.Uint32(oob[4:])))
			typ = int(int32(binary.NativeEndian.Uint32(oob[8:])))
		}
		if l < hdr || l > len(oob) {
			return netip.Addr{}
		}
		data := oob[align(hdr):l]
		switch {
		case level == syscall.IPPROTO_IP && typ == syscall.IP_PKTINFO && len(data) >= syscall.SizeofInet4Pktinfo:
			// struct in_pktinfo { int ifindex; in_addr spec_dst; in_addr addr; }
			return netip.AddrFrom4([4]byte(data[8:12]))
		case level == syscall.IPPROTO_IPV6 && typ == syscall.IPV6_PKTINFO && len(data) >= syscall.SizeofInet6Pktinfo:
			// struct in6_pktinfo { in6_addr addr; int ifindex; }
			return netip.AddrFrom16([16]byte(data[:16])).Unmap()
		}
		if align(l) >= len(oob) {
			break
		}
		oob = oob[align(l):]
	}
	return netip.Addr{}
}
