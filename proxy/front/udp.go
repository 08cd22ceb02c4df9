package front

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds of one UDP association.
const (
	maxUDPDests   = 64    // destinations dialed at once
	maxUDPNames   = 256   // names whose address is remembered
	maxUDPPayload = 65535 // largest datagram read
)

// association is one UDP ASSOCIATE: a relay socket serving one client,
// one Router.DialUDP per destination.
type association struct {
	s        *Server
	relay    *net.UDPConn
	clientIP netip.Addr     // the TCP client's: datagrams from elsewhere are dropped
	wantPort uint16         // the source port the client announced, 0 for any
	client   netip.AddrPort // fixed by the first datagram accepted

	// dests and names belong to the readClient goroutine.
	dests map[netip.AddrPort]net.Conn
	names map[string]netip.Addr

	lastActive atomic.Int64 // UnixNano of the last datagram relayed
	readers    sync.WaitGroup
}

// socksAssociate opens the relay socket on the address the client reached,
// replies with it, and relays until the TCP connection ends, the
// association stays idle for UDPTimeout, or the Server closes.
func (s *Server) socksAssociate(c net.Conn, d socksDest) {
	local, remote := addrPortOf(c.LocalAddr()), addrPortOf(c.RemoteAddr())
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local.Addr(), 0)))
	c.SetWriteDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	if err != nil {
		s.log.Warn("front: cannot open a UDP relay socket", "addr", local.Addr(), "err", err)
		c.Write(replyBytes(repGeneralFailure, netip.AddrPort{}))
		return
	}
	if !s.track(pc) {
		pc.Close()
		return
	}
	defer s.untrack(pc)
	s.stats.udpAssociations.Add(1)
	if _, err := c.Write(replyBytes(repSucceeded, addrPortOf(pc.LocalAddr()))); err != nil {
		return
	}
	c.SetWriteDeadline(time.Time{})
	a := &association{s: s, relay: pc, clientIP: remote.Addr().Unmap(), wantPort: d.port,
		dests: make(map[netip.AddrPort]net.Conn), names: make(map[string]netip.Addr)}
	a.touch()
	a.run(c)
}

// run relays until c ends or the association is idle, then closes all.
func (a *association) run(c net.Conn) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.readClient()
		c.Close() // idle or relay closed: end the TCP side too
	}()
	io.Copy(io.Discard, c) // a client sends nothing more; EOF ends the association
	a.relay.Close()
	<-done
	for _, conn := range a.dests {
		conn.Close()
	}
	a.readers.Wait()
}

func (a *association) touch() { a.lastActive.Store(time.Now().UnixNano()) }

// idleUntil is when the association ends if nothing is relayed before.
func (a *association) idleUntil() time.Time {
	return time.Unix(0, a.lastActive.Load()).Add(a.s.cfg.UDPTimeout)
}

// readClient relays the client's datagrams until the relay socket closes
// or the association has been idle for UDPTimeout.
func (a *association) readClient() {
	buf := make([]byte, udpHeaderMax+maxUDPPayload)
	for {
		a.relay.SetReadDeadline(a.idleUntil())
		n, from, err := a.relay.ReadFromUDPAddrPort(buf)
		if err != nil {
			if isTimeout(err) && time.Now().Before(a.idleUntil()) {
				continue // a destination answered meanwhile
			}
			return
		}
		if err := a.fromClient(netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), buf[:n]); err != nil {
			a.s.log.Debug("front: UDP datagram dropped", "client", from, "err", err)
		}
	}
}

// fromClient sends one client datagram on to its destination.
func (a *association) fromClient(from netip.AddrPort, b []byte) error {
	if from.Addr() != a.clientIP || (a.wantPort != 0 && from.Port() != a.wantPort) ||
		(a.client.IsValid() && from != a.client) {
		return fmt.Errorf("from %v, not from the association's client", from)
	}
	d, payload, err := parseDatagram(b)
	if err != nil {
		a.s.stats.badRequests.Add(1)
		return err
	}
	if !a.client.IsValid() {
		a.client = from // before any reader starts: they read it
	}
	dst, err := a.resolve(d)
	if err != nil {
		return err
	}
	conn, err := a.dest(dst)
	if err != nil {
		return err
	}
	if _, err := conn.Write(payload); err != nil {
		delete(a.dests, dst) // its reader has ended or will: dial again next time
		conn.Close()
		return fmt.Errorf("to %v: %w", dst, err)
	}
	a.touch()
	a.s.stats.udpDatagrams.Add(1)
	return nil
}

// resolve returns d's address, remembering names.
func (a *association) resolve(d socksDest) (netip.AddrPort, error) {
	if d.name == "" {
		return netip.AddrPortFrom(d.addr.Unmap(), d.port), nil
	}
	if addr, ok := a.names[d.name]; ok {
		return netip.AddrPortFrom(addr, d.port), nil
	}
	ctx, cancel := a.s.dialContext(a.s.ctx)
	defer cancel()
	dst, err := a.s.resolveDest(ctx, d)
	if err == nil && len(a.names) < maxUDPNames {
		a.names[d.name] = dst.Addr()
	}
	return dst, err
}

// dest returns the connection to dst, dialing it (and starting its reader)
// the first time.
func (a *association) dest(dst netip.AddrPort) (net.Conn, error) {
	if conn, ok := a.dests[dst]; ok {
		return conn, nil
	}
	if len(a.dests) >= maxUDPDests {
		return nil, fmt.Errorf("to %v: the association already has %d destinations", dst, maxUDPDests)
	}
	ctx, cancel := a.s.dialContext(a.s.ctx)
	defer cancel()
	conn, err := a.s.cfg.Router.DialUDP(ctx, dst)
	if err != nil {
		return nil, fmt.Errorf("dialing %v: %w", dst, err)
	}
	a.dests[dst] = conn
	a.readers.Add(1)
	go func() {
		defer a.readers.Done()
		a.readDest(conn, dst)
	}()
	return conn, nil
}

// readDest relays dst's datagrams to the client, with dst in the header,
// until conn fails or closes (then it closes conn: the next datagram to
// dst dials again).
func (a *association) readDest(conn net.Conn, dst netip.AddrPort) {
	defer conn.Close()
	header := appendAddr([]byte{0, 0, 0}, dst) // RSV RSV FRAG, dst
	buf := make([]byte, len(header)+maxUDPPayload)
	hdr := copy(buf, header)
	for {
		n, err := conn.Read(buf[hdr:])
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				a.s.log.Debug("front: UDP destination read failed", "dst", dst, "err", err)
			}
			return
		}
		if _, err := a.relay.WriteToUDPAddrPort(buf[:hdr+n], a.client); err != nil {
			return
		}
		a.touch()
		a.s.stats.udpDatagrams.Add(1)
	}
}
