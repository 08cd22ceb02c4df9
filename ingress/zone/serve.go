package zone

import (
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/netutil"
)

// udpServer is a dns.Server on udp with the zone's filter and handler;
// closing is set before the server is shut down.
func (z *Zone) udpServer(udp *net.UDPConn, closing *atomic.Bool) *dns.Server {
	srv := z.server(true, closing)
	srv.PacketConn = udp
	srv.UDPSize = readSize
	return srv
}

// tcpServer is a dns.Server on tcp, with bounded connections.
func (z *Zone) tcpServer(tcp *net.TCPListener, closing *atomic.Bool) *dns.Server {
	srv := z.server(false, closing)
	srv.Listener = netutil.LimitListener(tcp, maxTCPConns)
	srv.ReadTimeout = tcpReadTimeout
	srv.IdleTimeout = func() time.Duration { return tcpIdleTimeout }
	srv.MaxTCPQueries = maxTCPQueries
	return srv
}

// server is what UDP and TCP share: every message read counts as a query and
// passes Allow before it is parsed; responses are ignored, unparsable messages
// counted (the server answers FORMERR when it can read the header).
func (z *Zone) server(udp bool, closing *atomic.Bool) *dns.Server {
	return &dns.Server{
		Handler:        z.handler(udp),
		DecorateReader: func(r dns.Reader) dns.Reader { return &filter{Reader: r, z: z, closing: closing} },
		MsgAcceptFunc: func(dh dns.Header) dns.MsgAcceptAction {
			if dh.Bits&(1<<15) != 0 { // QR: a response
				z.stats.malformed.Add(1)
				return dns.MsgIgnore
			}
			return dns.MsgAccept
		},
		MsgInvalidFunc: func([]byte, error) { z.stats.malformed.Add(1) },
	}
}

// handler answers an allowed, parsed query, cut to the client's size over UDP.
func (z *Zone) handler(udp bool) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		resp := z.respond(req)
		if resp == nil {
			return
		}
		if udp {
			resp.Truncate(UDPSize(req))
		}
		if err := w.WriteMsg(resp); err != nil {
			z.log.Debug("dns answer not sent", "to", w.RemoteAddr(), "err", err)
		}
	})
}

// filter counts each message read and drops those Allow refuses: a refused
// UDP datagram is skipped, a refused TCP query ends its connection.
type filter struct {
	dns.Reader
	z       *Zone
	closing *atomic.Bool
	buf     []byte // UDP: one serving goroutine reads; a dropped datagram costs no allocation
}

// ReadUDP returns the next allowed datagram, copied out of f.buf.
func (f *filter) ReadUDP(conn *net.UDPConn, timeout time.Duration) ([]byte, *dns.SessionUDP, error) {
	if f.buf == nil {
		f.buf = make([]byte, readSize)
	}
	for {
		// Shutdown sets a past deadline after closing is set: this one,
		// checked after it is set, cannot undo it.
		conn.SetReadDeadline(time.Now().Add(timeout))
		if f.closing.Load() {
			return nil, nil, net.ErrClosed
		}
		n, s, err := dns.ReadFromSessionUDP(conn, f.buf)
		if err != nil {
			return nil, nil, err
		}
		if f.pass(s.RemoteAddr()) {
			return append([]byte(nil), f.buf[:n]...), s, nil
		}
	}
}

// ReadPacketConn is ReadUDP for other packet connections (not used: the zone
// binds *net.UDPConn, but dns.Server wants it).
func (f *filter) ReadPacketConn(conn net.PacketConn, timeout time.Duration) ([]byte, net.Addr, error) {
	pc := f.Reader.(dns.PacketConnReader)
	for {
		m, from, err := pc.ReadPacketConn(conn, timeout)
		if err != nil || f.pass(from) {
			return m, from, err
		}
	}
}

// ReadTCP returns the next query of an allowed client, or an error that
// closes the connection.
func (f *filter) ReadTCP(conn net.Conn, timeout time.Duration) ([]byte, error) {
	m, err := f.Reader.ReadTCP(conn, timeout)
	if err != nil || f.pass(conn.RemoteAddr()) {
		return m, err
	}
	return nil, errRateLimited
}

var errRateLimited = errors.New("zone: query rate limited")

// pass counts a message from addr and asks Allow.
func (f *filter) pass(addr net.Addr) bool {
	f.z.stats.queries.Add(1)
	return f.z.allowed(addrOf(addr))
}

// addrOf is the IP of a UDP or TCP address, unmapped.
func addrOf(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap()
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}
