package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/proxy"

	"github.com/i3net/i3net/internal/netlab"
)

// The userspace benchmark's bulk server on home: it counts what arrives on
// sinkPort (upload) and sends for the run's duration on sourcePort
// (download).
const (
	sinkPort   = 5300
	sourcePort = 5301
)

// BenchmarkUserspace compares, in one run, TCP throughput between home
// (behind a NAT, tun mode) and a laptop whose proxy runs in userspace mode
// (the program dials through the SOCKS5 front door, so the bytes cross
// gVisor's netstack in the proxy process) with the same transfers from a
// laptop whose proxy runs in tun mode (the kernel's stack and a tun
// device), both ways: laptop → home (upload) and home → laptop (download).
// iperf3 cannot use SOCKS, so one Go client and one Go server on home move
// bytes as fast as they can for I3NET_BENCH_SECONDS over one TCP
// connection, and the receiver counts what arrives (first byte to end of
// stream); both laptops use the same client and server. The userspace proxy
// runs as root here (with --userspace: the same stack it uses without root;
// e2e's TestUserspace runs it as nobody). It reports each rate and the
// ratios (issue 13 aims for userspace ≥ 0.5 × tun). Run it once:
// go test -run '^$' -bench Userspace -benchtime 1x ./bench/ (bench/run does).
func BenchmarkUserspace(b *testing.B) {
	lab, bin, secs := setUp(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	srv := lab.Host("srv")
	tunLaptop := lab.Host("laptop")
	usLaptop := lab.Host("uslaptop")
	home := lab.NATHost("nat", netip.MustParsePrefix("192.168.1.0/24"), netlab.NATCone).Inside("home")

	srvAddr := netip.AddrPortFrom(srv.Addr4(), 5610).String()
	mustStart(b, srv, bin, "server", "--listen", srvAddr, "--log-level", "warn")
	if err := netlab.WaitUDP(ctx, srv, 5610); err != nil {
		b.Fatal(err)
	}
	hosts := []*netlab.Host{home, tunLaptop, usLaptop}
	dirs, keys := map[string]string{}, map[string]string{}
	for _, h := range hosts {
		dirs[h.Name()] = b.TempDir()
		keys[h.Name()] = benchIdentity(b, bin, dirs[h.Name()])
	}
	for _, l := range []string{"laptop", "uslaptop"} {
		run(b, bin, "book", "add", "home", keys["home"], "--state-dir", dirs[l])
		run(b, bin, "book", "add", l, keys[l], "--state-dir", dirs["home"])
	}
	for _, h := range hosts {
		args := []string{"proxy", "--server", srvAddr, "--state-dir", dirs[h.Name()], "--log-level", "warn"}
		if h == usLaptop {
			args = append(args, "--userspace", "--front", "127.0.0.1:1080")
		}
		mustStart(b, h, bin, args...)
	}
	for _, h := range hosts {
		if err := netlab.Poll(ctx, 50*time.Millisecond, func() error {
			_, err := h.Run(ctx, bin, "status", "--state-dir", dirs[h.Name()])
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	d := time.Duration(secs) * time.Second
	bulk := startBulk(b, home, d)
	dialTun := func(ctx context.Context, port uint16) (net.Conn, error) {
		return dialByName(ctx, tunLaptop, "home.i3", port)
	}
	dialUS := func(ctx context.Context, port uint16) (net.Conn, error) {
		return dialSOCKS(ctx, usLaptop, "127.0.0.1:1080", fmt.Sprintf("home.i3:%d", port))
	}
	// A first second each sets the sessions up.
	bulk.upload(b, ctx, dialTun, time.Second)
	bulk.upload(b, ctx, dialUS, time.Second)
	b.ResetTimer()
	tunUp := bulk.upload(b, ctx, dialTun, d)
	usUp := bulk.upload(b, ctx, dialUS, d)
	tunDown := bulk.download(b, ctx, dialTun)
	usDown := bulk.download(b, ctx, dialUS)
	b.StopTimer()
	b.ReportMetric(tunUp/1e9, "tun-up-Gb/s")
	b.ReportMetric(usUp/1e9, "userspace-up-Gb/s")
	b.ReportMetric(usUp/tunUp, "userspace/tun-up")
	b.ReportMetric(tunDown/1e9, "tun-down-Gb/s")
	b.ReportMetric(usDown/1e9, "userspace-down-Gb/s")
	b.ReportMetric(usDown/tunDown, "userspace/tun-down")
	fmt.Fprintf(os.Stderr, "\nTCP Gb/s, one stream, %d s each          laptop → home  ratio   home → laptop  ratio\n", secs)
	fmt.Fprintf(os.Stderr, "tun mode (kernel stack, tun device)      %13.2f   1.00   %13.2f   1.00\n", tunUp/1e9, tunDown/1e9)
	fmt.Fprintf(os.Stderr, "userspace mode (SOCKS5 → netstack)       %13.2f   %.2f   %13.2f   %.2f\n",
		usUp/1e9, usUp/tunUp, usDown/1e9, usDown/tunDown)
}

// bulk is the bulk server on a host: sinkPort counts each connection's
// bytes, sourcePort sends on each for d.
type bulk struct {
	results chan sinkResult
	d       time.Duration
}

// sinkResult is one connection's count, from its first byte to its end.
type sinkResult struct {
	bytes int64
	took  time.Duration
	err   error
}

// startBulk listens on sinkPort and sourcePort in h until b ends.
func startBulk(b *testing.B, h *netlab.Host, d time.Duration) *bulk {
	s := &bulk{results: make(chan sinkResult, 4), d: d}
	serve := func(port uint16, handle func(net.Conn)) {
		ln, err := h.Listen("tcp", netip.AddrPortFrom(netip.Addr{}, port))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go handle(c)
			}
		}()
	}
	serve(sinkPort, func(c net.Conn) { s.results <- drain(c) })
	serve(sourcePort, func(c net.Conn) { pump(c, d); c.Close() })
	return s
}

// pump writes to c as fast as it can for d.
func pump(c net.Conn, d time.Duration) error {
	buf := make([]byte, 128<<10)
	end := time.Now().Add(d)
	c.SetWriteDeadline(end.Add(time.Minute))
	for time.Now().Before(end) {
		if _, err := c.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// drain reads c to its end.
func drain(c net.Conn) sinkResult {
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Minute))
	buf := make([]byte, 256<<10)
	var r sinkResult
	var first time.Time
	for {
		n, err := c.Read(buf)
		if n > 0 && first.IsZero() {
			first = time.Now()
		}
		r.bytes += int64(n)
		if err != nil {
			r.took = time.Since(first)
			if !errors.Is(err, io.EOF) {
				r.err = err
			}
			return r
		}
	}
}

// rate returns r in bits/s, failing b if the transfer failed.
func (r sinkResult) rate(b *testing.B, what string) float64 {
	if r.err != nil || r.took <= 0 || r.bytes == 0 {
		b.Fatalf("%s: %d bytes in %v: %v", what, r.bytes, r.took, r.err)
	}
	return float64(r.bytes) * 8 / r.took.Seconds()
}

// upload connects to sinkPort with dial, writes for d, closes, and returns
// the rate at which the sink received the stream.
func (s *bulk) upload(b *testing.B, ctx context.Context, dial func(context.Context, uint16) (net.Conn, error), d time.Duration) float64 {
	c, err := dial(ctx, sinkPort)
	if err != nil {
		b.Fatal(err)
	}
	err = pump(c, d)
	c.Close()
	if err != nil {
		b.Fatalf("write to the sink: %v", err)
	}
	select {
	case r := <-s.results:
		return r.rate(b, "upload")
	case <-ctx.Done():
		b.Fatalf("the sink saw no end of the stream: %v", ctx.Err())
	case <-time.After(time.Minute):
		b.Fatal("the sink saw no end of the stream within a minute of the writer's close")
	}
	return 0
}

// download connects to sourcePort with dial and returns the rate at which
// it received the stream.
func (s *bulk) download(b *testing.B, ctx context.Context, dial func(context.Context, uint16) (net.Conn, error)) float64 {
	c, err := dial(ctx, sourcePort)
	if err != nil {
		b.Fatal(err)
	}
	return drain(c).rate(b, "download")
}

// dialByName resolves name inside h (through its resolver: the tun-mode
// proxy's DNS) and connects to it from there.
func dialByName(ctx context.Context, h *netlab.Host, name string, port uint16) (net.Conn, error) {
	out, err := h.Run(ctx, "getent", "ahostsv4", name)
	if err != nil {
		return nil, err
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return nil, fmt.Errorf("getent ahostsv4 %s in %s: no address", name, h.Name())
	}
	a, err := netip.ParseAddr(f[0])
	if err != nil {
		return nil, fmt.Errorf("getent ahostsv4 %s in %s: %q: %w", name, h.Name(), f[0], err)
	}
	return h.Dial(ctx, "tcp", netip.AddrPortFrom(a, port))
}

// dialSOCKS connects, from inside h, to target (host:port, the name resolved
// by the proxy) through the SOCKS5 server at front.
func dialSOCKS(ctx context.Context, h *netlab.Host, front, target string) (net.Conn, error) {
	d, err := proxy.SOCKS5("tcp", front, nil, hostDialer{h})
	if err != nil {
		return nil, err
	}
	return d.(proxy.ContextDialer).DialContext(ctx, "tcp", target)
}

// hostDialer dials literal addresses from inside a host, for proxy.SOCKS5.
type hostDialer struct{ h *netlab.Host }

func (d hostDialer) Dial(network, addr string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, addr)
}

func (d hostDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, err
	}
	return d.h.Dial(ctx, network, ap)
}
