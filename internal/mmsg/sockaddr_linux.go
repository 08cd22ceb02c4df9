package mmsg

import (
	"encoding/binary"
	"net"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// putSockaddr writes a's address to sa as x/net does, sockaddr_in for an
// IPv4 address (the kernel takes it on a dual-stack IPv6 socket too) and
// sockaddr_in6 for an IPv6 one, and returns its length; 0 when a is not a
// *net.UDPAddr or holds no IP address.
func putSockaddr(sa *unix.RawSockaddrInet6, a net.Addr) int {
	ua, ok := a.(*net.UDPAddr)
	if !ok || ua == nil {
		return 0
	}
	if ip4 := ua.IP.To4(); ip4 != nil {
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*s4 = unix.RawSockaddrInet4{Family: unix.AF_INET}
		putPort(&s4.Port, ua.Port)
		copy(s4.Addr[:], ip4)
		return unix.SizeofSockaddrInet4
	}
	if len(ua.IP) != net.IPv6len {
		return 0
	}
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Scope_id: zoneIndex(ua.Zone)}
	putPort(&sa.Port, ua.Port)
	copy(sa.Addr[:], ua.IP)
	return unix.SizeofSockaddrInet6
}

// putPort stores port in network byte order.
func putPort(p *uint16, port int) {
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(p))[:], uint16(port))
}

// port reads a port stored in network byte order.
func port(p *uint16) int {
	return int(binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(p))[:]))
}

// source is a message slot's source address, owned by the reader and reused.
type source struct {
	ua    net.UDPAddr
	ip    [net.IPv6len]byte // ua.IP's bytes
	scope uint32            // the last IPv6 scope id seen
	zone  string            // its name
}

// set points s.ua at the address of namelen bytes the kernel wrote to sa: a
// 4-byte IP for sockaddr_in, a 16-byte one for sockaddr_in6 (an IPv4 peer of
// a dual-stack socket is IPv4-mapped), as x/net does. It reports false for
// another family or a short address.
func (s *source) set(sa *unix.RawSockaddrInet6, namelen uint32) bool {
	switch {
	case sa.Family == unix.AF_INET && namelen >= unix.SizeofSockaddrInet4:
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		copy(s.ip[:4], s4.Addr[:])
		s.ua = net.UDPAddr{IP: s.ip[:4], Port: port(&s4.Port)}
	case sa.Family == unix.AF_INET6 && namelen >= unix.SizeofSockaddrInet6:
		copy(s.ip[:], sa.Addr[:])
		if sa.Scope_id != s.scope {
			s.zone, s.scope = zoneName(sa.Scope_id), sa.Scope_id
		}
		s.ua = net.UDPAddr{IP: s.ip[:], Port: port(&sa.Port), Zone: s.zone}
	default:
		return false
	}
	return true
}

// zoneName names the interface of a scope id (a link-local peer's), its number
// when it has no name; "" for 0. It allocates, but only when a slot's scope
// changes.
func zoneName(scope uint32) string {
	if scope == 0 {
		return ""
	}
	if ifi, err := net.InterfaceByIndex(int(scope)); err == nil {
		return ifi.Name
	}
	return strconv.FormatUint(uint64(scope), 10)
}

// zoneIndex is the scope id of zone, an interface's name or number.
func zoneIndex(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n)
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifi.Index)
	}
	return 0
}
