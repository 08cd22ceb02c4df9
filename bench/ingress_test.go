package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
)

// ingressWorkers is how many HTTP requests are in flight at once.
const ingressWorkers = 8

// ingressBenchWaypoint is the ingress's one waypoint: an address of its host
// on the internet's prefix, far above those netlab hands out.
var ingressBenchWaypoint = netip.MustParseAddr("198.19.255.10")

// BenchmarkIngress compares, in one run, a legacy host (no i3net) reaching
// home's nginx and iperf3 through the IP-to-i3 ingress (its waypoint, the
// overlay, home's proxy) with the same legacy host reaching them directly
// (home is on the internet too): HTTP requests/s with a new connection per
// request and with keep-alive (ingressWorkers in flight, routed by Host),
// and TCP throughput (iperf3 to home.i3.example.net, a published port
// routed by the heuristic); it reports each as a ratio. Run it once:
// go test -run '^$' -bench Ingress -benchtime 1x ./bench/.
func BenchmarkIngress(b *testing.B) {
	lab, bin, secs := setUp(b, "iperf3", "/usr/sbin/nginx")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	il := ingressLab(b, ctx, lab, bin)
	d := time.Duration(secs) * time.Second
	through := netip.AddrPortFrom(ingressBenchWaypoint, 80)
	direct := netip.AddrPortFrom(il.home.Addr4(), 80)
	for _, keepAlive := range []bool{false, true} {
		name := map[bool]string{false: "HTTPNewConn", true: "HTTPKeepAlive"}[keepAlive]
		b.Run(name, func(b *testing.B) {
			dr := httpRate(b, ctx, il.legacy, direct, keepAlive, d)
			ir := httpRate(b, ctx, il.legacy, through, keepAlive, d)
			b.ReportMetric(dr, "direct-req/s")
			b.ReportMetric(ir, "ingress-req/s")
			b.ReportMetric(ir/dr, "ingress/direct")
			fmt.Fprintf(os.Stderr, "\n%-14s direct %8.0f req/s   through the ingress %8.0f req/s   ratio %.2f\n", name, dr, ir, ir/dr)
		})
	}
	b.Run("TCP", func(b *testing.B) {
		tcp := func(target string) float64 {
			out, err := il.legacy.Run(ctx, "iperf3", "-c", target, "-p", "5201", "-t", strconv.Itoa(secs), "-J")
			if err != nil {
				b.Fatalf("iperf3 to %s from %s: %v", target, il.legacy.Name(), err)
			}
			return iperfBits(b, out, "sum_received")
		}
		dt := tcp(il.home.Addr4().String())
		it := tcp("home.i3.example.net")
		b.ReportMetric(dt/1e9, "direct-Gb/s")
		b.ReportMetric(it/1e9, "ingress-Gb/s")
		b.ReportMetric(it/dt, "ingress/direct")
		fmt.Fprintf(os.Stderr, "\nTCP (iperf3)   direct %8.2f Gb/s    through the ingress %8.2f Gb/s    ratio %.2f\n", dt/1e9, it/1e9, it/dt)
	})
}

// ingLab is the ingress's benchmark lab: legacy (no i3net, resolving with
// the ingress's DNS server) and home (i3net proxy, nginx on 80, iperf3 on
// 5201, both published), both on the internet.
type ingLab struct {
	legacy, home *netlab.Host
}

