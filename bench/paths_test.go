package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
	"github.com/i3net/i3net/internal/testrun"
)

// BenchmarkPaths compares, in one run, TCP throughput (iperf3, 10 s), the
// rate of 64-byte UDP packets and the round trip (ping) over the direct veth
// path, over the overlay relay (laptop → server → home, home behind a NAT)
// and over a shortcut (laptop → office, both on the "internet" bridge and
// allowing shortcuts in their address books, §5.2), and reports each overlay
// figure as a ratio to the direct one. All overlay paths are encrypted. Run it once:
// go test -run '^$' -bench Paths -benchtime 1x ./bench/ (bench/run does).
func BenchmarkPaths(b *testing.B) {
	pl := newPathsLab(b, "iperf3", "ping")
	ctx, laptop, secs := pl.ctx, pl.laptop, pl.secs
	direct := pl.direct
	shortcutSent := pl.shortcutSent

	type result struct{ tcp, udp, rtt float64 }
	measure := func(target string) result {
		var r result
		out, err := laptop.Run(ctx, "iperf3", "-c", target, "-p", "5201", "-t", strconv.Itoa(secs), "-J")
		if err != nil {
			b.Fatalf("iperf3 tcp to %s: %v", target, err)
		}
		r.tcp = iperfBits(b, out, "sum_received")
		out, err = laptop.Run(ctx, "iperf3", "-c", target, "-p", "5201", "-u", "-l", "64", "-b", "0", "-t", strconv.Itoa(max(2, secs/2)), "-J")
		if err != nil {
			b.Fatalf("iperf3 udp to %s: %v", target, err)
		}
		r.udp = iperfPackets(b, out)
		out, err = laptop.Run(ctx, "ping", "-c", "20", "-i", "0.05", "-q", target)
		if err != nil {
			b.Fatalf("ping %s: %v", target, err)
		}
		r.rtt = pingAvg(b, out)
		return r
	}
	b.ResetTimer()
	d := measure(direct.Addr4().String())
	o := measure("home.i3")
	before := shortcutSent(b)
	sc := measure("office.i3")
	straight := shortcutSent(b) - before
	b.StopTimer()
	if straight == 0 {
		b.Fatal("the shortcut path sent nothing straight to office: the overlay carried it")
	}
	b.ReportMetric(d.tcp/1e9, "direct-Gb/s")
	b.ReportMetric(o.tcp/1e9, "relay-Gb/s")
	b.ReportMetric(o.tcp/d.tcp, "relay/direct-tcp")
	b.ReportMetric(d.udp, "direct-udp64-pkt/s")
	b.ReportMetric(o.udp, "relay-udp64-pkt/s")
	b.ReportMetric(o.udp/d.udp, "relay/direct-udp64")
	b.ReportMetric(d.rtt, "direct-rtt-ms")
	b.ReportMetric(o.rtt, "relay-rtt-ms")
	b.ReportMetric(sc.tcp/1e9, "shortcut-Gb/s")
	b.ReportMetric(sc.tcp/d.tcp, "shortcut/direct-tcp")
	b.ReportMetric(sc.udp/d.udp, "shortcut/direct-udp64")
	b.ReportMetric(sc.rtt, "shortcut-rtt-ms")
	fmt.Fprintf(os.Stderr, "\npath            TCP Gb/s   ratio   UDP 64B pkt/s   ratio   RTT ms\n")
	fmt.Fprintf(os.Stderr, "direct veth     %8.2f   1.00    %13.0f   1.00    %.3f\n", d.tcp/1e9, d.udp, d.rtt)
	fmt.Fprintf(os.Stderr, "overlay relay   %8.2f   %.2f    %13.0f   %.2f    %.3f\n", o.tcp/1e9, o.tcp/d.tcp, o.udp, o.udp/d.udp, o.rtt)
	fmt.Fprintf(os.Stderr, "shortcut        %8.2f   %.2f    %13.0f   %.2f    %.3f   (%d packets sent straight to office)\n",
		sc.tcp/1e9, sc.tcp/d.tcp, sc.udp, sc.udp/d.udp, sc.rtt, straight)
}

// pathsLab is the world of BenchmarkPaths and BenchmarkPerf: a server, a
// laptop, home behind a cone NAT (reached through the relay), office on the
// "internet" bridge (reached by a shortcut) and direct, a plain host for the
// direct path; iperf3 servers listen on home, direct and office.
type pathsLab struct {
	ctx                               context.Context
	lab                               *netlabtest.Lab
	bin                               string
	secs                              int
	srv, laptop, direct, home, office *netlab.Host
	dirs                              map[string]string
	procs                             map[string]*netlab.Proc // "srv", "laptop", "home", "office": the overlay's processes
}

