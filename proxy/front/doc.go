// Package front is the proxy's front door for programs that cannot use a tun
// device (userspace mode, issue 13): one TCP listener that speaks SOCKS5
// (RFC 1928) and HTTP proxy, told apart by the first byte of each connection
// (0x05 is SOCKS5, anything else HTTP; the byte is not lost).
//
// SOCKS5: the "no authentication" method only (others get 0xFF); CONNECT and
// UDP ASSOCIATE, with IPv4, IPv6 and domain-name addresses. Names are
// resolved by the Router (socks5h), so home.i3 works with no DNS hook. Reply
// codes: 0x04 for a name that does not resolve or a host that cannot be
// reached, 0x05 refused, 0x03 network unreachable, 0x01 anything else, 0x07
// for BIND and unknown commands, 0x08 for an unknown address type. A UDP
// association relays on a socket bound to the address the client reached,
// accepts datagrams only from the client's IP, refuses fragments, dials once
// per destination, and ends with its TCP connection or after UDPTimeout idle.
//
// HTTP: CONNECT host:port (200, then a tunnel) and absolute-form requests
// (GET http://home.i3/ HTTP/1.1) forwarded by net/http's ReverseProxy
// (hop-by-hop headers dropped, keep-alive on both sides). Failures are 502
// (504 for a timeout) with a one-line reason naming the host.
//
// The package knows nothing of the overlay: every name and every connection
// goes through the Router. Router errors that wrap syscall.ECONNREFUSED,
// ENETUNREACH or EHOSTUNREACH (or whose text says "refused") give the
// matching SOCKS codes. Handshakes are bounded by HandshakeTimeout; Close
// ends every connection and waits for every goroutine the Server started.
package front
