package nat

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/testwait"
)

// httpPort is where the intranet's web server listens.
const httpPort = 8080

// startWeb starts python3's web server on h's address at, serving a file
// hello.txt, and returns the process (its log names each client) and the
// file's content.
func startWeb(t *testing.T, h *netlab.Host, at netip.Addr) (*netlab.Proc, string) {
	t.Helper()
	needProgram(t, "python3")
	dir := t.TempDir()
	body := "hello from the intranet\n"
	must(t, os.WriteFile(filepath.Join(dir, "hello.txt"), []byte(body), 0o644))
	p := startDaemon(t, h, "python3", "-u", "-m", "http.server", "--bind", at.String(), "--directory", dir, strconv.Itoa(httpPort))
	ctx, cancel := context.WithTimeout(context.Background(), testwait.Timeout)
	defer cancel()
	must(t, netlab.WaitListen(ctx, h, "tcp", httpPort))
	return p, body
}

// testCurl fetches a file with curl from the client through the gateway and
// checks that the web server saw the gateway's intranet address.
func testCurl(t *testing.T, v6 bool) {
	needProgram(t, "curl")
	tp := newTopo(t, v6)
	r := tp.install(t)
	served := addrOf(tp.intranet, v6)
	web, body := startWeb(t, tp.intranet, served)

	url := "http://" + netip.AddrPortFrom(served, httpPort).String() + "/hello.txt"
	out := run(t, tp.client, "curl", "-sS", "-g", "--max-time", "10", url)
	if out != body {
		t.Fatalf("curl %s: got %q, want %q", url, out, body)
	}
	// python's log line starts with the client's address as the server saw it.
	want := tp.gwLAN.String() + " - - "
	testwait.For(t, "the web server's log of the request", func() bool {
		return bytes.Contains(web.Output(), []byte("GET /hello.txt"))
	})
	if log := string(web.Output()); !strings.Contains(log, want) || strings.Contains(log, tp.clientAddr.String()) {
		t.Fatalf("the web server should see the gateway's address %v (masquerade), not the client's %v:\n%s", tp.gwLAN, tp.clientAddr, log)
	}
	if c := counters(t, r); c.Served == 0 || c.Refused != 0 || c.Unsolicited != 0 {
		t.Fatalf("counters %+v: want served > 0, nothing refused or unsolicited", c)
	}
	t.Logf("curl %s from %v: the server saw %v", url, tp.clientAddr, tp.gwLAN)
}

func TestCurlThroughGatewayIPv4(t *testing.T) { testCurl(t, false) }
func TestCurlThroughGatewayIPv6(t *testing.T) { testCurl(t, true) }

// testPing pings the intranet host from the client: conntrack maps the echo
// id through masquerade.
func testPing(t *testing.T, v6 bool) {
	needProgram(t, "ping")
	tp := newTopo(t, v6)
	r := tp.install(t)
	out := run(t, tp.client, "ping", "-c", "1", "-W", "5", addrOf(tp.intranet, v6).String())
	if !strings.Contains(out, "1 received") {
		t.Fatalf("no echo reply:\n%s", out)
	}
	if c := counters(t, r); c.Served != 1 {
		t.Fatalf("counters %+v: want the one echo request served", c)
	}
}

func TestPingThroughGatewayIPv4(t *testing.T) { testPing(t, false) }
func TestPingThroughGatewayIPv6(t *testing.T) { testPing(t, true) }

// testRefused: a destination the gateway routes but does not serve (the
// intranet's other host) gets nothing from the client, and Refused counts.
func testRefused(t *testing.T, v6 bool) {
	tp := newTopo(t, v6)
	r := tp.install(t)
	to := netip.AddrPortFrom(addrOf(tp.other, v6), 8081)
	ln, err := tp.other.Listen("tcp", to)
	must(t, err)
	defer ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	dialed := make(chan error, 1)
	go func() {
		c, err := tp.client.Dial(ctx, "tcp", to)
		if err == nil {
			c.Close()
		}
		dialed <- err
	}()
	waitCounter(t, r, "the refused counter to count the SYN to "+to.String(), 0, func(c Counters) uint64 { return c.Refused })
	cancel()
	if err := <-dialed; err == nil {
		t.Fatalf("the client connected to %v, which the gateway does not serve", to)
	}
	noPendingConn(t, ln, "the unserved host")
	if c := counters(t, r); c.Served != 0 {
		t.Fatalf("counters %+v: nothing should be served", c)
	}
}

