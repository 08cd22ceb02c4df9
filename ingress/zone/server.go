package zone

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// Server limits: a query larger than readSize is malformed; TCP connections
// beyond maxTCPConns wait to be accepted; each serves at most maxTCPQueries.
const (
	readSize       = 4096
	maxTCPConns    = 256
	maxTCPQueries  = 128
	tcpReadTimeout = 2 * time.Second
	tcpIdleTimeout = 10 * time.Second
	bindAttempts   = 8 // for port 0: UDP's port may be taken for TCP
)

// Server is the zone served on UDP and TCP at some addresses.
type Server struct {
	addrs   []netip.AddrPort
	servers []*dns.Server
	wg      sync.WaitGroup
	log     *slog.Logger
	closing atomic.Bool // set before the servers are shut down
	once    sync.Once
	err     error
}

// Listen binds UDP and TCP on each address and serves the zone on them in the
// background. It returns once every socket is bound and served, or the first
// error (having closed what it opened). Port 0 picks one port for both.
func (z *Zone) Listen(addrs []netip.AddrPort) (*Server, error) {
	if len(addrs) == 0 {
		return nil, errors.New("zone: no address to listen on")
	}
	s := &Server{log: z.log}
	for _, a := range addrs {
		udp, tcp, err := bindPair(a)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.addrs = append(s.addrs, udp.LocalAddr().(*net.UDPAddr).AddrPort())
		if err := s.start(z.udpServer(udp, &s.closing)); err != nil {
			tcp.Close()
			s.Close()
			return nil, fmt.Errorf("zone: serve udp %v: %w", a, err)
		}
		if err := s.start(z.tcpServer(tcp, &s.closing)); err != nil {
			s.Close()
			return nil, fmt.Errorf("zone: serve tcp %v: %w", a, err)
		}
	}
	return s, nil
}

// Addrs returns the bound addresses, with the ports chosen for port 0.
func (s *Server) Addrs() []netip.AddrPort { return append([]netip.AddrPort(nil), s.addrs...) }

// Close stops serving and closes every socket; it waits for the serving
// goroutines. It may be called more than once.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.closing.Store(true)
		var errs []error
		for _, srv := range s.servers {
			errs = append(errs, srv.Shutdown())
		}
		s.wg.Wait()
		s.err = errors.Join(errs...)
	})
	return s.err
}

// start runs srv in the background and returns once it serves, or with the
// error that kept it from starting (having closed its socket).
func (s *Server) start(srv *dns.Server) error {
	started := make(chan struct{})
	failed := make(chan error, 1)
	srv.NotifyStartedFunc = func() { close(started) }
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := srv.ActivateAndServe()
		select {
		case <-started:
			if err != nil && !s.closing.Load() {
				s.log.Warn("dns server stopped", "err", err)
			}
		default:
			failed <- err
		}
	}()
	select {
	case <-started:
		s.servers = append(s.servers, srv)
		return nil
	case err := <-failed:
		closeSocket(srv)
		return err
	}
}

func closeSocket(srv *dns.Server) {
	if srv.PacketConn != nil {
		srv.PacketConn.Close()
	}
	if srv.Listener != nil {
		srv.Listener.Close()
	}
}

// bindPair binds UDP and TCP on a; with port 0, on one port for both.
func bindPair(a netip.AddrPort) (*net.UDPConn, *net.TCPListener, error) {
	a = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	if !a.Addr().IsValid() {
		return nil, nil, errors.New("zone: listen: an address is missing (want ADDR:PORT, like 198.51.100.2:53)")
	}
	for attempt := 1; ; attempt++ {
		udp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(a))
		if err != nil {
			return nil, nil, bindError("udp", a, err)
		}
		port := udp.LocalAddr().(*net.UDPAddr).AddrPort().Port()
		tcp, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(a.Addr(), port)))
		if err == nil {
			return udp, tcp, nil
		}
		udp.Close()
		if a.Port() != 0 || !errors.Is(err, syscall.EADDRINUSE) || attempt == bindAttempts {
			return nil, nil, bindError("tcp", a, err)
		}
	}
}

// bindError says why a could not be bound and what to do.
func bindError(network string, a netip.AddrPort, err error) error {
	hint := ""
	switch {
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		hint = ": address not available: is it an address of this host?"
	case errors.Is(err, syscall.EADDRINUSE):
		hint = ": address in use: is another DNS server listening there?"
	case errors.Is(err, syscall.EACCES):
		hint = ": permission denied: a port below 1024 needs root or CAP_NET_BIND_SERVICE"
	}
	return fmt.Errorf("zone: listen %s %v%s (%w)", network, a, hint, err)
}
