package front

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// fakeRouter resolves a few names from a map and dials real loopback
// sockets, as the proxy's Router will through the overlay.
// Dials to slow.i3 (slowAddr) hang until their context ends.
type fakeRouter struct {
	names map[string]netip.Addr
}

var slowAddr = netip.MustParseAddr("192.0.2.1")

func newFakeRouter() *fakeRouter {
	lo := netip.MustParseAddr("127.0.0.1")
	return &fakeRouter{names: map[string]netip.Addr{"home.i3": lo, "echo.i3": lo, "git.i3": lo, "slow.i3": slowAddr}}
}

func (r *fakeRouter) Resolve(ctx context.Context, host string) (netip.Addr, error) {
	if a, ok := r.names[host]; ok {
		return a, nil
	}
	return netip.Addr{}, fmt.Errorf("no such name %q", host)
}

func (r *fakeRouter) DialTCP(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
	if dst.Addr() == slowAddr {
		<-ctx.Done()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: ctx.Err()}
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", dst.String())
}

func (r *fakeRouter) DialUDP(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "udp", dst.String())
}

// startServer serves a Server on a loopback port; Close runs at cleanup
// and Serve must then have returned nil.
func startServer(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	if cfg.Router == nil {
		cfg.Router = newFakeRouter()
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-served; err != nil {
			t.Errorf("Serve returned %v after Close, want nil", err)
		}
	})
	return s, ln.Addr().String()
}

// startWeb serves body on a loopback port and returns the port.
func startWeb(t *testing.T, body string) string {
	t.Helper()
	ws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}))
	t.Cleanup(ws.Close)
	return portOf(t, ws.Listener.Addr().String())
}

func portOf(t testing.TB, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// closedPort is a loopback TCP port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := portOf(t, ln.Addr().String())
	ln.Close()
	return port
}

// needTool skips the test when name is not installed.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed: this real-client test needs it", name)
	}
	return p
}

// run runs a program with a clean environment (no *_proxy variables) and a
// deadline, and returns its standard output.
func run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + t.TempDir()}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		err = errors.Join(err, errors.New(stderr.String()))
	}
	return string(out), err
}

// socksDial opens a TCP connection to the server and negotiates
// no-authentication.
func socksDial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte{5, 1, 0})
	var m [2]byte
	if _, err := io.ReadFull(c, m[:]); err != nil || m != [2]byte{5, 0} {
		t.Fatalf("method reply %v, %v; want [5 0]", m, err)
	}
	return c
}

// socksRequest sends a request and returns the reply code and BND.
func socksRequest(t testing.TB, c net.Conn, cmd byte, d socksDest) (byte, netip.AddrPort) {
	t.Helper()
	if _, err := c.Write(appendDest([]byte{5, cmd, 0}, d)); err != nil {
		t.Fatal(err)
	}
	return readReply(t, c)
}

func readReply(t testing.TB, c net.Conn) (byte, netip.AddrPort) {
	t.Helper()
	var hdr [3]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatalf("reading the reply: %v", err)
	}
	var atyp [1]byte
	io.ReadFull(c, atyp[:])
	bnd, err := readAddr(c, atyp[0])
	if err != nil {
		t.Fatalf("reading BND: %v", err)
	}
	return hdr[1], netip.AddrPortFrom(bnd.addr, bnd.port)
}

func mustPort(t testing.TB, s string) uint16 {
	t.Helper()
	_, port, err := splitHostPort("x:" + s)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// liveCount is, for tests, how many listeners and connections Close would close.
func (s *Server) liveCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.closers)
}
