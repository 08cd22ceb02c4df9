// Package sniff reads the name a new connection asks for from its first bytes:
// the Host of an HTTP/1.x request head (HTTPHost) or the server_name (SNI) of a
// TLS ClientHello (TLSServerName). The ingress routes a connection to a
// waypoint by that name, with no heuristic, and never terminates TLS.
//
// Both functions only Peek: every byte stays buffered in the bufio.Reader for
// the relay to forward, whatever they return. They peek more as bytes arrive,
// never more than max bytes and never more than the reader's buffer, so the
// caller creates the reader with bufio.NewReaderSize(conn, max) and sets the
// connection's read deadline (a client that sends too little then ends the
// wait with a timeout error, returned wrapped). An io.EOF before the head or
// the ClientHello ends is an error (io.ErrUnexpectedEOF, wrapped), not a hang.
//
// A name returned is a DNS name: lower case, without a port or a final dot,
// only letters, digits, hyphens and dots, labels of 1 to 63 bytes, at most 253
// bytes. A Host or SNI that is not one gives ErrBadName; an IP literal names no
// host and gives ErrNoName, so the caller falls back to its heuristic.
//
// The input is untrusted: the parsers are bounded by max, never panic (fuzzed)
// and quote at most a few bytes of it in an error. The package knows nothing
// of the ingress, of DNS or of the network.
package sniff

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// Errors, tested with errors.Is; the errors returned wrap them with details.
var (
	// ErrNotHTTP: the bytes do not start an HTTP/1.x request head.
	ErrNotHTTP = errors.New("sniff: not an HTTP/1.x request")
	// ErrNotTLS: the bytes do not start a TLS ClientHello.
	ErrNotTLS = errors.New("sniff: not a TLS ClientHello")
	// ErrNoName: a well formed head or ClientHello with no Host or SNI, or an
	// IP literal in its place.
	ErrNoName = errors.New("sniff: no host name")
	// ErrBadName: the Host or SNI is not a DNS name.
	ErrBadName = errors.New("sniff: host name is not a DNS name")
	// ErrTooLong: max bytes (or the reader's buffer) reached before the head or
	// the ClientHello ended.
	ErrTooLong = errors.New("sniff: too long")
)

// MaxNameLen is the longest name returned, in bytes (a DNS name's text form
// without its final dot).
const MaxNameLen = 253

// limit is the number of bytes a function may peek: max, bounded by the
// reader's buffer; max <= 0 means the whole buffer.
func limit(br *bufio.Reader, max int) int {
	if max <= 0 || max > br.Size() {
		return br.Size()
	}
	return max
}

// peek returns the first n bytes of br, waiting for them, or an error: ErrTooLong
// when n is beyond lim, a wrapped io.ErrUnexpectedEOF when the stream ends
// first, or the reader's error (a timeout) wrapped.
func peek(br *bufio.Reader, n, lim int) ([]byte, error) {
	if n > lim {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLong, lim)
	}
	b, err := br.Peek(n)
	if err == nil {
		return b, nil
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return nil, fmt.Errorf("sniff: reading the first %d bytes: %w", n, err)
}

// peekMore returns every byte buffered, at least one more than had (waiting
// for it), bounded by lim.
func peekMore(br *bufio.Reader, had, lim int) ([]byte, error) {
	if _, err := peek(br, had+1, lim); err != nil {
		return nil, err
	}
	return br.Peek(min(br.Buffered(), lim))
}

// hostName checks a Host or SNI value with any port already removed and
// returns it as a name: lower case, without a final dot.
func hostName(host string) (string, error) {
	if host == "" {
		return "", fmt.Errorf("%w: empty host", ErrNoName)
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return "", fmt.Errorf("%w: host is the IP literal %s", ErrNoName, quote(host))
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if !ValidName(name) {
		return "", fmt.Errorf("%w: %s", ErrBadName, quote(host))
	}
	return name, nil
}

// ValidName reports whether name is a DNS host name as this package returns
// them: lower case letters, digits, hyphens and dots, labels of 1 to 63 bytes,
// at most MaxNameLen bytes, no final dot.
func ValidName(name string) bool {
	if name == "" || len(name) > MaxNameLen {
		return false
	}
	label := 0
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
			label++
			if label > 63 {
				return false
			}
		default:
			return false
		}
	}
	return label > 0
}

// quote returns s quoted for an error message, cut to a few bytes: the bytes
// come from the network.
func quote(s string) string {
	const most = 64
	if len(s) > most {
		return fmt.Sprintf("%q...", s[:most])
	}
	return fmt.Sprintf("%q", s)
}
