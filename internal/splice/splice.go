// Package splice carries bytes both ways between two connections, as the
// relays of the ingress, the userspace mode's exposed ports and the front
// door's tunnels do: each direction that ends cleanly half-closes its
// destination so the other goes on; one that fails closes both. Between
// two TCP sockets the kernel copies (io.Copy uses splice(2)); a connection
// whose first bytes were read ahead (to peek at them) gives them first.
package splice

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
)

// Both copies a to b and b to a until both directions are done, and returns
// the bytes each way.
func Both(a, b net.Conn) (aToB, bToA int64) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		aToB = half(b, a)
	}()
	bToA = half(a, b)
	wg.Wait()
	return aToB, bToA
}

// half copies src to dst, then half-closes dst, or closes both when the copy
// failed or dst cannot be half-closed.
func half(dst, src net.Conn) int64 {
	n, err := io.Copy(dst, src)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok && err == nil {
		if cw.CloseWrite() == nil {
			return n
		}
	}
	dst.Close()
	src.Close()
	return n
}

// Prefixed returns c with head read first: the bytes a caller read ahead
// from c to look at them.
func Prefixed(c net.Conn, head []byte) net.Conn {
	return &prefixed{Conn: c, head: bytes.Clone(head)}
}

// prefixed is a connection with bytes to give before its own.
type prefixed struct {
	net.Conn
	head []byte
}

func (c *prefixed) Read(p []byte) (int, error) {
	if len(c.head) > 0 {
		n := copy(p, c.head)
		c.head = c.head[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// WriteTo writes the head, then the rest of the connection (io.Copy then
// lets the kernel splice a TCP connection into another).
func (c *prefixed) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(c.head)
	c.head = nil
	if err != nil {
		return int64(n), err
	}
	m, err := io.Copy(w, c.Conn)
	return int64(n) + m, err
}

// ReadFrom writes r to the connection (writes are not prefixed; this keeps
// the kernel's splice for the other direction).
func (c *prefixed) ReadFrom(r io.Reader) (int64, error) { return io.Copy(c.Conn, r) }

// CloseWrite half-closes the connection when it can.
func (c *prefixed) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