// newPathsLab builds the world, starts the overlay and sets the sessions
// (and the shortcut) up; it skips b unless tools are installed.
func newPathsLab(b *testing.B, tools ...string) *pathsLab {
	lab, bin, secs := setUp(b, tools...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	b.Cleanup(cancel)
	pl := &pathsLab{ctx: ctx, lab: lab, bin: bin, secs: secs, srv: lab.Host("srv"), laptop: lab.Host("laptop"),
		direct: lab.Host("direct"), dirs: map[string]string{}, procs: map[string]*netlab.Proc{}}
	nat := lab.NATHost("nat", netip.MustParsePrefix("192.168.1.0/24"), netlab.NATCone)
	pl.home = nat.Inside("home")
	pl.office = lab.Host("office")
	srvAddr := netip.AddrPortFrom(pl.srv.Addr4(), 5610).String()
	pl.procs["srv"] = mustStartProc(b, pl.srv, bin, "server", "--listen", srvAddr, "--log-level", "warn")
	if err := netlab.WaitUDP(ctx, pl.srv, 5610); err != nil {
		b.Fatal(err)
	}
	keys := map[string]string{}
	for _, h := range []string{"laptop", "home", "office"} {
		pl.dirs[h] = b.TempDir()
		keys[h] = benchIdentity(b, bin, pl.dirs[h])
	}
	run(b, bin, "book", "add", "home", keys["home"], "--state-dir", pl.dirs["laptop"])
	run(b, bin, "book", "add", "laptop", keys["laptop"], "--state-dir", pl.dirs["home"])
	run(b, bin, "book", "add", "office", keys["office"], "--shortcut", "--state-dir", pl.dirs["laptop"])
	run(b, bin, "book", "add", "laptop", keys["laptop"], "--shortcut", "--state-dir", pl.dirs["office"])
	for _, h := range []*netlab.Host{pl.laptop, pl.home, pl.office} {
		pl.procs[h.Name()] = mustStartProc(b, h, bin, "proxy", "--server", srvAddr, "--state-dir", pl.dirs[h.Name()], "--log-level", "warn")
	}
	for _, h := range []*netlab.Host{pl.laptop, pl.home, pl.office} {
		if err := netlab.Poll(ctx, 50*time.Millisecond, func() error {
			_, err := h.Run(ctx, bin, "status", "--state-dir", pl.dirs[h.Name()])
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	for _, h := range []*netlab.Host{pl.home, pl.direct, pl.office} {
		mustStart(b, h, "iperf3", "-s", "-p", "5201")
		if err := netlab.WaitListen(ctx, h, "tcp", 5201); err != nil {
			b.Fatal(err)
		}
	}
	for _, name := range []string{"home.i3", "office.i3"} {
		if _, err := pl.laptop.Run(ctx, "ping", "-c", "3", "-i", "0.2", "-W", "2", name); err != nil {
			b.Fatal(err) // sets the session (and the shortcut) up
		}
	}
	return pl
}

// shortcutSent is the laptop's count of packets sent straight to a peer.
func (pl *pathsLab) shortcutSent(b *testing.B) uint64 {
	out, err := pl.laptop.Run(pl.ctx, pl.bin, "status", "--json", "--state-dir", pl.dirs["laptop"])
	if err != nil {
		b.Fatal(err)
	}
	var st struct{ Counters map[string]uint64 }
	if err := json.Unmarshal(out, &st); err != nil {
		b.Fatal(err)
	}
	return st.Counters["client_shortcut_sent"]
}

// setUp skips b unless the tools are installed and a lab can be built here,
// and returns the lab, the i3net binary and the seconds each iperf3 run
// lasts ($I3NET_BENCH_SECONDS, default 10).
func setUp(b *testing.B, tools ...string) (*netlabtest.Lab, string, int) {
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("bench: %s is not installed (scripts/deps installs it)", tool)
		}
	}
	secs := 10
	if s := os.Getenv("I3NET_BENCH_SECONDS"); s != "" {
		secs, _ = strconv.Atoi(s)
	}
	return netlabtest.New(b), buildI3net(b), secs
}

// buildI3net builds the i3net binary into a temporary directory, unless
// $I3NET_BENCH_BIN names one to use instead (another commit's, for figures
// before and after a change in one sitting).
func buildI3net(tb testing.TB) string {
	if bin := os.Getenv("I3NET_BENCH_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(tb.TempDir(), "i3net")
	cmd := exec.Command(testrun.GoTool(tb), "build", "-o", bin, "github.com/i3net/i3net/cmd/i3net")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build i3net: %v\n%s", err, out)
	}
	return bin
}

func mustStart(b *testing.B, h *netlab.Host, name string, args ...string) {
	mustStartProc(b, h, name, args...)
}

func mustStartProc(b *testing.B, h *netlab.Host, name string, args ...string) *netlab.Proc {
	p, err := h.Start(name, args...)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func run(b *testing.B, name string, args ...string) {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		b.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func iperfBits(b *testing.B, out []byte, key string) float64 {
	var v struct {
		End map[string]json.RawMessage `json:"end"`
	}
	var sum struct {
		BitsPerSecond float64 `json:"bits_per_second"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		b.Fatalf("iperf3 output: %v", err)
	}
	if err := json.Unmarshal(v.End[key], &sum); err != nil {
		b.Fatalf("iperf3 output, end.%s: %v", key, err)
	}
	return sum.BitsPerSecond
}

func iperfPackets(b *testing.B, out []byte) float64 {
	var v struct {
		End struct {
			Sum struct {
				Packets     float64 `json:"packets"`
				LostPackets float64 `json:"lost_packets"`
				Seconds     float64 `json:"seconds"`
			} `json:"sum"`
		} `json:"end"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		b.Fatalf("iperf3 output: %v", err)
	}
	s := v.End.Sum
	if s.Seconds == 0 {
		return 0
	}
	return (s.Packets - s.LostPackets) / s.Seconds
}

var pingRTT = regexp.MustCompile(`= [0-9.]+/([0-9.]+)/`)

func pingAvg(b *testing.B, out []byte) float64 {
	m := pingRTT.FindSubmatch(out)
	if m == nil {
		b.Fatalf("ping output: %s", out)
	}
	v, _ := strconv.ParseFloat(strings.TrimSpace(string(m[1])), 64)
	return v
}
