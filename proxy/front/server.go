package front

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Router is what the front door resolves and dials through: overlay names
// and addresses go through the overlay, the rest directly (or through a
// gateway when the name rules say so).
type Router interface {
	// Resolve returns the address host names: overlay names (home.i3),
	// names the rules send to a gateway, and ordinary names (the host's
	// upstream resolvers).
	Resolve(ctx context.Context, host string) (netip.Addr, error)
	// DialTCP and DialUDP connect to dst, through the overlay or directly.
	DialTCP(ctx context.Context, dst netip.AddrPort) (net.Conn, error)
	DialUDP(ctx context.Context, dst netip.AddrPort) (net.Conn, error)
}

// Defaults of Config.
const (
	DefaultDialTimeout      = 10 * time.Second
	DefaultUDPTimeout       = 2 * time.Minute
	DefaultHandshakeTimeout = 10 * time.Second
)

// Config configures a Server; zero durations take the defaults.
type Config struct {
	Router      Router
	Logger      *slog.Logger  // nil: discard
	DialTimeout time.Duration // resolving and dialing one destination, default 10 s
	UDPTimeout  time.Duration // idle UDP association, default 2 min
	// HandshakeTimeout bounds a client's SOCKS5 greeting and request, and
	// the header of each HTTP request; default 10 s.
	HandshakeTimeout time.Duration
}

// Stats counts what a Server did since New. ConnectOK and ConnectFailed
// count destinations resolved and dialed over TCP (SOCKS CONNECT, HTTP
// CONNECT and the connections of forwarded HTTP requests); BadRequests
// counts malformed or unsupported SOCKS requests and datagrams and HTTP
// requests that are not proxy requests.
type Stats struct {
	SOCKSConns, HTTPConns, ConnectOK, ConnectFailed, UDPAssociations, UDPDatagrams, BadRequests uint64
}

// counters is Stats, updated atomically.
type counters struct {
	socksConns, httpConns, connectOK, connectFailed, udpAssociations, udpDatagrams, badRequests atomic.Uint64
}

// ErrServerClosed is what Serve returns when called after Close.
var ErrServerClosed = errors.New("front: server closed")

// Server is a SOCKS5 and HTTP proxy server; see the package comment.
type Server struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context // canceled by Close: ends dials in progress
	cancel context.CancelFunc
	stats  counters

	httpSrv   *http.Server
	httpQueue *connQueue
	transport *http.Transport
	httpOnce  sync.Once

	mu      sync.Mutex
	closed  bool
	closers map[io.Closer]struct{} // listeners and connections Close closes
	wg      sync.WaitGroup         // every goroutine the Server started
}

// New returns a Server; it serves nothing until Serve.
func New(cfg Config) (*Server, error) {
	if cfg.Router == nil {
		return nil, errors.New("front: Config.Router is nil: the front door needs a Router to resolve and dial through")
	}
	if cfg.DialTimeout < 0 || cfg.UDPTimeout < 0 || cfg.HandshakeTimeout < 0 {
		return nil, errors.New("front: negative timeout in Config: use 0 for the default")
	}
	cfg.DialTimeout = orDefault(cfg.DialTimeout, DefaultDialTimeout)
	cfg.UDPTimeout = orDefault(cfg.UDPTimeout, DefaultUDPTimeout)
	cfg.HandshakeTimeout = orDefault(cfg.HandshakeTimeout, DefaultHandshakeTimeout)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: log, closers: make(map[io.Closer]struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.initHTTP()
	return s, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Serve accepts connections on ln until ln closes or Close is called (then
// it returns nil); each connection is served on its own goroutine.
func (s *Server) Serve(ln net.Listener) error {
	if !s.track(ln) {
		ln.Close()
		return ErrServerClosed
	}
	defer s.untrack(ln)
	s.httpOnce.Do(s.startHTTP)
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.isClosed() {
				return nil
			}
			if te, ok := err.(interface{ Temporary() bool }); ok && te.Temporary() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("front: accept failed, retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		if !s.goTracked(c, func() { s.serveConn(c) }) {
			c.Close()
		}
	}
}

// serveConn reads the first byte of c and hands c to SOCKS5 or HTTP.
func (s *Server) serveConn(c net.Conn) {
	c.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	var first [1]byte
	if _, err := io.ReadFull(c, first[:]); err != nil {
		s.log.Debug("front: connection closed before its first byte", "client", c.RemoteAddr(), "err", err)
		return
	}
	if first[0] == socksVersion {
		s.stats.socksConns.Add(1)
		s.serveSOCKS(c)
		return
	}
	s.stats.httpConns.Add(1)
	c.SetDeadline(time.Time{}) // net/http sets its own
	s.handOverHTTP(newPrefixConn(c, first[0]))
}

// Close stops every Serve, closes every connection and association, and
// waits for every goroutine the Server started.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	closers := make([]io.Closer, 0, len(s.closers))
	for c := range s.closers {
		closers = append(closers, c)
	}
	s.mu.Unlock()
	s.cancel()
	s.httpQueue.Close()
	s.httpSrv.Close()
	for _, c := range closers {
		c.Close()
	}
	s.wg.Wait()
	s.transport.CloseIdleConnections()
	return nil
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	c := &s.stats
	return Stats{
		SOCKSConns: c.socksConns.Load(), HTTPConns: c.httpConns.Load(),
		ConnectOK: c.connectOK.Load(), ConnectFailed: c.connectFailed.Load(),
		UDPAssociations: c.udpAssociations.Load(), UDPDatagrams: c.udpDatagrams.Load(),
		BadRequests: c.badRequests.Load(),
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// track registers c for Close; false (and nothing registered) once closed.
func (s *Server) track(c io.Closer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.closers[c] = struct{}{}
	return true
}

// untrack forgets c and closes it.
func (s *Server) untrack(c io.Closer) {
	s.mu.Lock()
	delete(s.closers, c)
	s.mu.Unlock()
	c.Close()
}

// goTracked runs f on a goroutine Close waits for, with c (may be nil)
// registered for Close until f returns, then closed; false once closed.
func (s *Server) goTracked(c io.Closer, f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if c != nil {
		s.closers[c] = struct{}{}
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if c != nil {
			defer s.untrack(c)
		}
		f()
	}()
	return true
}

// enter counts a piece of work Close waits for (s.wg.Done when over);
// false once closed.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}
