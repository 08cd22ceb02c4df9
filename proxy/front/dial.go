package front

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
)

// resolveError is a name the Router could not resolve.
type resolveError struct {
	name string
	err  error
}

func (e *resolveError) Error() string { return fmt.Sprintf("cannot resolve %s: %v", e.name, e.err) }
func (e *resolveError) Unwrap() error { return e.err }

// resolve returns the address of host: itself when it is an address,
// else what the Router says.
func (s *Server) resolve(ctx context.Context, host string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil && a.Zone() == "" {
		return a.Unmap(), nil
	}
	a, err := s.cfg.Router.Resolve(ctx, host)
	if err != nil {
		return netip.Addr{}, &resolveError{host, err}
	}
	if !a.IsValid() {
		return netip.Addr{}, &resolveError{host, errors.New("the router returned no address")}
	}
	return a.Unmap(), nil
}

// resolveDest resolves d (a name or an address) to an address and port.
func (s *Server) resolveDest(ctx context.Context, d socksDest) (netip.AddrPort, error) {
	if d.name == "" {
		return netip.AddrPortFrom(d.addr.Unmap(), d.port), nil
	}
	a, err := s.resolve(ctx, d.name)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(a, d.port), nil
}

// dialTCP resolves host (a name or an address) and dials it through the
// Router within DialTimeout, counting the outcome. Errors name the host.
func (s *Server) dialTCP(ctx context.Context, host string, port uint16) (net.Conn, error) {
	ctx, cancel := s.dialContext(ctx)
	defer cancel()
	c, err := s.dialTCPNow(ctx, host, port)
	if err != nil {
		s.stats.connectFailed.Add(1)
		return nil, err
	}
	s.stats.connectOK.Add(1)
	return c, nil
}

func (s *Server) dialTCPNow(ctx context.Context, host string, port uint16) (net.Conn, error) {
	a, err := s.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	dst := netip.AddrPortFrom(a, port)
	c, err := s.cfg.Router.DialTCP(ctx, dst)
	if err != nil {
		if host == a.String() {
			return nil, fmt.Errorf("cannot connect to %v: %w", dst, err)
		}
		return nil, fmt.Errorf("cannot connect to %s (%v): %w", host, dst, err)
	}
	return c, nil
}

// dialContext bounds ctx by DialTimeout and by the Server's life.
func (s *Server) dialContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	stop := context.AfterFunc(s.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// socksCode is the SOCKS5 reply code for a failure to resolve or dial.
func socksCode(err error) byte {
	var re *resolveError
	switch {
	case errors.As(err, &re):
		return repHostUnreachable
	case errors.Is(err, syscall.ECONNREFUSED):
		return repConnectionRefused
	case errors.Is(err, syscall.ENETUNREACH):
		return repNetworkUnreachable
	case errors.Is(err, syscall.EHOSTUNREACH), isTimeout(err):
		return repHostUnreachable
	}
	// gVisor's gonet errors carry only the text of tcpip's errors.
	msg := err.Error()
	for _, t := range textCodes {
		if strings.Contains(msg, t.text) {
			return t.code
		}
	}
	return repGeneralFailure
}

// textCodes maps the texts of gVisor's tcpip errors to reply codes.
var textCodes = []struct {
	text string
	code byte
}{
	{"connection was refused", repConnectionRefused},
	{"connection refused", repConnectionRefused},
	{"network is unreachable", repNetworkUnreachable},
	{"no route to host", repHostUnreachable},
	{"timed out", repHostUnreachable},
}

// isTimeout reports whether err is a timeout (a dial past its deadline).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
