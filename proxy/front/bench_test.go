package front

import (
	"io"
	"net"
	"testing"
	"time"
)

// BenchmarkSOCKSThroughput pushes data through a SOCKS5 CONNECT tunnel to
// a loopback sink (the front door's own cost, without the overlay).
func BenchmarkSOCKSThroughput(b *testing.B) {
	sink, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	go func() {
		if c, err := sink.Accept(); err == nil {
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	s, err := New(Config{Router: newFakeRouter()})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()
	c := socksDial(b, ln.Addr().String())
	dst := sink.Addr().(*net.TCPAddr).AddrPort()
	if code, _ := socksRequest(b, c, cmdConnect, socksDest{addr: dst.Addr(), port: dst.Port()}); code != repSucceeded {
		b.Fatalf("CONNECT: %#x", code)
	}
	c.SetDeadline(time.Time{})
	buf := make([]byte, 128<<10)
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
}
