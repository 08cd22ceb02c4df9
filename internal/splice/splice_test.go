package splice

import (
	"io"
	"net"
	"testing"
)

// pipe returns the two ends of a loopback TCP connection.
func pipe(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	a, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// Both carries each way, passes half-closes on, and the head read ahead
// arrives first.
func TestBothWithHead(t *testing.T) {
	client, clientIn := pipe(t)
	serverOut, server := pipe(t)
	done := make(chan [2]int64)
	go func() {
		ab, ba := Both(Prefixed(clientIn, []byte("GET ")), serverOut)
		done <- [2]int64{ab, ba}
	}()
	io.WriteString(client, "/ HTTP/1.0\r\n\r\n")
	client.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(server)
	if err != nil || string(got) != "GET / HTTP/1.0\r\n\r\n" {
		t.Fatalf("server got %q, %v", got, err)
	}
	io.WriteString(server, "HTTP/1.0 200 OK\r\n\r\nhi")
	server.(*net.TCPConn).CloseWrite()
	back, err := io.ReadAll(client)
	if err != nil || string(back) != "HTTP/1.0 200 OK\r\n\r\nhi" {
		t.Fatalf("client got %q, %v", back, err)
	}
	if n := <-done; n[0] != 18 || n[1] != 21 {
		t.Fatalf("bytes %v, want [18 21]", n)
	}
}
