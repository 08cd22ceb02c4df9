// Package proxyproto writes and reads the PROXY protocol version 2 header
// (haproxy's proxy-protocol.txt, §2.2) that the ingress may send in front of a
// relayed TCP connection, so that a publishing service that asks for it learns
// the legacy client's real address and the address it connected to.
//
// Only the binary version 2 and only TCP: the PROXY command with family and
// protocol TCP over IPv4 (0x11) or TCP over IPv6 (0x21), and the LOCAL command
// (a health check: no addresses). Header never fails: it unmaps 4-in-6
// addresses first and uses IPv6 when the two families differ. Parse reads one
// header from the start of a byte slice and rejects anything else with an error
// that says what was wrong; it skips TLVs but checks their framing.
//
// Encoding and decoding are github.com/pires/go-proxyproto's; this package adds
// the netip types, the strict checks and the errors. It knows nothing of the
// ingress.
package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"

	pp "github.com/pires/go-proxyproto"
)

// FixedLen is the length of the fixed part of a version 2 header: the
// signature, the version and command, the family and protocol, and the length.
const FixedLen = 16

// Signature opens every version 2 header.
var Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")

// Errors of Parse; each returned error wraps one of them.
var (
	ErrShort       = errors.New("proxyproto: header incomplete")
	ErrSignature   = errors.New("proxyproto: no PROXY protocol v2 signature")
	ErrVersion     = errors.New("proxyproto: unsupported version or command")
	ErrFamily      = errors.New("proxyproto: unsupported address family or protocol")
	ErrLength      = errors.New("proxyproto: address block too short for its family")
	ErrTLV         = errors.New("proxyproto: malformed TLV")
	ErrUnspecified = errors.New("proxyproto: PROXY command without addresses")
)

// Header returns the version 2 header that says a TCP connection came from src
// to dst. When either address is invalid it returns the LOCAL header (no
// addresses: the receiver then uses the connection's own endpoints).
func Header(src, dst netip.AddrPort) []byte {
	s, d := src.Addr().Unmap().WithZone(""), dst.Addr().Unmap().WithZone("")
	if !s.IsValid() || !d.IsValid() {
		return localHeader()
	}
	h := &pp.Header{Version: 2, Command: pp.PROXY, TransportProtocol: pp.TCPv4}
	if !s.Is4() || !d.Is4() {
		h.TransportProtocol = pp.TCPv6
		s, d = netip.AddrFrom16(s.As16()), netip.AddrFrom16(d.As16())
	}
	h.SourceAddr = &net.TCPAddr{IP: s.AsSlice(), Port: int(src.Port())}
	h.DestinationAddr = &net.TCPAddr{IP: d.AsSlice(), Port: int(dst.Port())}
	b, err := h.Format()
	if err != nil { // unreachable: both addresses are valid and of h's family
		return localHeader()
	}
	return b
}

// localHeader is the LOCAL command's header: no family, no addresses.
func localHeader() []byte {
	return append(append([]byte{}, Signature...), byte(pp.LOCAL), byte(pp.UNSPEC), 0, 0)
}

// Parse reads the version 2 header at the start of b and returns the source
// and destination it carries and its length n (the payload starts at b[n]).
// A LOCAL header gives zero addresses. IPv4-mapped IPv6 addresses come back
// unmapped.
func Parse(b []byte) (src, dst netip.AddrPort, n int, err error) {
	n, err = checkFixed(b)
	if err != nil {
		return src, dst, 0, err
	}
	if b[12] == byte(pp.LOCAL) { // the address block, if any, is to be ignored
		return src, dst, n, nil
	}
	// bufio must hold the whole header for the library's Peek.
	h, err := pp.Read(bufio.NewReaderSize(bytes.NewReader(b[:n]), n))
	if err != nil {
		return src, dst, 0, fmt.Errorf("proxyproto: %d-byte header: %w", n, err)
	}
	if _, err := h.TLVs(); err != nil {
		return src, dst, 0, fmt.Errorf("%w: %v", ErrTLV, err)
	}
	s, d, ok := h.TCPAddrs()
	if !ok {
		return src, dst, 0, ErrUnspecified
	}
	return addrPort(s), addrPort(d), n, nil
}

// checkFixed checks the fixed 16 bytes and that the whole header is in b, and
// returns the header's total length.
func checkFixed(b []byte) (int, error) {
	if len(b) < FixedLen {
		return 0, fmt.Errorf("%w: %d bytes, the fixed part alone is %d", ErrShort, len(b), FixedLen)
	}
	if !bytes.Equal(b[:len(Signature)], Signature) {
		return 0, ErrSignature
	}
	verCmd, famProto := b[12], b[13]
	if verCmd != byte(pp.PROXY) && verCmd != byte(pp.LOCAL) {
		return 0, fmt.Errorf("%w: byte 12 is %#02x, want 0x21 (PROXY) or 0x20 (LOCAL)", ErrVersion, verCmd)
	}
	need, err := addressLen(verCmd, famProto)
	if err != nil {
		return 0, err
	}
	length := int(binary.BigEndian.Uint16(b[14:16]))
	if length < need {
		return 0, fmt.Errorf("%w: length %d, family %#02x needs %d", ErrLength, length, famProto, need)
	}
	if len(b) < FixedLen+length {
		return 0, fmt.Errorf("%w: %d bytes, the header says %d", ErrShort, len(b), FixedLen+length)
	}
	return FixedLen + length, nil
}

// addressLen is the size of the address block that the family and protocol
// byte calls for, or an error for those this package does not carry. A LOCAL
// header's addresses, if any, are ignored (spec §2.2).
func addressLen(verCmd, famProto byte) (int, error) {
	switch {
	case verCmd == byte(pp.LOCAL):
		return 0, nil
	case famProto == byte(pp.TCPv4):
		return 12, nil
	case famProto == byte(pp.TCPv6):
		return 36, nil
	}
	return 0, fmt.Errorf("%w: byte 13 is %#02x, want 0x11 (TCP over IPv4) or 0x21 (TCP over IPv6)",
		ErrFamily, famProto)
}

// addrPort converts the library's address, unmapping IPv4-in-IPv6.
func addrPort(a *net.TCPAddr) netip.AddrPort {
	ip, _ := netip.AddrFromSlice(a.IP)
	return netip.AddrPortFrom(ip.Unmap(), uint16(a.Port))
}
