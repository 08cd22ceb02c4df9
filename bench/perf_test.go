package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
)

// BenchmarkPerf measures what issue 16 asks of the data path, in one sitting,
// over the world of BenchmarkPaths: per path (the direct veth path, the
// overlay relay, a shortcut, and wireguard-go between laptop and direct when
// $WG_GO names its binary) TCP with one and four streams, UDP at 200 Mb/s and
// 1 Gb/s offered (1200-byte datagrams, which fit every path's MTU) with the
// loss, 64-byte UDP packets/s, the round trip idle and under a bulk transfer,
// the CPU time of the path's own processes per GB carried (from /proc), and
// how idle the machine's cores were during the four streams. Rounds
// ($I3NET_BENCH_ROUNDS, default 1) interleave the paths; each figure is the
// median of the rounds. bench/run runs it.
func BenchmarkPerf(b *testing.B) {
	pl := newPathsLab(b, "iperf3", "ping")
	paths := []perfPath{
		{name: "direct", target: pl.direct.Addr4().String()},
		{name: "relay", target: "home.i3", procs: []*netlab.Proc{pl.procs["laptop"], pl.procs["home"], pl.procs["srv"]}},
		{name: "shortcut", target: "office.i3", procs: []*netlab.Proc{pl.procs["laptop"], pl.procs["office"]}},
	}
	if wg := os.Getenv("WG_GO"); wg != "" {
		paths = append(paths, wireguardPath(b, pl, wg))
	}
	paths = onlyPaths(b, paths, os.Getenv("I3NET_BENCH_PATHS"))
	pl.holdWhile(b, os.Getenv("I3NET_BENCH_HOLD"))
	rounds := benchRounds(b)
	results := make([][]perfResult, len(paths))
	b.ResetTimer()
	for range rounds {
		for i, p := range paths {
			results[i] = append(results[i], pl.measurePerf(b, p))
		}
	}
	b.StopTimer()
	med := make([]perfResult, len(paths))
	for i := range paths {
		med[i] = medianPerf(results[i])
	}
	reportPerf(b, paths, med, rounds)
}

// benchRounds is $I3NET_BENCH_ROUNDS, the interleaved rounds of a sitting
// (default 1).
func benchRounds(b *testing.B) int {
	s := os.Getenv("I3NET_BENCH_ROUNDS")
	if s == "" {
		return 1
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("I3NET_BENCH_ROUNDS=%q: want a number of rounds, 1 or more", s)
	}
	return n
}

// onlyPaths keeps, when names (comma-separated, e.g. "relay,wg-go") is set,
// the direct path and the paths it names, for a shorter sitting or a profile
// of one path.
func onlyPaths(b *testing.B, paths []perfPath, names string) []perfPath {
	if names == "" {
		return paths
	}
	keep := strings.Split(names, ",")
	out := paths[:1]
	for _, p := range paths[1:] {
		if slices.Contains(keep, p.name) {
			out = append(out, p)
		}
	}
	if len(out) == 1 {
		b.Fatalf("I3NET_BENCH_PATHS=%q names none of relay, shortcut, wg-go (wg-go needs WG_GO)", names)
	}
	return out
}