func TestUnservedDestinationRefusedIPv4(t *testing.T) { testRefused(t, false) }
func TestUnservedDestinationRefusedIPv6(t *testing.T) { testRefused(t, true) }

// testUnsolicited: the intranet host cannot open a connection to a client.
func testUnsolicited(t *testing.T, v6 bool) {
	tp := newTopo(t, v6)
	r := tp.install(t)
	to := netip.AddrPortFrom(tp.clientAddr, 8082)
	ln, err := tp.client.Listen("tcp", to)
	must(t, err)
	defer ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	dialed := make(chan error, 1)
	go func() {
		c, err := tp.intranet.Dial(ctx, "tcp", to)
		if err == nil {
			c.Close()
		}
		dialed <- err
	}()
	waitCounter(t, r, "the unsolicited counter to count the intranet's SYN", 0, func(c Counters) uint64 { return c.Unsolicited })
	cancel()
	if err := <-dialed; err == nil {
		t.Fatalf("the intranet host connected to the client at %v", to)
	}
	noPendingConn(t, ln, "the client")
}

func TestIntranetCannotReachClientIPv4(t *testing.T) { testUnsolicited(t, false) }
func TestIntranetCannotReachClientIPv6(t *testing.T) { testUnsolicited(t, true) }

// TestMSSClamped: the route from the gateway to its clients has the tun's
// MTU (1280); the intranet host's SYN-ACK offers an MSS for 1500 and the
// gateway lowers it, so the client sends segments that fit the tun.
func TestMSSClamped(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		t.Run(map[bool]string{false: "IPv4", true: "IPv6"}[v6], func(t *testing.T) {
			tp := newTopo(t, v6)
			tp.install(t)
			to := netip.AddrPortFrom(addrOf(tp.intranet, v6), 8083)
			ln, err := tp.intranet.Listen("tcp", to)
			must(t, err)
			defer ln.Close()
			c, err := tp.client.Dial(context.Background(), "tcp", to)
			must(t, err)
			defer c.Close()
			mss := maxSeg(t, c)
			// IPv4 and TCP headers take 40 bytes, IPv6 and TCP 60.
			limit := tunMTU - 40
			if v6 {
				limit = tunMTU - 60
			}
			if mss > limit {
				t.Fatalf("the client's MSS is %d, want at most %d (the tun's MTU %d less headers): the SYN-ACK was not clamped", mss, limit, tunMTU)
			}
			t.Logf("client's MSS towards the intranet: %d (unclamped it would be about 1448)", mss)
		})
	}
}

// maxSeg returns a TCP connection's current maximum segment size.
func maxSeg(t *testing.T, c net.Conn) int {
	t.Helper()
	raw, err := c.(*net.TCPConn).SyscallConn()
	must(t, err)
	var mss int
	var serr error
	must(t, raw.Control(func(fd uintptr) { mss, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_MAXSEG) }))
	must(t, serr)
	return mss
}

