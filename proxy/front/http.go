package front

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"time"

	"github.com/i3net/i3net/internal/splice"
)

// initHTTP builds the net/http server, fed by the connections whose first
// byte is not 0x05, and the transport of forwarded requests.
func (s *Server) initHTTP() {
	s.httpQueue = newConnQueue()
	s.transport = &http.Transport{
		Proxy:                 nil, // never the environment's proxy: we are it
		DialContext:           s.dialForHTTP,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   s.cfg.HandshakeTimeout,
		ExpectContinueTimeout: time.Second,
	}
	errLog := slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)
	rp := &httputil.ReverseProxy{
		Rewrite:       func(*httputil.ProxyRequest) {}, // absolute URL kept; no X-Forwarded-*
		Transport:     s.transport,
		FlushInterval: -1,
		ErrorLog:      errLog,
		ErrorHandler:  s.httpError,
	}
	s.httpSrv = &http.Server{
		Handler:           s.httpHandler(rp),
		ReadHeaderTimeout: s.cfg.HandshakeTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          errLog,
		ConnState:         connStateDone,
		ConnContext:       withPrefixConn,
	}
}

// startHTTP runs the net/http server on the queue (once, from Serve).
func (s *Server) startHTTP() {
	s.goTracked(nil, func() { s.httpSrv.Serve(s.httpQueue) })
}

// handOverHTTP gives c to net/http and waits until net/http is done with it
// (closed, or hijacked and its handler returned): the Server's goroutine
// for c lives as long as c, as for SOCKS5.
func (s *Server) handOverHTTP(c *prefixConn) {
	if !s.httpQueue.push(c) {
		return
	}
	<-c.done
}

// connStateDone tells handOverHTTP that net/http is done with a connection
// or that a handler took it over.
func connStateDone(c net.Conn, state http.ConnState) {
	pc, ok := c.(*prefixConn)
	switch {
	case !ok:
	case state == http.StateClosed:
		pc.finish()
	case state == http.StateHijacked:
		pc.hijacked.Store(true)
	}
}

// prefixConnKey is the request context's key of the client connection.
type prefixConnKey struct{}

func withPrefixConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, prefixConnKey{}, c)
}

// finishIfHijacked ends handOverHTTP's wait for a connection a handler
// took over, once that handler returns.
func finishIfHijacked(r *http.Request) {
	if pc, ok := r.Context().Value(prefixConnKey{}).(*prefixConn); ok && pc.hijacked.Load() {
		pc.finish()
	}
}

// httpHandler serves CONNECT and absolute-form requests; anything else is
// not a proxy request (400).
func (s *Server) httpHandler(rp *httputil.ReverseProxy) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.enter() {
			http.Error(w, "front: the proxy is closing", http.StatusServiceUnavailable)
			return
		}
		defer s.wg.Done()
		defer finishIfHijacked(r)
		switch {
		case r.Method == http.MethodConnect:
			s.httpConnect(w, r)
		case r.URL.IsAbs() && r.URL.Host != "" && (r.URL.Scheme == "http" || r.URL.Scheme == "https"):
			rp.ServeHTTP(w, r)
		default:
			s.stats.badRequests.Add(1)
			http.Error(w, fmt.Sprintf("front: %s %s is not a proxy request: this is a proxy (SOCKS5 and HTTP): "+
				"ask for absolute URLs (GET http://host/) or CONNECT host:port", r.Method, r.RequestURI), http.StatusBadRequest)
		}
	})
}

// dialForHTTP is the transport's DialContext: resolve and dial through the
// Router.
func (s *Server) dialForHTTP(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := splitHostPort(addr)
	if err != nil {
		return nil, err
	}
	return s.dialTCP(ctx, host, port)
}

// splitHostPort splits host:port with a numeric port.
func splitHostPort(addr string) (string, uint16, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("bad destination %q: %w", addr, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || host == "" {
		return "", 0, fmt.Errorf("bad destination %q: want host:port with a numeric port", addr)
	}
	return host, uint16(port), nil
}

// httpError answers a failed forward or CONNECT: 504 for a timeout, else
// 502, with a one-line reason.
func (s *Server) httpError(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusBadGateway
	if isTimeout(err) {
		code = http.StatusGatewayTimeout
	}
	s.log.Debug("front: HTTP proxy request failed", "client", r.RemoteAddr, "method", r.Method, "url", r.URL, "err", err)
	http.Error(w, "front: "+err.Error(), code)
}

// httpConnect dials r.Host, answers 200 and relays over the hijacked
// connection.
func (s *Server) httpConnect(w http.ResponseWriter, r *http.Request) {
	host, port, err := splitHostPort(r.Host)
	if err != nil {
		s.stats.badRequests.Add(1)
		http.Error(w, "front: CONNECT "+err.Error(), http.StatusBadRequest)
		return
	}
	target, err := s.dialTCP(r.Context(), host, port)
	if err != nil {
		s.httpError(w, r, err)
		return
	}
	if !s.track(target) {
		target.Close()
		http.Error(w, "front: the proxy is closing", http.StatusServiceUnavailable)
		return
	}
	defer s.untrack(target)
	client, err := s.hijack(w)
	if err != nil {
		s.log.Debug("front: CONNECT hijack failed", "client", r.RemoteAddr, "err", err)
		return
	}
	defer s.untrack(client)
	splice.Both(client, target)
}
