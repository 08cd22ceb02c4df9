package front

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/i3net/i3net/internal/splice"
)

// prefixConn is a connection whose first byte was read to tell SOCKS5 from
// HTTP: Read returns that byte first.
type prefixConn struct {
	net.Conn
	first    byte
	unread   bool
	hijacked atomic.Bool   // a handler took the connection over
	done     chan struct{} // closed when net/http and handlers are done with it
	doneOnce sync.Once
}

func newPrefixConn(c net.Conn, first byte) *prefixConn {
	return &prefixConn{Conn: c, first: first, unread: true, done: make(chan struct{})}
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if c.unread && len(p) > 0 {
		p[0], c.unread = c.first, false
		return 1, nil
	}
	return c.Conn.Read(p)
}

func (c *prefixConn) finish() { c.doneOnce.Do(func() { close(c.done) }) }

// hijack takes the connection from net/http, answers 200, and returns it
// with the bytes net/http buffered (a client may send them before the 200),
// registered for Close (untrack it when done).
func (s *Server) hijack(w http.ResponseWriter) (net.Conn, error) {
	c, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "front: cannot take over the connection: "+err.Error(), http.StatusInternalServerError)
		return nil, err
	}
	if pc, ok := c.(*prefixConn); ok && !pc.unread {
		c = pc.Conn // the plain connection: io.Copy can splice it
	}
	if n := rw.Reader.Buffered(); n > 0 {
		buffered, _ := rw.Reader.Peek(n)
		c = splice.Prefixed(c, buffered)
	}
	if !s.track(c) {
		c.Close()
		return nil, errors.New("the proxy is closing")
	}
	c.SetWriteDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		s.untrack(c)
		return nil, err
	}
	c.SetWriteDeadline(time.Time{})
	return c, nil
}

// connQueue is the net.Listener net/http serves: the connections whose
// first byte is not 0x05, pushed by the Server.
type connQueue struct {
	ch        chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func newConnQueue() *connQueue {
	return &connQueue{ch: make(chan net.Conn), done: make(chan struct{})}
}

// push hands c to Accept; false (and c closed) when the queue is closed.
func (q *connQueue) push(c net.Conn) bool {
	select {
	case q.ch <- c:
		return true
	case <-q.done:
		c.Close()
		return false
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.done:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.closeOnce.Do(func() { close(q.done) })
	return nil
}

// Addr is a placeholder: the connections come from the Server's listeners.
func (q *connQueue) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