// holdWhile, when file is set, creates it, says how to reach the lab's
// hosts, and waits (at most 30 minutes) until file is removed: the lab stays
// up for measuring or profiling by hand (perf record -a, iperf3 from the
// laptop's namespace).
func (pl *pathsLab) holdWhile(b *testing.B, file string) {
	if file == "" {
		return
	}
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		b.Fatalf("I3NET_BENCH_HOLD: %v", err)
	}
	fmt.Fprintf(os.Stderr, "lab held until %s is removed: ip netns exec %s iperf3 -c home.i3 (relay), office.i3 (shortcut), %s (direct)\n",
		file, pl.laptop.Namespace(), pl.direct.Addr4())
	for range 30 * 60 * 10 {
		if _, err := os.Stat(file); err != nil {
			return
		}
		select {
		case <-pl.ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// perfPath is one way from the laptop to an iperf3 server.
type perfPath struct {
	name   string
	target string         // iperf3's and ping's destination
	procs  []*netlab.Proc // the processes that carry the path (their CPU is its cost)
}

// perfResult is one round's figures for one path.
type perfResult struct {
	tcp1, tcp4         float64   // bits/s
	loss200, loss1g    float64   // % of datagrams lost
	pps64              float64   // 64-byte datagrams received per second
	rttIdle, rttLoaded float64   // ms
	cpuPerGB           float64   // CPU seconds of procs per GB carried by one stream
	cpuEach            []float64 // the same per process, in the order of procs
	idle4              float64   // % of the machine's CPU idle during four streams
}

// measurePerf measures every figure of p once.
func (pl *pathsLab) measurePerf(b *testing.B, p perfPath) perfResult {
	var r perfResult
	cpu0 := eachCPU(b, p.procs)
	stopProfiles := pl.profileProxies(b, p)
	bits, bytes := pl.iperfTCP(b, p.target, 1)
	stopProfiles()
	r.tcp1 = bits
	if len(p.procs) > 0 && bytes > 0 {
		for i, c := range eachCPU(b, p.procs) {
			perGB := (c - cpu0[i]) / (bytes / 1e9)
			r.cpuEach = append(r.cpuEach, perGB)
			r.cpuPerGB += perGB
		}
	}
	idle0, total0 := machineCPU(b)
	r.tcp4, _ = pl.iperfTCP(b, p.target, 4)
	idle1, total1 := machineCPU(b)
	if total1 > total0 {
		r.idle4 = 100 * (idle1 - idle0) / (total1 - total0)
	}
	r.loss200 = pl.iperfUDPLoss(b, p.target, "200M")
	pl.dumpDrops(b, p.name+" after UDP at 200M")
	r.loss1g = pl.iperfUDPLoss(b, p.target, "1G")
	out := pl.laptopRun(b, "iperf3", "-c", p.target, "-p", "5201", "-u", "-l", "64", "-b", "0", "-t", strconv.Itoa(max(2, pl.secs/2)), "-J")
	r.pps64 = iperfPackets(b, out)
	r.rttIdle = pingAvg(b, pl.laptopRun(b, "ping", "-c", "40", "-i", "0.05", "-q", p.target))
	r.rttLoaded = pl.pingUnderLoad(b, p.target)
	return r
}

// iperfTCP runs iperf3 with streams parallel streams and returns the bits/s
// and the bytes the receiver got.
func (pl *pathsLab) iperfTCP(b *testing.B, target string, streams int) (bitsPerSec, bytes float64) {
	out := pl.laptopRun(b, "iperf3", "-c", target, "-p", "5201", "-P", strconv.Itoa(streams), "-t", strconv.Itoa(pl.secs), "-J")
	var v struct {
		End struct {
			Sum struct {
				Bytes         float64 `json:"bytes"`
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		b.Fatalf("iperf3 output: %v", err)
	}
	return v.End.Sum.BitsPerSecond, v.End.Sum.Bytes
}

// iperfUDPLoss offers UDP at rate (1200-byte datagrams) and returns the % lost.
func (pl *pathsLab) iperfUDPLoss(b *testing.B, target, rate string) float64 {
	out := pl.laptopRun(b, "iperf3", "-c", target, "-p", "5201", "-u", "-l", "1200", "-b", rate, "-t", strconv.Itoa(max(2, pl.secs/2)), "-J")
	var v struct {
		End struct {
			Sum struct {
				LostPercent float64 `json:"lost_percent"`
			} `json:"sum"`
		} `json:"end"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		b.Fatalf("iperf3 output: %v", err)
	}
	return v.End.Sum.LostPercent
}

// pingUnderLoad returns the mean round trip while one TCP stream fills the path.
func (pl *pathsLab) pingUnderLoad(b *testing.B, target string) float64 {
	bulk := pl.laptop.Exec(pl.ctx, "iperf3", "-c", target, "-p", "5201", "-t", strconv.Itoa(max(3, pl.secs/2)))
	if err := bulk.Start(); err != nil {
		b.Fatal(err)
	}
	defer bulk.Wait()
	// Let the stream ramp up first: ping's first second is skipped by
	// counting only the later replies (-c over a longer run).
	out := pl.laptopRun(b, "ping", "-c", "40", "-i", "0.05", "-q", target)
	return pingAvg(b, out)
}

func (pl *pathsLab) laptopRun(b *testing.B, name string, args ...string) []byte {
	out, err := pl.laptop.Run(pl.ctx, name, args...)
	if err != nil {
		b.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return out
}

// eachCPU returns the CPU seconds (user + system) each of procs has used so
// far.
func eachCPU(b *testing.B, procs []*netlab.Proc) []float64 {
	cpu := make([]float64, len(procs))
	for i, p := range procs {
		cpu[i] = procCPU(b, p.PID())
	}
	return cpu
}

// clockTicks is USER_HZ, the unit of /proc's CPU times (100 on Linux).
const clockTicks = 100

func procCPU(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("process %d: %v", pid, err)
	}
	// The fields after the command name (which may hold spaces) end at ")".
	rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
	f := strings.Fields(rest)
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / clockTicks
}

// machineCPU returns the machine's idle and total CPU time so far, in ticks.
func machineCPU(b *testing.B) (idle, total float64) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		b.Fatal(err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	for i, f := range strings.Fields(line)[1:] {
		v, _ := strconv.ParseFloat(f, 64)
		total += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	return idle, total
}

// medianOf returns the median of get over rs (the upper one of an even
// count): the benchmarks' rounds.
func medianOf[T any](rs []T, get func(T) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = get(r)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// medianPerf takes each figure's median over rs.
func medianPerf(rs []perfResult) perfResult {
	med := func(get func(perfResult) float64) float64 { return medianOf(rs, get) }
	var each []float64
	for i := range rs[0].cpuEach {
		each = append(each, med(func(r perfResult) float64 { return r.cpuEach[i] }))
	}
	return perfResult{
		cpuEach: each,
		tcp1:    med(func(r perfResult) float64 { return r.tcp1 }), tcp4: med(func(r perfResult) float64 { return r.tcp4 }),
		loss200: med(func(r perfResult) float64 { return r.loss200 }), loss1g: med(func(r perfResult) float64 { return r.loss1g }),
		pps64: med(func(r perfResult) float64 { return r.pps64 }), rttIdle: med(func(r perfResult) float64 { return r.rttIdle }),
		rttLoaded: med(func(r perfResult) float64 { return r.rttLoaded }), cpuPerGB: med(func(r perfResult) float64 { return r.cpuPerGB }),
		idle4: med(func(r perfResult) float64 { return r.idle4 }),
	}
}

// reportPerf prints the table (ratios to the direct path, paths[0]) and
// reports the overlay's ratios as metrics.
func reportPerf(b *testing.B, paths []perfPath, med []perfResult, rounds int) {
	d := med[0]
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(os.Stderr, "\n%s, medians of %d round(s); load average %s", time.Now().UTC().Format(time.DateTime), rounds, load)
	fmt.Fprintf(os.Stderr, "%-9s %13s %13s %9s %9s %11s %9s %9s %11s %7s\n",
		"path", "TCP×1 Gb/s", "TCP×4 Gb/s", "loss@200M", "loss@1G", "UDP64 pkt/s", "RTT ms", "RTT load", "CPU s/GB", "idle×4")
	for i, p := range paths {
		r := med[i]
		cpu := "-"
		if len(p.procs) > 0 {
			cpu = fmt.Sprintf("%.2f", r.cpuPerGB)
		}
		fmt.Fprintf(os.Stderr, "%-9s %6.2f (%.2f) %6.2f (%.2f) %8.1f%% %8.1f%% %6.0f (%.2f) %9.3f %9.3f %11s %6.0f%%\n",
			p.name, r.tcp1/1e9, r.tcp1/d.tcp1, r.tcp4/1e9, r.tcp4/d.tcp4, r.loss200, r.loss1g,
			r.pps64, r.pps64/d.pps64, r.rttIdle, r.rttLoaded, cpu, r.idle4)
		if i == 0 {
			continue
		}
		b.ReportMetric(r.tcp1/d.tcp1, p.name+"/direct-tcp1")
		b.ReportMetric(r.tcp4/d.tcp4, p.name+"/direct-tcp4")
		b.ReportMetric(r.loss1g-d.loss1g, p.name+"-extra-loss1G-%")
		b.ReportMetric(r.rttLoaded-d.rttLoaded, p.name+"-extra-rtt-load-ms")
		if len(p.procs) > 0 {
			b.ReportMetric(r.cpuPerGB, p.name+"-cpu-s/GB")
		}
	}
	reportCPUEach(paths, med)
}

// reportCPUEach prints, per path, each process's CPU seconds per GB of the
// one-stream run: where a path's CPU goes.
func reportCPUEach(paths []perfPath, med []perfResult) {
	fmt.Fprintln(os.Stderr, "CPU s/GB per process (one stream):")
	for i, p := range paths {
		if len(p.procs) == 0 || len(med[i].cpuEach) != len(p.procs) {
			continue
		}
		var parts []string
		for j, proc := range p.procs {
			parts = append(parts, fmt.Sprintf("%s's %s %.2f", proc.Host().Name(), procKind(proc), med[i].cpuEach[j]))
		}
		fmt.Fprintf(os.Stderr, "  %-9s %s\n", p.name, strings.Join(parts, ", "))
	}
}

// procKind is the program a path's process runs, as its command line says
// ("proxy", "server", "wireguard-go").
func procKind(p *netlab.Proc) string {
	_, line, _ := strings.Cut(p.String(), ": ")
	f := strings.Fields(line)
	if len(f) == 0 {
		return "?"
	}
	if base := filepath.Base(f[0]); !strings.HasPrefix(base, "i3net") || len(f) < 2 {
		return base
	}
	return f[1]
}

// wireguardPath starts wireguard-go (the binary bin) on the laptop and on
// direct, configures the tunnel over its UAPI socket (no wg tool needed) with
// 10.77.0.1 and 10.77.0.2, and returns the path through it.
func wireguardPath(b *testing.B, pl *pathsLab, bin string) perfPath {
	if _, err := exec.LookPath(bin); err != nil {
		b.Fatalf("WG_GO=%s: %v (build one with: go build -o /tmp/wireguard-go golang.zx2c4.com/wireguard)", bin, err)
	}
	ends := []wgEnd{newWGEnd(b, pl.laptop, "wgl0", "10.77.0.1"), newWGEnd(b, pl.direct, "wgd0", "10.77.0.2")}
	var procs []*netlab.Proc
	for i, e := range ends {
		peer := ends[1-i]
		procs = append(procs, e.start(b, pl, bin, peer))
	}
	return perfPath{name: "wg-go", target: "10.77.0.2", procs: procs}
}

// dumpDrops prints, when $I3NET_BENCH_DIAG is set, where datagrams were
// dropped so far: each host's tun and UDP counters.
func (pl *pathsLab) dumpDrops(b *testing.B, when string) {
	if os.Getenv("I3NET_BENCH_DIAG") == "" {
		return
	}
	fmt.Fprintf(os.Stderr, "--- drops %s\n", when)
	for _, h := range []*netlab.Host{pl.laptop, pl.srv, pl.home, pl.office, pl.direct} {
		out, _ := h.Run(pl.ctx, "sh", "-c", "nstat -az 2>/dev/null | grep -E 'UdpRcvbufErrors|UdpSndbufErrors|Udp6RcvbufErrors|UdpInErrors' | tr -s ' ' | tr '\\n' ' '; ip -s link show i3net0 2>/dev/null | awk 'NR==4||NR==6' | tr -s ' ' | tr '\\n' ' '")
		fmt.Fprintf(os.Stderr, "%-8s %s\n", h.Name(), out)
	}
}

// profileProxies, when $I3NET_BENCH_PROFILE names a directory, takes a CPU
// profile of each proxy of p (through its control socket) while one TCP
// stream runs, into DIR/PATH-HOST.pprof (go tool pprof -top FILE); the
// function it returns waits for them.
func (pl *pathsLab) profileProxies(b *testing.B, p perfPath) func() {
	dir := os.Getenv("I3NET_BENCH_PROFILE")
	if dir == "" {
		return func() {}
	}
	var cmds []*exec.Cmd
	for _, h := range []string{"laptop", "home", "office"} {
		if !slices.Contains(p.procs, pl.procs[h]) {
			continue
		}
		out := filepath.Join(dir, p.name+"-"+h+".pprof")
		secs := strconv.Itoa(max(1, pl.secs-1))
		c := exec.CommandContext(pl.ctx, "curl", "-s", "-o", out, "--unix-socket", filepath.Join(pl.dirs[h], "proxy.sock"),
			"http://proxy/debug/pprof/profile?seconds="+secs)
		if err := c.Start(); err != nil {
			b.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	return func() {
		for _, c := range cmds {
			if err := c.Wait(); err != nil {
				b.Logf("profile %v: %v", c.Args, err)
			}
		}
	}
}
