package front

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
)

// SOCKS5 constants (RFC 1928).
const (
	socksVersion = 0x05

	methodNoAuth       = 0x00
	methodNoAcceptable = 0xFF

	cmdConnect   = 0x01
	cmdBind      = 0x02
	cmdAssociate = 0x03

	atypIPv4   = 0x01
	atypDomain = 0x03
	atypIPv6   = 0x04

	repSucceeded           = 0x00
	repGeneralFailure      = 0x01
	repNetworkUnreachable  = 0x03
	repHostUnreachable     = 0x04
	repConnectionRefused   = 0x05
	repCommandUnsupported  = 0x07
	repAddrTypeUnsupported = 0x08
)

// socksDest is a destination as a client named it: a host name (ATYP 3) or
// an address, and a port.
type socksDest struct {
	name string     // set for ATYP 3
	addr netip.Addr // set for ATYP 1 and 4
	port uint16
}

// String is host:port, for logs and errors.
func (d socksDest) String() string {
	if d.name != "" {
		return fmt.Sprintf("%q:%d", d.name, d.port)
	}
	return netip.AddrPortFrom(d.addr, d.port).String()
}

// requestError is a SOCKS request that cannot be served, with the reply code
// the client gets.
type requestError struct {
	code byte
	msg  string
}

func (e *requestError) Error() string { return e.msg }

// readGreeting reads the client's method selection message (version 5
// already consumed) and reports whether it offers "no authentication".
func readGreeting(r io.Reader) (bool, error) {
	var n [1]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return false, fmt.Errorf("reading the number of methods: %w", err)
	}
	if n[0] == 0 {
		return false, errors.New("greeting offers no method")
	}
	methods := make([]byte, n[0])
	if _, err := io.ReadFull(r, methods); err != nil {
		return false, fmt.Errorf("reading %d methods: %w", n[0], err)
	}
	for _, m := range methods {
		if m == methodNoAuth {
			return true, nil
		}
	}
	return false, nil
}

// readRequest reads a request (VER CMD RSV ATYP DST.ADDR DST.PORT). A
// *requestError carries the code to reply with; other errors are I/O.
func readRequest(r io.Reader) (byte, socksDest, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, socksDest{}, fmt.Errorf("reading the request header: %w", err)
	}
	if hdr[0] != socksVersion {
		return 0, socksDest{}, &requestError{repGeneralFailure, fmt.Sprintf("request version %d, want 5", hdr[0])}
	}
	dst, err := readAddr(r, hdr[3])
	if err != nil {
		return 0, socksDest{}, err
	}
	return hdr[1], dst, nil
}

// readAddr reads DST.ADDR of type atyp and DST.PORT.
func readAddr(r io.Reader, atyp byte) (socksDest, error) {
	var d socksDest
	switch atyp {
	case atypIPv4, atypIPv6:
		b := make([]byte, 4, 16)
		if atyp == atypIPv6 {
			b = b[:16]
		}
		if _, err := io.ReadFull(r, b); err != nil {
			return d, fmt.Errorf("reading the address: %w", err)
		}
		d.addr, _ = netip.AddrFromSlice(b)
	case atypDomain:
		name, err := readName(r)
		if err != nil {
			return d, err
		}
		d.name = name
	default:
		return d, &requestError{repAddrTypeUnsupported, fmt.Sprintf("address type %d", atyp)}
	}
	var port [2]byte
	if _, err := io.ReadFull(r, port[:]); err != nil {
		return d, fmt.Errorf("reading the port: %w", err)
	}
	d.port = binary.BigEndian.Uint16(port[:])
	return d, nil
}

// readName reads a length-prefixed domain name; an address written as a
// name (curl sends "127.0.0.1" so) is kept as a name: the caller parses it.
func readName(r io.Reader) (string, error) {
	var n [1]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return "", fmt.Errorf("reading the name length: %w", err)
	}
	if n[0] == 0 {
		return "", &requestError{repGeneralFailure, "empty host name"}
	}
	name := make([]byte, n[0])
	if _, err := io.ReadFull(r, name); err != nil {
		return "", fmt.Errorf("reading the name: %w", err)
	}
	return string(name), nil
}

// appendAddr appends ATYP, the address and the port of ap (the form of BND
// in replies and of the header of relayed datagrams); an IPv4-mapped IPv6
// address stays IPv6 (replyBytes unmaps).
func appendAddr(b []byte, ap netip.AddrPort) []byte {
	a := ap.Addr()
	if a.Is4() {
		b = append(b, atypIPv4)
	} else {
		b = append(b, atypIPv6)
		a = netip.AddrFrom16(a.As16()) // no zone, 16 bytes
	}
	b = append(b, a.AsSlice()...)
	return binary.BigEndian.AppendUint16(b, ap.Port())
}

// appendDest appends d in request form (a name as ATYP 3).
func appendDest(b []byte, d socksDest) []byte {
	if d.name == "" {
		return appendAddr(b, netip.AddrPortFrom(d.addr, d.port))
	}
	b = append(b, atypDomain, byte(len(d.name)))
	b = append(b, d.name...)
	return binary.BigEndian.AppendUint16(b, d.port)
}

// replyBytes is a reply: VER REP RSV and BND (zero IPv4 when bnd is not
// valid).
func replyBytes(code byte, bnd netip.AddrPort) []byte {
	if !bnd.IsValid() {
		bnd = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	}
	bnd = netip.AddrPortFrom(bnd.Addr().Unmap(), bnd.Port())
	return appendAddr([]byte{socksVersion, code, 0x00}, bnd)
}

// udpHeaderMax is the longest UDP request header: RSV FRAG ATYP, a
// 255-byte name with its length, and the port.
const udpHeaderMax = 3 + 1 + 1 + 255 + 2

// parseDatagram splits a client's UDP datagram (RSV RSV FRAG ATYP DST.ADDR
// DST.PORT DATA) into its destination and payload; fragments are refused.
func parseDatagram(b []byte) (socksDest, []byte, error) {
	if len(b) < 4 {
		return socksDest{}, nil, fmt.Errorf("datagram of %d bytes: shorter than its header", len(b))
	}
	if b[2] != 0 {
		return socksDest{}, nil, fmt.Errorf("fragment %d: fragmentation is not supported", b[2])
	}
	r := &sliceReader{b: b[4:]}
	d, err := readAddr(r, b[3])
	if err != nil {
		return socksDest{}, nil, fmt.Errorf("datagram header: %w", err)
	}
	return d, r.b, nil
}

// sliceReader reads a byte slice and leaves the unread rest in b (a
// bytes.Reader hides it).
type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
