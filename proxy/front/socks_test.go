package front

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/testwait"
)

func TestSOCKSReplyCodes(t *testing.T) {
	s, addr := startServer(t, Config{})
	lo := netip.MustParseAddr("127.0.0.1")
	refused := mustPort(t, closedPort(t))
	for _, tc := range []struct {
		name string
		cmd  byte
		dst  socksDest
		want byte
	}{
		{"unknown name", cmdConnect, socksDest{name: "nowhere.i3", port: 80}, repHostUnreachable},
		{"refused port by name", cmdConnect, socksDest{name: "home.i3", port: refused}, repConnectionRefused},
		{"refused port by address", cmdConnect, socksDest{addr: lo, port: refused}, repConnectionRefused},
		{"BIND", cmdBind, socksDest{addr: lo, port: 1}, repCommandUnsupported},
		{"unknown command", 9, socksDest{addr: lo, port: 1}, repCommandUnsupported},
	} {
		c := socksDial(t, addr)
		if code, _ := socksRequest(t, c, tc.cmd, tc.dst); code != tc.want {
			t.Errorf("%s: reply %#x, want %#x", tc.name, code, tc.want)
		}
	}
	c := socksDial(t, addr)
	c.Write([]byte{5, cmdConnect, 0, 9, 1, 2, 3, 4, 0, 80})
	if code, _ := readReply(t, c); code != repAddrTypeUnsupported {
		t.Errorf("address type 9: reply %#x, want %#x", code, repAddrTypeUnsupported)
	}
	if st := s.Stats(); st.ConnectFailed != 3 || st.BadRequests != 3 {
		t.Errorf("stats %+v, want 3 failed connects and 3 bad requests", st)
	}
}

func TestSOCKSRefusesAuthMethods(t *testing.T) {
	_, addr := startServer(t, Config{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte{5, 2, 1, 2}) // GSSAPI, username/password
	var m [2]byte
	if _, err := io.ReadFull(c, m[:]); err != nil || m != [2]byte{5, 0xFF} {
		t.Fatalf("method reply %v, %v; want [5 255]", m, err)
	}
	if n, err := c.Read(m[:]); err == nil {
		t.Errorf("connection still open after 0xFF (read %d bytes)", n)
	}
}

// TestHandshakeCutShort: clients that leave mid-handshake, and one that
// stalls past HandshakeTimeout, cost the server nothing that lasts.
func TestHandshakeCutShort(t *testing.T) {
	s, addr := startServer(t, Config{HandshakeTimeout: 300 * time.Millisecond})
	for _, prefix := range [][]byte{
		{}, {5}, {5, 2, 0}, {5, 1, 0, 5, 1, 0, 3, 7, 'h', 'o'}, {'G', 'E', 'T', ' '},
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(prefix)
		c.Close()
	}
	stalled, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	stalled.Write([]byte{5, 1})
	stalled.SetReadDeadline(time.Now().Add(testwait.Timeout))
	if n, err := io.Copy(io.Discard, stalled); err != nil || n != 0 {
		t.Errorf("stalled client: read %d bytes, %v; want the server to close it", n, err)
	}
	testwait.For(t, "every handshake connection to end", func() bool { return s.liveCount() == 1 }) // the listener
	c := socksDial(t, addr)
	if code, _ := socksRequest(t, c, cmdConnect, socksDest{name: "nowhere.i3", port: 1}); code != repHostUnreachable {
		t.Errorf("after the cut handshakes: reply %#x", code)
	}
}

// TestCloseEndsTunnels: Close ends an open tunnel whose far end never
// closes, and Serve returns.
func TestCloseEndsTunnels(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	held := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			held <- c
		}
	}()
	s, addr := startServer(t, Config{})
	c := socksDial(t, addr)
	if code, _ := socksRequest(t, c, cmdConnect, socksDest{name: "home.i3", port: mustPort(t, portOf(t, ln.Addr().String()))}); code != repSucceeded {
		t.Fatalf("CONNECT: %#x", code)
	}
	far := <-held
	defer far.Close()
	s.Close()
	c.SetReadDeadline(time.Now().Add(testwait.Timeout))
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Errorf("client after Close: %v, want EOF", err)
	}
}
