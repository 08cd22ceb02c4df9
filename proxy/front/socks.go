package front

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/i3net/i3net/internal/splice"
)

// serveSOCKS serves a SOCKS5 connection whose version byte was read.
func (s *Server) serveSOCKS(c net.Conn) {
	cmd, dst, err := s.socksHandshake(c)
	if err != nil {
		s.log.Debug("front: SOCKS5 handshake failed", "client", c.RemoteAddr(), "err", err)
		return
	}
	c.SetDeadline(time.Time{})
	switch cmd {
	case cmdConnect:
		s.socksConnect(c, dst)
	case cmdAssociate:
		s.socksAssociate(c, dst)
	}
}

// socksHandshake negotiates the method and reads the request; on error the
// client got its reply (if any is due) and the connection is to be closed.
func (s *Server) socksHandshake(c net.Conn) (byte, socksDest, error) {
	ok, err := readGreeting(c)
	if err != nil {
		return 0, socksDest{}, s.badSOCKS(err)
	}
	if !ok {
		err := s.badSOCKS(errors.New("the client offers no method but no-authentication (0x00)"))
		c.Write([]byte{socksVersion, methodNoAcceptable})
		return 0, socksDest{}, err
	}
	if _, err := c.Write([]byte{socksVersion, methodNoAuth}); err != nil {
		return 0, socksDest{}, err
	}
	cmd, dst, err := readRequest(c)
	var re *requestError
	if errors.As(err, &re) {
		s.badSOCKS(err) // counted before the reply: a client reading it sees the count
		c.Write(replyBytes(re.code, netip.AddrPort{}))
		return 0, socksDest{}, err
	}
	if err != nil {
		return 0, socksDest{}, err
	}
	if cmd != cmdConnect && cmd != cmdAssociate {
		err := s.badSOCKS(fmt.Errorf("command %d not supported (CONNECT and UDP ASSOCIATE are)", cmd))
		c.Write(replyBytes(repCommandUnsupported, netip.AddrPort{}))
		return 0, socksDest{}, err
	}
	return cmd, dst, nil
}

// badSOCKS counts a malformed or unsupported request and returns err.
func (s *Server) badSOCKS(err error) error {
	var re *requestError
	if errors.As(err, &re) || !isIOError(err) {
		s.stats.badRequests.Add(1)
	}
	return err
}

// isIOError reports whether err came from the connection rather than from
// what the client sent.
func isIOError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// socksConnect dials d, replies, and relays until both sides are done.
func (s *Server) socksConnect(c net.Conn, d socksDest) {
	host := d.name
	if host == "" {
		host = d.addr.String()
	}
	target, err := s.dialTCP(s.ctx, host, d.port)
	c.SetWriteDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	if err != nil {
		s.log.Debug("front: SOCKS5 CONNECT failed", "client", c.RemoteAddr(), "dst", d, "err", err)
		c.Write(replyBytes(socksCode(err), netip.AddrPort{}))
		return
	}
	if !s.track(target) {
		target.Close()
		return
	}
	defer s.untrack(target)
	if _, err := c.Write(replyBytes(repSucceeded, addrPortOf(target.LocalAddr()))); err != nil {
		return
	}
	c.SetWriteDeadline(time.Time{})
	splice.Both(c, target)
}

// addrPortOf is a's address and port; invalid when a has none.
func addrPortOf(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort()
	case *net.UDPAddr:
		return a.AddrPort()
	case nil:
		return netip.AddrPort{}
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}