// TestRestartKeepsFlow: a second Install of the same table (a restarted
// gateway) replaces the rules without breaking an established TCP flow.
func TestRestartKeepsFlow(t *testing.T) {
	tp := newTopo(t, false)
	var first *Rules
	must(t, tp.gw.Do(func() error {
		var err error
		first, err = Install(tp.cfg)
		return err
	}))
	to := netip.AddrPortFrom(tp.intranet.Addr4(), 8084)
	ln, err := tp.intranet.Listen("tcp", to)
	must(t, err)
	defer ln.Close()
	peer := make(chan net.Addr, 1)
	go echoOnce(ln, peer)

	c, err := tp.client.Dial(context.Background(), "tcp", to)
	must(t, err)
	defer c.Close()
	br := bufio.NewReader(c)
	exchange(t, c, br, "before the restart")
	if got := (<-peer).(*net.TCPAddr).AddrPort().Addr(); got != tp.gwLAN {
		t.Fatalf("the server saw %v, want the gateway's %v", got, tp.gwLAN)
	}

	first.release() // the gateway process dies: no Close
	second := tp.install(t)
	exchange(t, c, br, "after the restart")
	if c := counters(t, second); c.Served == 0 {
		t.Fatalf("counters of the new table %+v: the flow's packets should be counted as served", c)
	}
}

// TestStopStartKeepsFlow: a gateway stopped cleanly (Close) and started
// again keeps an established flow, even when the intranet's host sends while
// it is stopped. The flow's NAT binding lives in its conntrack entry, but the
// kernel translates only while a NAT chain is registered in the namespace:
// with the table deleted, the host's segment to the gateway's address was
// not translated back, met no socket there, and the gateway's kernel reset
// the connection. So Close leaves the table (forwarding off).
func TestStopStartKeepsFlow(t *testing.T) {
	tp := newTopo(t, false)
	first := tp.install(t)
	to := netip.AddrPortFrom(tp.intranet.Addr4(), 8085)
	ln, err := tp.intranet.Listen("tcp", to)
	must(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	c, err := tp.client.Dial(context.Background(), "tcp", to)
	must(t, err)
	defer c.Close()
	server := <-accepted
	if server == nil {
		t.Fatal("the intranet host accepted nothing")
	}
	defer server.Close()
	br := bufio.NewReader(c)
	say(t, server, br, "before the stop")
	must(t, tp.gw.Do(first.Close))
	_, err = server.Write([]byte("while stopped\n")) // reaches the stopped gateway
	must(t, err)
	waitUnanswered(t, server)
	tp.install(t)
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if line, err := br.ReadString('\n'); err != nil || line != "while stopped\n" {
		t.Fatalf("after the restart the client read %q, %v; want the line sent while the gateway was stopped", line, err)
	}
}

// waitUnanswered waits, bounded, until the last segment c sent went
// unanswered (TCP retransmitted it) or the connection was reset.
func waitUnanswered(t *testing.T, c net.Conn) {
	t.Helper()
	raw, err := c.(*net.TCPConn).SyscallConn()
	must(t, err)
	testwait.For(t, "the segment sent while the gateway is stopped goes unanswered", func() bool {
		var info *unix.TCPInfo
		raw.Control(func(fd uintptr) { info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) })
		return err != nil || info.Total_retrans >= 1 || info.State != 1 // 1: TCP_ESTABLISHED
	})
}

// say sends line from the intranet's side and reads it on the client's.
func say(t *testing.T, server net.Conn, br *bufio.Reader, line string) {
	t.Helper()
	_, err := server.Write([]byte(line + "\n"))
	must(t, err)
	if got, err := br.ReadString('\n'); err != nil || got != line+"\n" {
		t.Fatalf("the client read %q, %v; want %q", got, err, line)
	}
}

// echoOnce accepts one connection, reports its peer and echoes lines.
func echoOnce(ln net.Listener, peer chan<- net.Addr) {
	c, err := ln.Accept()
	if err != nil {
		close(peer)
		return
	}
	defer c.Close()
	peer <- c.RemoteAddr()
	br := bufio.NewReader(c)
	for range 100 {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		if _, err := c.Write([]byte(line)); err != nil {
			return
		}
	}
}

// exchange sends a line on c and waits, with a deadline, for its echo.
func exchange(t *testing.T, c net.Conn, br *bufio.Reader, what string) {
	t.Helper()
	must(t, c.SetDeadline(time.Now().Add(testwait.Timeout)))
	msg := what + "\n"
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	got, err := br.ReadString('\n')
	if err != nil || got != msg {
		t.Fatalf("%s: echo %q, %v; want %q", what, got, err, msg)
	}
}

