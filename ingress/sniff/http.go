package sniff

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"strings"
)

// maxMethod is the longest request method accepted (the longest registered
// one, UPDATEREDIRECTREF, has 17 bytes): a longer first word is not HTTP.
const maxMethod = 20

// HTTPHost returns the host an HTTP/1.x request asks for: its Host header, or
// the authority of an absolute-form request target (which a server must prefer,
// RFC 9112 §3.2.2), lower case, without port or final dot. It peeks the request
// head (the request line and the headers, up to the empty line) from br, at most
// max bytes (max <= 0 or beyond br.Size(): br.Size()); br keeps every byte.
//
// Errors: ErrNotHTTP (not a request line, or a malformed head), ErrNoName (no
// Host, as HTTP/1.0 may send, an empty one, or an IP literal), ErrBadName,
// ErrTooLong, or the reader's error (io.ErrUnexpectedEOF when the stream ends).
func HTTPHost(br *bufio.Reader, max int) (string, error) {
	lim := limit(br, max)
	scan := headScan{firstLine: -1, end: -1}
	var b []byte
	for scan.end < 0 {
		var err error
		if b, err = peekMore(br, len(b), lim); err != nil {
			return "", err
		}
		if err := scan.advance(b); err != nil {
			return "", err
		}
	}
	return parseHead(b[:scan.end])
}

// headScan finds the end of a request head in bytes that grow, looking at each
// byte once (a client sending a byte at a time costs no more than one sending
// the head at once), and rejects a first line that is not a request line as
// soon as it can.
type headScan struct {
	scanned   int // bytes searched for line ends
	lineStart int // offset of the line being scanned
	firstLine int // offset of the first line's '\n'; -1 until seen
	end       int // length of the head, through its empty line; -1 until seen
}

// advance scans the bytes of b not yet seen.
func (s *headScan) advance(b []byte) error {
	for ; s.scanned < len(b) && s.end < 0; s.scanned++ {
		if b[s.scanned] != '\n' {
			continue
		}
		line := bytes.TrimSuffix(b[s.lineStart:s.scanned], []byte("\r"))
		switch {
		case s.firstLine < 0:
			s.firstLine = s.scanned
			if _, _, err := parseRequestLine(string(line)); err != nil {
				return err
			}
		case len(line) == 0:
			s.end = s.scanned + 1
		}
		s.lineStart = s.scanned + 1
	}
	if s.firstLine < 0 {
		return plausibleMethod(b)
	}
	return nil
}

// plausibleMethod rejects the start of a first line that cannot begin a
// request line: its first word must be a method (a token) followed by a space.
func plausibleMethod(b []byte) error {
	for i := 0; i < len(b) && i <= maxMethod; i++ {
		if b[i] == ' ' && i > 0 {
			return nil
		}
		if !isTokenChar(b[i]) {
			return fmt.Errorf("%w: bad request method %s", ErrNotHTTP, quote(string(b[:i+1])))
		}
	}
	if len(b) > maxMethod {
		return fmt.Errorf("%w: request method too long", ErrNotHTTP)
	}
	return nil
}

// parseHead parses a whole request head (lines ending in CRLF or LF, through
// the empty line) and returns the name it asks for.
func parseHead(head []byte) (string, error) {
	lines := strings.Split(string(head), "\n")
	first := strings.TrimSuffix(lines[0], "\r")
	_, target, err := parseRequestLine(first)
	if err != nil {
		return "", err
	}
	host, found, err := hostHeader(lines[1:])
	if err != nil {
		return "", err
	}
	if authority, ok := absoluteAuthority(target); ok {
		host, found = authority, true
	}
	if !found {
		return "", fmt.Errorf("%w: no Host header", ErrNoName)
	}
	return hostFromAuthority(host)
}

// parseRequestLine checks "METHOD SP TARGET SP HTTP/1.x" and returns the method
// and the target.
func parseRequestLine(line string) (method, target string, err error) {
	method, rest, ok1 := strings.Cut(line, " ")
	target, version, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || !isToken(method) || len(method) > maxMethod || !isVisible(target) {
		return "", "", fmt.Errorf("%w: bad request line %s", ErrNotHTTP, quote(line))
	}
	if len(version) != len("HTTP/1.1") || !strings.HasPrefix(version, "HTTP/1.") || !isDigit(version[7]) {
		return "", "", fmt.Errorf("%w: version %s is not HTTP/1.x", ErrNotHTTP, quote(version))
	}
	return method, target, nil
}

// hostHeader returns the value of the one Host header among the header lines
// (each may end in '\r'; the last ones are empty), checking every line.
func hostHeader(lines []string) (host string, found bool, err error) {
	for _, line := range lines {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !isToken(name) || !isFieldValue(value) {
			return "", false, fmt.Errorf("%w: bad header line %s", ErrNotHTTP, quote(line))
		}
		if !strings.EqualFold(name, "Host") {
			continue
		}
		if found {
			return "", false, fmt.Errorf("%w: two Host headers", ErrNotHTTP)
		}
		host, found = strings.Trim(value, " \t"), true
	}
	return host, found, nil
}

// absoluteAuthority returns the authority of an absolute-form target
// ("http://host:port/path"), without any userinfo.
func absoluteAuthority(target string) (string, bool) {
	scheme, rest, ok := strings.Cut(target, "://")
	if !ok || !(strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https")) {
		return "", false
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	return rest, true
}

// hostFromAuthority returns the name of "host", "host:port", "[v6]" or
// "[v6]:port".
func hostFromAuthority(authority string) (string, error) {
	host, port := authority, ""
	if strings.HasPrefix(authority, "[") {
		inside, rest, ok := strings.Cut(authority[1:], "]")
		if !ok || (rest != "" && rest[0] != ':') {
			return "", fmt.Errorf("%w: %s", ErrBadName, quote(authority))
		}
		host, port = inside, strings.TrimPrefix(rest, ":")
		if a, err := netip.ParseAddr(inside); err != nil || !a.Is6() {
			return "", fmt.Errorf("%w: not an IPv6 address in brackets: %s", ErrBadName, quote(authority))
		}
	} else if strings.Count(authority, ":") == 1 {
		host, port, _ = strings.Cut(authority, ":")
	}
	if len(port) > 5 || !isDigits(port) {
		return "", fmt.Errorf("%w: bad port in %s", ErrBadName, quote(authority))
	}
	return hostName(host)
}

// isTokenChar reports whether c is a tchar of RFC 9110 §5.6.2.
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', isDigit(c):
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return s != ""
}

// isVisible reports whether s is one or more visible ASCII characters.
func isVisible(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return s != ""
}

// isFieldValue reports whether s has no control characters but tabs.
func isFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < ' ' && s[i] != '\t') || s[i] == 0x7f {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
