package mmsg

import (
	"net"
	"os"
	"sync"
	"syscall"

	"golang.org/x/net/ipv4"
)

// Conn is a UDP socket's batch calls: recvmmsg and sendmmsg without
// allocation. WriteBatch may be called from several goroutines at once;
// ReadBatch from one at a time.
type Conn struct {
	rc  syscall.RawConn
	net string   // for errors, as net.UDPConn reports them
	src net.Addr // the socket's address, for errors

	rmu  sync.Mutex // guards rd and srcs
	rd   *headers
	srcs []source // the source address of each read slot

	writes sync.Pool // *headers, one per WriteBatch in progress
}

// New returns the batch calls of conn: a Conn, or x/net's PacketConn should
// conn have no file descriptor to use (it never fails).
func New(conn *net.UDPConn) Batch {
	rc, err := conn.SyscallConn()
	if err != nil {
		return xnet(conn)
	}
	src := conn.LocalAddr()
	c := &Conn{rc: rc, net: src.Network(), src: src, rd: newHeaders()}
	c.writes.New = func() any { return newHeaders() }
	return c
}

// ReadBatch receives up to len(ms) datagrams with one recvmmsg, waiting until
// at least one has come (unless flags has MSG_DONTWAIT), and returns how many.
// It sets each received message's N, NN (the control bytes written to OOB),
// Flags (MSG_TRUNC for a datagram cut to fit its buffers) and Addr, the
// source. Addr is a *net.UDPAddr that belongs to c and is valid until the
// next ReadBatch: convert or copy it before then. It must not be called
// concurrently. On an error it returns 0.
func (c *Conn) ReadBatch(ms []ipv4.Message, flags int) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	h := c.rd
	h.pack(ms, false)
	h.count, h.flags = len(ms), flags
	err := c.rc.Read(h.recvF)
	n := h.n
	if err == nil && n < 0 {
		err = c.opError("read", "recvmmsg", h.errno)
	}
	if err != nil {
		h.release(ms)
		return 0, err
	}
	h.unpack(ms, n)
	if len(c.srcs) < len(ms) {
		c.srcs = make([]source, len(ms))
	}
	for i := range n {
		ms[i].Addr = nil
		if s := &c.srcs[i]; s.set(&h.sa[i], h.hs[i].Hdr.Namelen) {
			ms[i].Addr = &s.ua
		}
	}
	h.release(ms)
	return n, nil
}

// WriteBatch sends ms with one sendmmsg, each to its Addr (a *net.UDPAddr;
// nil on a connected socket) with its OOB as control messages, and returns
// how many were sent, setting their N. Fewer than len(ms) and no error means
// the socket took no more for now: the caller sends the rest again. On an
// error nothing was sent, and it returns 0.
func (c *Conn) WriteBatch(ms []ipv4.Message, flags int) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	h := c.writes.Get().(*headers)
	defer c.writes.Put(h)
	h.pack(ms, true)
	h.count, h.flags = len(ms), flags
	err := c.rc.Write(h.sendF)
	n := h.n
	if err == nil && n < 0 {
		err = c.opError("write", "sendmmsg", h.errno)
	}
	if err != nil {
		h.release(ms)
		return 0, err
	}
	h.unpack(ms, n)
	h.release(ms)
	return n, nil
}

// opError wraps a system call's error as x/net and package net do.
func (c *Conn) opError(op, call string, errno syscall.Errno) error {
	return &net.OpError{Op: op, Net: c.net, Source: c.src, Err: os.NewSyscallError(call, errno)}
}
