package netlab_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
)

var (
	homeLAN     = netip.MustParsePrefix("192.168.1.0/24")
	intranetLAN = netip.MustParsePrefix("10.1.0.0/24")
)

// testCtx returns a context that ends with the test or after d.
func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// needTool skips t when a program the test drives is missing.
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("skipping: %s not installed (see APT_PACKAGES.txt)", name)
	}
}

// ping runs one ping from h to a and returns its error.
func ping(t *testing.T, h *netlab.Host, a netip.Addr) error {
	t.Helper()
	_, err := h.Run(testCtx(t, 5*time.Second), "ping", "-n", "-c1", "-W1", a.String())
	return err
}

// pingFails reports whether one ping from h to a goes unanswered within
// 300 ms (for checks that something is unreachable).
func pingFails(t *testing.T, h *netlab.Host, a netip.Addr) bool {
	t.Helper()
	_, err := h.Run(testCtx(t, 5*time.Second), "ping", "-n", "-c1", "-W0.3", a.String())
	return err != nil
}

// mustPing fails t unless h can ping a.
func mustPing(t *testing.T, h *netlab.Host, a netip.Addr) {
	t.Helper()
	if err := ping(t, h, a); err != nil {
		t.Fatalf("%s cannot ping %v: %v", h, a, err)
	}
}

// udpServer is a UDP socket in a host that reports the source of each
// datagram it receives.
type udpServer struct {
	pc *net.UDPConn
	at netip.AddrPort
}

// newUDPServer opens a UDP socket on h's IPv4 address, closed at the end of t.
func newUDPServer(t *testing.T, h *netlab.Host) *udpServer {
	t.Helper()
	pc, err := h.ListenPacket("udp4", netip.AddrPortFrom(h.Addr4(), 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	u := pc.(*net.UDPConn)
	return &udpServer{pc: u, at: u.LocalAddr().(*net.UDPAddr).AddrPort()}
}

// observe sends a datagram from conn to s and returns the source address s
// sees, waiting at most a second.
func (s *udpServer) observe(conn *net.UDPConn) (netip.AddrPort, error) {
	if _, err := conn.WriteToUDPAddrPort([]byte("hello"), s.at); err != nil {
		return netip.AddrPort{}, err
	}
	if err := s.pc.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
		return netip.AddrPort{}, err
	}
	var buf [64]byte
	_, from, err := s.pc.ReadFromUDPAddrPort(buf[:])
	return from, err
}

// udpClient opens an unbound-address UDP socket in h, closed at the end of t.
func udpClient(t *testing.T, h *netlab.Host) *net.UDPConn {
	t.Helper()
	pc, err := h.ListenPacket("udp4", netip.AddrPort{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.(*net.UDPConn)
}

// tcpEcho serves, on h's IPv4 address, a TCP listener that writes the
// client's address it sees and closes; it returns the listener's address.
func tcpEcho(t *testing.T, h *netlab.Host, a netip.Addr) netip.AddrPort {
	t.Helper()
	ln, err := h.Listen("tcp", netip.AddrPortFrom(a, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for range 1000 {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(c.RemoteAddr().String() + "\n"))
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// tcpSeen connects from h to to and returns the client address the tcpEcho
// server reports.
func tcpSeen(ctx context.Context, h *netlab.Host, to netip.AddrPort) (netip.AddrPort, error) {
	c, err := h.Dial(ctx, "tcp", to)
	if err != nil {
		return netip.AddrPort{}, err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return netip.AddrPort{}, err
	}
	var buf [128]byte
	n, err := c.Read(buf[:])
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.ParseAddrPort(strings.TrimSpace(string(buf[:n])))
}

// gone reports whether process pid has exited (a zombie counts as exited).
func gone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if errors.Is(err, os.ErrNotExist) {
		return true
	}
	if err != nil {
		return false
	}
	// pid (comm) S ...: the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

// must fails t when err, from a change of the lab's topology, is not nil.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// renumber moves h's address of to's family to to (the next free IPv4
// address if to is invalid), failing t on error.
func renumber(t *testing.T, h *netlab.Host, to netip.Addr) netip.Addr {
	t.Helper()
	a, err := h.Renumber(to)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
