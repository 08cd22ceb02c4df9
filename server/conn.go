package server

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/i3net/i3net/internal/mmsg"
	"github.com/i3net/i3net/internal/udpgso"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// message is one datagram of a batch.
type message struct {
	buf   []byte         // read: where the datagram lands; write: the datagram
	n     int            // read: its length
	addr  netip.AddrPort // read: its source; write: its destination
	dst   netip.Addr     // read: the local address it arrived at, when asked for (else invalid)
	trunc bool           // read: it was larger than buf and was cut
}

// batchConn is the server's socket seam: datagrams in and out, a batch per
// system call. The buffers stay the caller's: a conn keeps no reference to them
// after a call returns.
type batchConn interface {
	// ReadBatch blocks until at least one datagram arrives, then receives up
	// to len(ms) of them into ms[i].buf, setting n, addr, dst and trunc, and
	// returns how many. After Close it returns an error wrapping net.ErrClosed.
	ReadBatch(ms []message) (int, error)
	// WriteBatch sends ms[i].buf to ms[i].addr in order and returns how many
	// were sent; on an error, ms[n] is the datagram that failed.
	WriteBatch(ms []message) (int, error)
	// WriteTo sends one datagram. Unlike the batch calls, which belong to
	// the worker, it may be called from any goroutine at any time: the
	// handover sends triggers to other servers with it.
	WriteTo(b []byte, to netip.AddrPort) error
	Close() error
}

// udpConn is a batchConn over one UDP socket.
type udpConn struct {
	pc      *net.UDPConn
	x       mmsg.Batch // under internal/udpgso's offloads
	is6     bool
	pktinfo bool

	rms   []ipv4.Message // read slots: one buffer each, OOB for IP_PKTINFO
	wms   []ipv4.Message // write slots
	waddr []net.UDPAddr  // write destinations, reused: no allocation per datagram
	wip   [][16]byte     // their IP bytes
}

// listenUDP binds ap. One socket serves one family: 0.0.0.0 and IPv4 addresses
// bind udp4, IPv6 addresses (:: included) bind udp6 only. With pktinfo, each
// datagram's local destination address is reported (for a socket bound to an
// unspecified address). Batches are at most batch datagrams.
func listenUDP(ap netip.AddrPort, batch, sockBuf int, pktinfo bool) (*udpConn, error) {
	network := "udp4"
	is6 := ap.Addr().Is6()
	if is6 {
		network = "udp6"
	}
	pc, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return nil, fmt.Errorf("server: listen on %v: %w", ap, err)
	}
	if sockBuf > 0 {
		// Best effort: the kernel caps both at its configured maximum.
		_ = pc.SetReadBuffer(sockBuf)
		_ = pc.SetWriteBuffer(sockBuf)
	}
	// recvmmsg and sendmmsg that allocate nothing per datagram, under the
	// segmentation offloads.
	c := &udpConn{pc: pc, x: udpgso.New(pc, mmsg.New(pc)), is6: is6, pktinfo: pktinfo}
	var oobLen int
	if is6 {
		p := ipv6.NewPacketConn(pc) // for the socket options
		if pktinfo {
			err = p.SetControlMessage(ipv6.FlagDst, true)
			oobLen = len(ipv6.NewControlMessage(ipv6.FlagDst))
		}
	} else {
		p := ipv4.NewPacketConn(pc) // for the socket options
		if pktinfo {
			err = p.SetControlMessage(ipv4.FlagDst, true)
			oobLen = len(ipv4.NewControlMessage(ipv4.FlagDst))
		}
	}
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("server: %v: ask for destination addresses (IP_PKTINFO): %w; set public_addr (--advertise) to do without", ap, err)
	}
	c.rms = make([]ipv4.Message, batch)
	c.wms = make([]ipv4.Message, batch*outPerIn)
	c.waddr = make([]net.UDPAddr, len(c.wms))
	c.wip = make([][16]byte, len(c.wms))
	for i := range c.rms {
		c.rms[i].Buffers = make([][]byte, 1)
		if oobLen > 0 {
			c.rms[i].OOB = make([]byte, oobLen)
		}
	}
	for i := range c.wms {
		c.wms[i].Buffers = make([][]byte, 1)
	}
	return c, nil
}

// localAddr returns the bound address.
func (c *udpConn) localAddr() netip.AddrPort {
	ap := c.pc.LocalAddr().(*net.UDPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func (c *udpConn) ReadBatch(ms []message) (int, error) {
	rms := c.rms[:min(len(ms), len(c.rms))]
	for i := range rms {
		rms[i].Buffers[0] = ms[i].buf
	}
	n, err := c.x.ReadBatch(rms, 0)
	for i := 0; i < n; i++ {
		r, m := &rms[i], &ms[i]
		m.n = r.N
		m.trunc = r.Flags&udpgso.MsgTrunc != 0
		m.addr = netip.AddrPort{}
		if ua, ok := r.Addr.(*net.UDPAddr); ok {
			ap := ua.AddrPort()
			m.addr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		}
		m.dst = netip.Addr{}
		if c.pktinfo && r.NN > 0 {
			m.dst = pktinfoDst(r.OOB[:r.NN])
		}
	}
	return n, err
}

func (c *udpConn) WriteBatch(ms []message) (int, error) {
	wms := c.wms[:min(len(ms), len(c.wms))]
	for i := range wms {
		m := &ms[i]
		a := &c.waddr[i]
		ip := m.addr.Addr()
		if ip.Is4() {
			*(*[4]byte)(c.wip[i][:4]) = ip.As4()
			a.IP = c.wip[i][:4]
		} else {
			c.wip[i] = ip.As16()
			a.IP = c.wip[i][:16]
		}
		a.Port = int(m.addr.Port())
		wms[i].Addr = a
		wms[i].Buffers[0] = m.buf
	}
	n, err := c.x.WriteBatch(wms, 0)
	for i := range wms {
		wms[i].Buffers[0] = nil
	}
	return n, err
}

func (c *udpConn) WriteTo(b []byte, to netip.AddrPort) error {
	_, err := c.pc.WriteToUDPAddrPort(b, to)
	return err
}

func (c *udpConn) Close() error { return c.pc.Close() }
