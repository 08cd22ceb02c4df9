package dns

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// serveTCP serves h on a loopback listener until the test ends.
func serveTCP(t *testing.T, h TCPHandler, cfg TCPConfig) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeTCP(ctx, ln, h, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("ServeTCP did not return after its context ended")
		}
	})
	return ln.Addr().String()
}

// echoHandler answers a query with itself, QR set, after the delay its first
// byte names (in 10 ms units).
func echoHandler(_ context.Context, q []byte) []byte {
	time.Sleep(time.Duration(q[0]) * 10 * time.Millisecond)
	resp := append([]byte(nil), q...)
	resp[2] |= 0x80
	return resp
}

func dialDNS(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

func msgWithID(id byte) []byte {
	m := make([]byte, headerLen)
	m[0], m[1] = id, id
	return m
}

// TestServeTCPPipelined: several queries in one write; each is answered as
// soon as it is ready (a slow first one does not hold the others back), and
// all on the same connection.
func TestServeTCPPipelined(t *testing.T) {
	c := dialDNS(t, serveTCP(t, echoHandler, TCPConfig{}))
	var out []byte
	for _, id := range []byte{30, 0, 1} { // the first waits 300 ms
		out, _ = AppendTCPMessage(out, msgWithID(id))
	}
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	var order []byte
	for range 3 {
		m, err := ReadTCPMessage(c, nil)
		if err != nil {
			t.Fatalf("after %v: %v", order, err)
		}
		order = append(order, m[0])
	}
	if order[2] != 30 {
		t.Fatalf("answers in the order %v: the slow query held the others back", order)
	}
}

// TestServeTCPIdle: a connection without queries is closed after Idle, and
// one with a query under way is not closed before its answer.
func TestServeTCPIdle(t *testing.T) {
	addr := serveTCP(t, echoHandler, TCPConfig{Idle: 200 * time.Millisecond})
	c := dialDNS(t, addr)
	if _, err := ReadTCPMessage(c, nil); err != io.EOF {
		t.Fatalf("idle connection: %v, want EOF", err)
	}
	c = dialDNS(t, addr)
	out, _ := AppendTCPMessage(nil, msgWithID(40)) // answered after 400 ms
	c.Write(out)
	if m, err := ReadTCPMessage(c, nil); err != nil || m[0] != 40 {
		t.Fatalf("answer of a slow query: %v", err)
	}
}

// TestServeTCPBoundsConnections: beyond Conns, new connections are closed at
// once; the ones served go on.
func TestServeTCPBoundsConnections(t *testing.T) {
	addr := serveTCP(t, echoHandler, TCPConfig{Conns: 2})
	ask := func(c net.Conn) error {
		out, _ := AppendTCPMessage(nil, msgWithID(0))
		if _, err := c.Write(out); err != nil {
			return err
		}
		_, err := ReadTCPMessage(c, nil)
		return err
	}
	a, b := dialDNS(t, addr), dialDNS(t, addr)
	if err := errors.Join(ask(a), ask(b)); err != nil {
		t.Fatal(err)
	}
	if err := ask(dialDNS(t, addr)); err == nil {
		t.Fatal("a third connection was served beyond Conns=2")
	}
	if err := ask(a); err != nil {
		t.Fatalf("a served connection broke: %v", err)
	}
}

// TestServeTCPFramingError: a length below a DNS header closes the
// connection.
func TestServeTCPFramingError(t *testing.T) {
	c := dialDNS(t, serveTCP(t, echoHandler, TCPConfig{}))
	c.Write([]byte{0, 3, 1, 2, 3})
	if _, err := ReadTCPMessage(c, nil); err == nil {
		t.Fatal("answered after a bad length")
	}
}

// TestServeTCPStops: ending the context closes the connections and returns.
func TestServeTCPStops(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeTCP(ctx, ln, echoHandler, TCPConfig{}) }()
	c := dialDNS(t, ln.Addr().String())
	var wg sync.WaitGroup
	wg.Go(func() { ReadTCPMessage(c, nil) })
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("ServeTCP: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeTCP did not return")
	}
	wg.Wait() // the client's read ended: the connection was closed
}

// FuzzReadTCPMessage reads a stream of arbitrary bytes as DNS over TCP, as
// the server reads what a program sends: no panic; every message read is at
// least a DNS header, and writing the messages back with AppendTCPMessage
// gives the bytes consumed, exactly; reading stops only at the end of the
// stream (io.EOF between messages, io.ErrUnexpectedEOF inside one) or at a
// bad length (ErrFraming).
func FuzzReadTCPMessage(f *testing.F) {
	two, _ := AppendTCPMessage(nil, query(f, "home.i3.", mdns.TypeA, true))
	two, _ = AppendTCPMessage(two, query(f, "example.org.", mdns.TypeAAAA, false))
	f.Add(two)
	f.Add(two[:len(two)-1]) // cut inside the second message
	f.Add([]byte{0})        // cut inside a prefix
	f.Add([]byte{0, 0})     // an empty message
	f.Add([]byte{0xff, 0xff, 1, 2, 3})
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := bytes.NewReader(stream)
		var back []byte
		for range len(stream) + 1 {
			before := r.Len()
			m, err := ReadTCPMessage(r, make([]byte, 0, 64))
			if err != nil {
				switch {
				case err == io.EOF && before == 0:
				case err == io.ErrUnexpectedEOF && before > 0:
				case errors.Is(err, ErrFraming):
				default:
					t.Fatalf("error %v with %d bytes left", err, before)
				}
				break
			}
			if len(m) < headerLen {
				t.Fatalf("a message of %d bytes", len(m))
			}
			back, _ = AppendTCPMessage(back, m)
			if consumed := len(stream) - r.Len(); !bytes.Equal(back, stream[:consumed]) {
				t.Fatalf("re-framed %x, read %x", back, stream[:consumed])
			}
		}
	})
}