// ingressLab builds srv (overlay server), ing (i3net ingress for
// i3.example.net with one waypoint and no practical rate limit), home and
// legacy, and returns once home.i3.example.net answers through the ingress.
func ingressLab(b *testing.B, ctx context.Context, lab *netlabtest.Lab, bin string) ingLab {
	srv, ing, home, legacy := lab.Host("srv"), lab.Host("ing"), lab.Host("home"), lab.Host("legacy")
	srvAddr := netip.AddrPortFrom(srv.Addr4(), 5610).String()
	mustStart(b, srv, bin, "server", "--listen", srvAddr, "--log-level", "warn")
	if err := netlab.WaitUDP(ctx, srv, 5610); err != nil {
		b.Fatal(err)
	}
	if _, err := ing.Run(ctx, "ip", "addr", "add", netip.PrefixFrom(ingressBenchWaypoint, netlab.DefaultInternet4.Bits()).String(), "dev", netlab.Uplink); err != nil {
		b.Fatal(err)
	}
	dirs, keys := map[string]string{}, map[string]string{}
	for _, h := range []string{"ing", "home"} {
		dirs[h] = b.TempDir()
		keys[h] = benchIdentity(b, bin, dirs[h])
	}
	run(b, bin, "book", "add", "home", keys["home"], "--state-dir", dirs["ing"])
	run(b, bin, "book", "add", "ing", keys["ing"], "--state-dir", dirs["home"])
	for _, port := range []string{"80", "5201"} {
		run(b, bin, "publish", "add", "ing", "home", port, "--state-dir", dirs["home"])
	}
	conf := filepath.Join(dirs["ing"], "ingress.toml")
	writeBenchFile(b, conf, fmt.Sprintf(ingressBenchConf, srvAddr, ing.Addr4(), ingressBenchWaypoint))
	mustStart(b, ing, bin, "ingress", "--config", conf, "--state-dir", dirs["ing"], "--log-level", "warn")
	mustStart(b, home, bin, "proxy", "--server", srvAddr, "--state-dir", dirs["home"], "--log-level", "warn")
	startBenchNginx(b, ctx, home)
	mustStart(b, home, "iperf3", "-s", "-p", "5201")
	if err := netlab.WaitListen(ctx, home, "tcp", 5201); err != nil {
		b.Fatal(err)
	}
	if err := legacy.SetResolvConf(fmt.Sprintf("nameserver %s\noptions timeout:2 attempts:2\n", ing.Addr4())); err != nil {
		b.Fatal(err)
	}
	// Published, and the session ingress–home up: one request through.
	if err := netlab.Poll(ctx, 100*time.Millisecond, func() error {
		_, err := legacy.Run(ctx, "curl", "-sS", "--fail", "-m", "5", "http://home.i3.example.net/")
		return err
	}); err != nil {
		b.Fatalf("home.i3.example.net never answered through the ingress: %v", err)
	}
	return ingLab{legacy: legacy, home: home}
}

// ingressBenchConf: %[1]s the overlay server, %[2]s the ingress's DNS
// address, %[3]s its waypoint.
const ingressBenchConf = `servers = [%[1]q]
zone = "i3.example.net"
dns_listen = ["%[2]s:53"]
waypoints = ["%[3]s"]
client_rate = 1000000.0
client_burst = 1000000
dns_rate = 1000000.0
dns_burst = 1000000
tun = "i3ing0"
[[nameserver]]
name = "ns1.i3.example.net"
addresses = ["%[2]s"]
`

// startBenchNginx runs nginx in h on port 80 serving a 1 KiB page, no
// access log.
func startBenchNginx(b *testing.B, ctx context.Context, h *netlab.Host) {
	dir := b.TempDir()
	for _, d := range []string{"tmp", "www"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	page := make([]byte, 1024)
	for i := range page {
		page[i] = 'a' + byte(i%26)
	}
	writeBenchFile(b, filepath.Join(dir, "www", "index.html"), string(page))
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 1000000;
	client_body_temp_path %[1]s/tmp/body;
	proxy_temp_path %[1]s/tmp/proxy;
	fastcgi_temp_path %[1]s/tmp/fastcgi;
	server { listen 80; root %[1]s/www; }
}
`, dir)
	writeBenchFile(b, filepath.Join(dir, "nginx.conf"), conf)
	mustStart(b, h, "/usr/sbin/nginx", "-e", "stderr", "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	if err := netlab.WaitListen(ctx, h, "tcp", 80); err != nil {
		b.Fatal(err)
	}
}

// httpRate sends GET / with Host home.i3.example.net from h to addr with
// ingressWorkers workers for d and returns the rate of successful requests
// (status 200, whole body read). Each request opens a new connection unless
// keepAlive.
func httpRate(b *testing.B, ctx context.Context, h *netlab.Host, addr netip.AddrPort, keepAlive bool, d time.Duration) float64 {
	tr := &http.Transport{
		DisableKeepAlives:   !keepAlive,
		MaxIdleConnsPerHost: ingressWorkers,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return h.Dial(ctx, "tcp", addr)
		},
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var done, failed atomic.Int64
	var firstErr atomic.Value
	end := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range ingressWorkers {
		wg.Go(func() {
			for time.Now().Before(end) && ctx.Err() == nil {
				if err := getPage(ctx, client, addr); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if f := failed.Load(); f > done.Load()/100 {
		b.Fatalf("%d of %d requests to %v failed, the first: %v", f, f+done.Load(), addr, firstErr.Load())
	}
	return float64(done.Load()) / took.Seconds()
}

// getPage does one GET of http://home.i3.example.net/ through client.
func getPage(ctx context.Context, client *http.Client, addr netip.AddrPort) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr.String()+"/", nil)
	if err != nil {
		return err
	}
	req.Host = "home.i3.example.net"
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || n != 1024 {
		return fmt.Errorf("status %d, %d bytes", resp.StatusCode, n)
	}
	return nil
}
