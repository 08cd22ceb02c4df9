package front

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/testwait"
)

// startUDPEcho echoes datagrams on a loopback port until the test ends.
func startUDPEcho(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			pc.WriteToUDPAddrPort(append([]byte("echo:"), buf[:n]...), from)
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// associate opens a UDP association and a client socket to its relay.
func associate(t *testing.T, addr string) (net.Conn, *net.UDPConn, netip.AddrPort) {
	t.Helper()
	c := socksDial(t, addr)
	code, relay := socksRequest(t, c, cmdAssociate, socksDest{addr: netip.IPv4Unspecified()})
	if code != repSucceeded || relay.Addr() != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("UDP ASSOCIATE: reply %#x, relay %v; want success on 127.0.0.1", code, relay)
	}
	uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { uc.Close() })
	return c, uc, relay
}

// exchange sends payload to dst through the relay and returns the reply's
// source (from its header) and payload.
func exchange(t *testing.T, uc *net.UDPConn, relay netip.AddrPort, dst socksDest, payload string) (netip.AddrPort, string) {
	t.Helper()
	uc.WriteToUDPAddrPort(append(appendDest([]byte{0, 0, 0}, dst), payload...), relay)
	uc.SetReadDeadline(time.Now().Add(testwait.Timeout))
	buf := make([]byte, 2048)
	n, _, err := uc.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("waiting for the echo of %q: %v", payload, err)
	}
	src, data, err := parseDatagram(buf[:n])
	if err != nil {
		t.Fatalf("reply datagram: %v", err)
	}
	return netip.AddrPortFrom(src.addr, src.port), string(data)
}

func TestUDPAssociateRoundTrip(t *testing.T) {
	s, addr := startServer(t, Config{})
	echo := startUDPEcho(t)
	c, uc, relay := associate(t, addr)
	for _, dst := range []socksDest{
		{name: "echo.i3", port: echo.Port()},
		{addr: echo.Addr(), port: echo.Port()},
	} {
		src, data := exchange(t, uc, relay, dst, "ping "+dst.String())
		if src != echo || data != "echo:ping "+dst.String() {
			t.Errorf("to %v: reply from %v %q", dst, src, data)
		}
	}
	// A fragment is dropped; the next datagram still goes through.
	frag := append(appendDest([]byte{0, 0, 1}, socksDest{addr: echo.Addr(), port: echo.Port()}), "frag"...)
	uc.WriteToUDPAddrPort(frag, relay)
	if _, data := exchange(t, uc, relay, socksDest{name: "echo.i3", port: echo.Port()}, "after"); data != "echo:after" {
		t.Errorf("after the fragment: %q", data)
	}
	testwait.For(t, "six datagrams counted", func() bool { return s.Stats().UDPDatagrams == 6 })
	if st := s.Stats(); st.UDPAssociations != 1 || st.BadRequests != 1 {
		t.Errorf("stats %+v, want one association and one bad request (the fragment)", st)
	}
	c.Close()
	testwait.For(t, "the association to end with its TCP connection", func() bool { return s.liveCount() == 1 })
}

func TestUDPAssociateIdle(t *testing.T) {
	s, addr := startServer(t, Config{UDPTimeout: 200 * time.Millisecond})
	echo := startUDPEcho(t)
	c, uc, relay := associate(t, addr)
	exchange(t, uc, relay, socksDest{addr: echo.Addr(), port: echo.Port()}, "one")
	c.SetReadDeadline(time.Now().Add(testwait.Timeout))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("the idle association's TCP connection is still open (read %d bytes)", n)
	}
	testwait.For(t, "the idle association to end", func() bool { return s.liveCount() == 1 })
}

func TestUDPAssociateOtherSourceDropped(t *testing.T) {
	s, addr := startServer(t, Config{})
	echo := startUDPEcho(t)
	_, uc, relay := associate(t, addr)
	dst := socksDest{addr: echo.Addr(), port: echo.Port()}
	exchange(t, uc, relay, dst, "first") // fixes the client's port
	other, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.WriteToUDPAddrPort(append(appendDest([]byte{0, 0, 0}, dst), "intruder"...), relay)
	// The marker, sent after the intruder's datagram, is the next echo.
	if _, data := exchange(t, uc, relay, dst, "marker"); data != "echo:marker" {
		t.Errorf("got %q, want the marker's echo", data)
	}
	testwait.For(t, "four datagrams counted", func() bool { return s.Stats().UDPDatagrams >= 4 })
	if n := s.Stats().UDPDatagrams; n != 4 {
		t.Errorf("%d datagrams relayed, want 4: the intruder's must not count", n)
	}
}
