package wire

import "net/netip"

// Reflecting pings. A ping whose first byte has PingReflect set and whose body
// (the bytes after the first) has room for the address is echoed by our
// servers with the address the ping came from written at b[1:] in the
// encoding of an address (type byte, address, port) and zeros after it: same
// length, so no amplification. A server that does not know it echoes the
// zeros, which read as unknown. A host behind a NAT learns so the mapping the
// server sees without a trigger refresh.

// IsReflectPing reports whether datagram b is a reflecting ping.
func IsReflectPing(b []byte) bool { return IsPing(b) && b[0]&PingReflect != 0 }

// PutReflected writes a into the body of reflecting ping b, in place, and
// zeroes the rest of the body; it reports false, b unchanged, when b is not
// a reflecting ping, a is not valid or the body is too short for a's family.
// It does not allocate.
func PutReflected(b []byte, a netip.AddrPort) bool {
	if !IsReflectPing(b) || !a.IsValid() {
		return false
	}
	ad := IPAddr(a)
	body := b[1:]
	if len(body) < ad.encodedLen() {
		return false
	}
	n := len(ad.AppendTo(body[:0]))
	clear(body[n:])
	return true
}

// Reflected returns the address a server wrote into reflecting ping b (the
// echo of one): false when b is not one, or its body is all zeros (the
// server does not reflect) or holds anything but an IP address followed by
// zeros.
func Reflected(b []byte) (netip.AddrPort, bool) {
	if !IsReflectPing(b) {
		return netip.AddrPort{}, false
	}
	var a Addr
	rest, err := decodeAddr(b[1:], &a)
	if err != nil || !a.IsIP() {
		return netip.AddrPort{}, false
	}
	for _, c := range rest {
		if c != 0 {
			return netip.AddrPort{}, false
		}
	}
	return netip.AddrPortFrom(a.IP.Addr().Unmap(), a.IP.Port()), true
}
