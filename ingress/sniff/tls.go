package sniff

import (
	"bufio"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// TLS framing (RFC 8446 §5.1, §4).
const (
	recordHeaderLen     = 5
	recordTypeHandshake = 22
	maxPlaintextRecord  = 1 << 14
	handshakeHeaderLen  = 4
	typeClientHello     = 1
	extensionServerName = 0
	nameTypeHostName    = 0
)

// TLSServerName returns the server_name (SNI) of the TLS ClientHello that br
// starts with, lower case, without a final dot. The ClientHello may be split
// over several handshake records: they are peeked and reassembled, at most max
// bytes in all (max <= 0 or beyond br.Size(): br.Size()); br keeps every byte.
// TLS is not terminated: nothing is written.
//
// Errors: ErrNotTLS (not a handshake record, not a ClientHello, or a malformed
// one), ErrNoName (no server_name extension, or an IP literal in it),
// ErrBadName, ErrTooLong, or the reader's error (io.ErrUnexpectedEOF when the
// stream ends).
func TLSServerName(br *bufio.Reader, max int) (string, error) {
	lim := limit(br, max)
	if b, err := peek(br, 1, lim); err != nil {
		return "", err
	} else if b[0] != recordTypeHandshake {
		return "", fmt.Errorf("%w: first byte %#02x is not a handshake record", ErrNotTLS, b[0])
	}
	body, err := readClientHello(br, lim)
	if err != nil {
		return "", err
	}
	return parseClientHello(body)
}

// readClientHello peeks handshake records until they hold a whole handshake
// message, checks that it is a ClientHello and returns its body (a copy).
func readClientHello(br *bufio.Reader, lim int) ([]byte, error) {
	var msg []byte
	need, offset := handshakeHeaderLen, 0
	for len(msg) < need {
		fragment, err := peekRecord(br, offset, lim)
		if err != nil {
			return nil, err
		}
		msg = append(msg, fragment...)
		offset += recordHeaderLen + len(fragment)
		if need == handshakeHeaderLen && len(msg) >= handshakeHeaderLen {
			if msg[0] != typeClientHello {
				return nil, fmt.Errorf("%w: handshake message type %d", ErrNotTLS, msg[0])
			}
			need += int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3])
			if need > lim {
				return nil, fmt.Errorf("%w: a ClientHello of %d bytes, more than %d", ErrTooLong, need, lim)
			}
		}
	}
	return msg[handshakeHeaderLen:need], nil
}

// peekRecord peeks the handshake record at offset and returns its fragment.
func peekRecord(br *bufio.Reader, offset, lim int) ([]byte, error) {
	b, err := peek(br, offset+recordHeaderLen, lim)
	if err != nil {
		return nil, err
	}
	header := b[offset:]
	n := int(header[3])<<8 | int(header[4])
	switch {
	case header[0] != recordTypeHandshake:
		return nil, fmt.Errorf("%w: record type %d inside the ClientHello", ErrNotTLS, header[0])
	case header[1] != 3:
		return nil, fmt.Errorf("%w: record version %d.%d", ErrNotTLS, header[1], header[2])
	case n == 0 || n > maxPlaintextRecord:
		return nil, fmt.Errorf("%w: handshake record of %d bytes", ErrNotTLS, n)
	}
	if b, err = peek(br, offset+recordHeaderLen+n, lim); err != nil {
		return nil, err
	}
	return b[offset+recordHeaderLen:], nil
}

// parseClientHello returns the host name in the server_name extension of a
// ClientHello body (RFC 8446 §4.1.2, RFC 6066 §3), checking the whole body.
func parseClientHello(body []byte) (string, error) {
	s := cryptobyte.String(body)
	var version uint16
	var sessionID, suites, compression, extensions cryptobyte.String
	if !s.ReadUint16(&version) || !s.Skip(32) ||
		!s.ReadUint8LengthPrefixed(&sessionID) || len(sessionID) > 32 ||
		!s.ReadUint16LengthPrefixed(&suites) || len(suites) < 2 || len(suites)%2 != 0 ||
		!s.ReadUint8LengthPrefixed(&compression) || len(compression) < 1 {
		return "", fmt.Errorf("%w: malformed ClientHello", ErrNotTLS)
	}
	if s.Empty() {
		return "", fmt.Errorf("%w: a ClientHello without extensions", ErrNoName)
	}
	if !s.ReadUint16LengthPrefixed(&extensions) || !s.Empty() {
		return "", fmt.Errorf("%w: malformed ClientHello extensions", ErrNotTLS)
	}
	host, err := findServerName(extensions)
	if err != nil {
		return "", err
	}
	if host == "" {
		return "", fmt.Errorf("%w: no server_name in the ClientHello", ErrNoName)
	}
	return hostName(host)
}

// findServerName walks the extensions and returns the first host_name of the
// server_name extension ("" when there is none).
func findServerName(extensions cryptobyte.String) (string, error) {
	seen := make(map[uint16]bool)
	host := ""
	for !extensions.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !extensions.ReadUint16(&typ) || !extensions.ReadUint16LengthPrefixed(&data) {
			return "", fmt.Errorf("%w: malformed ClientHello extension", ErrNotTLS)
		}
		if seen[typ] {
			return "", fmt.Errorf("%w: extension %d twice", ErrNotTLS, typ)
		}
		seen[typ] = true
		if typ != extensionServerName {
			continue
		}
		var err error
		if host, err = serverNameList(data); err != nil {
			return "", err
		}
	}
	return host, nil
}

// serverNameList returns the first host_name of a ServerNameList.
func serverNameList(data cryptobyte.String) (string, error) {
	var list cryptobyte.String
	if !data.ReadUint16LengthPrefixed(&list) || !data.Empty() || list.Empty() {
		return "", fmt.Errorf("%w: malformed server_name extension", ErrNotTLS)
	}
	host := ""
	for !list.Empty() {
		var nameType uint8
		var name cryptobyte.String
		if !list.ReadUint8(&nameType) || !list.ReadUint16LengthPrefixed(&name) || name.Empty() {
			return "", fmt.Errorf("%w: malformed server_name entry", ErrNotTLS)
		}
		if nameType == nameTypeHostName && host == "" {
			host = string(name)
		}
	}
	return host, nil
}