// TestCloseRemovesTable: Close turns forwarding back off, as Install found
// it, and leaves the table for a restart; Remove deletes it.
func TestCloseRemovesTable(t *testing.T) {
	tp := newTopo(t, true)
	tp.cfg.Pools = append(tp.cfg.Pools, netip.MustParsePrefix("100.64.0.0/10"))
	var r *Rules
	must(t, tp.gw.Do(func() error {
		var err error
		r, err = Install(tp.cfg)
		return err
	}))
	if got := kernelState(t, tp.gw.Host, tp.cfg.Table); got != "table yes, forwarding 1 1" {
		t.Fatalf("after Install: %s", got)
	}
	must(t, tp.gw.Do(r.Close))
	if got := kernelState(t, tp.gw.Host, tp.cfg.Table); got != "table yes, forwarding 0 0" {
		t.Fatalf("after Close: %s, want the table kept and forwarding off as before", got)
	}
	must(t, r.Close())
	must(t, tp.gw.Do(func() error {
		var err error
		r, err = Install(tp.cfg)
		return err
	}))
	must(t, tp.gw.Do(r.Remove))
	if got := kernelState(t, tp.gw.Host, tp.cfg.Table); got != "table no, forwarding 0 0" {
		t.Fatalf("after Remove: %s, want no table and forwarding off as before", got)
	}
	if _, err := r.Counters(); err == nil {
		t.Fatal("Counters after Close should fail")
	}
}

// kernelState says whether h has the inet table and its forwarding settings.
func kernelState(t *testing.T, h *netlab.Host, name string) string {
	t.Helper()
	state := "table no"
	must(t, h.Do(func() error {
		conn, err := nftables.New()
		if err != nil {
			return err
		}
		tables, err := conn.ListTablesOfFamily(nftables.TableFamilyINet)
		if err != nil {
			return err
		}
		for _, tb := range tables {
			if tb.Name == name {
				state = "table yes"
			}
		}
		state += ", forwarding"
		for _, path := range []string{forwardIPv4, forwardIPv6} {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			state += " " + strings.TrimSpace(string(b))
		}
		return nil
	}))
	return state
}

// TestInstallWithoutNetAdmin: a process without CAP_NET_ADMIN gets the
// error that says so, and nothing changes.
func TestInstallWithoutNetAdmin(t *testing.T) {
	tp := newTopo(t, false)
	var err error
	must(t, tp.gw.Do(func() error {
		// Only this thread, which Do locked and discards if it cannot leave
		// the namespace, drops the capability from its effective set.
		restore, cerr := dropEffectiveCap(unix.CAP_NET_ADMIN)
		if cerr != nil {
			return cerr
		}
		var r *Rules
		r, err = Install(tp.cfg)
		if r != nil {
			r.Close()
		}
		return restore()
	}))
	if !errors.Is(err, ErrNeedsNetAdmin) || !strings.Contains(err.Error(), "the gateway needs root or CAP_NET_ADMIN to set up forwarding and NAT") {
		t.Fatalf("Install without CAP_NET_ADMIN: %v, want ErrNeedsNetAdmin", err)
	}
	t.Logf("Install without CAP_NET_ADMIN: %v", err)
	if got := kernelState(t, tp.gw.Host, tp.cfg.Table); got != "table no, forwarding 0 0" {
		t.Fatalf("after the failed Install: %s, want nothing changed", got)
	}
}

// dropEffectiveCap removes capability c from the calling thread's effective
// set and returns a function that puts it back.
func dropEffectiveCap(c int) (restore func() error, err error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return nil, err
	}
	saved := data
	data[c/32].Effective &^= 1 << (c % 32)
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return nil, err
	}
	return func() error { return unix.Capset(&hdr, &saved[0]) }, nil
}
