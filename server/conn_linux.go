package server

import (
	"net/netip"
	"syscall"

	"github.com/i3net/i3net/internal/cmsg"
)

// pktinfoDst returns the destination address in an IP_PKTINFO or IPV6_PKTINFO
// control message of oob, or the zero Addr. It parses in place (the x/net
// parser allocates).
func pktinfoDst(oob []byte) netip.Addr {
	if data, ok := cmsg.Find(oob, syscall.IPPROTO_IP, syscall.IP_PKTINFO); ok && len(data) >= syscall.SizeofInet4Pktinfo {
		// struct in_pktinfo { int ifindex; in_addr spec_dst; in_addr addr; }
		return netip.AddrFrom4([4]byte(data[8:12]))
	}
	if data, ok := cmsg.Find(oob, syscall.IPPROTO_IPV6, syscall.IPV6_PKTINFO); ok && len(data) >= syscall.SizeofInet6Pktinfo {
		// struct in6_pktinfo { in6_addr addr; int ifindex; }
		return netip.AddrFrom16([16]byte(data[:16])).Unmap()
	}
	return netip.Addr{}
}
