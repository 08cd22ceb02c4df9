package bench

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
)

// BenchmarkDNS measures, over the world of BenchmarkPaths, how many answers
// per second the laptop's proxy gives for names its address book knows
// (home.i3 and office.i3, A and AAAA), asked by dnsperf in the laptop's
// namespace of the proxy's DNS service address, through the tun device; and,
// in the same rounds, the same queries of dnsmasq on the laptop's own
// address (no query log), the baseline; for each, answers/s, lost queries
// and the server's CPU time per answer (from /proc). Rounds ($I3NET_BENCH_ROUNDS, default
// 1) interleave the two; each figure is the median of the rounds; each
// dnsperf run lasts $I3NET_BENCH_SECONDS (default 10). $I3NET_BENCH_DNSPERF
// replaces dnsperf's load options (default dnsPerfLoad). bench/run runs it.
func BenchmarkDNS(b *testing.B) {
	pl := newPathsLab(b, "dnsperf", "dig", "iperf3", "ping")
	proxyDNS := pl.laptopDNS(b)
	queries := writeDNSQueries(b)
	baseline, dnsmasq := pl.startDNSBaseline(b, proxyDNS)
	targets := []dnsTarget{{name: "dnsmasq", addr: baseline, proc: dnsmasq}, {name: "i3net", addr: proxyDNS, proc: pl.procs["laptop"]}}
	load := strings.Fields(dnsPerfLoad)
	if s := os.Getenv("I3NET_BENCH_DNSPERF"); s != "" {
		load = strings.Fields(s)
	}
	pl.holdWhile(b, os.Getenv("I3NET_BENCH_HOLD"))
	rounds := benchRounds(b)
	results := make([][]dnsResult, len(targets))
	b.ResetTimer()
	for range rounds {
		for i, t := range targets {
			results[i] = append(results[i], pl.dnsperf(b, t, queries, load))
		}
	}
	b.StopTimer()
	reportDNS(b, targets, results, strings.Join(load, " "))
}

// dnsPerfLoad is dnsperf's default load: two sending threads of two sockets
// each, up to 200 queries outstanding, no rate limit (what pushed hardest on
// the 2-core bench machine).
const dnsPerfLoad = "-T 2 -c 4 -q 200"

// dnsTarget is a DNS server dnsperf asks.
type dnsTarget struct {
	name string
	addr netip.Addr
	proc *netlab.Proc // the server's process, whose CPU time an answer costs
}

// dnsResult is one dnsperf run's figures.
type dnsResult struct {
	qps             float64 // "Queries per second": answers received per second
	sent, completed float64
	lost            float64
	cpuPerAnswer    float64 // µs of the server's CPU time (user + system) per answer
}

// laptopDNS returns the laptop proxy's DNS service address (status --json).
func (pl *pathsLab) laptopDNS(b *testing.B) netip.Addr {
	out := pl.laptopRun(b, pl.bin, "status", "--json", "--state-dir", pl.dirs["laptop"])
	var st struct{ Self struct{ DNS netip.Addr } }
	if err := json.Unmarshal(out, &st); err != nil || !st.Self.DNS.IsValid() {
		b.Fatalf("laptop status: no DNS address (%v): %s", err, out)
	}
	return st.Self.DNS
}

// dnsNames are the names of the laptop's address book the queries ask for.
var dnsNames = []string{"home.i3", "office.i3"}

// writeDNSQueries writes dnsperf's query file: A and AAAA of each known name.
func writeDNSQueries(b *testing.B) string {
	var sb strings.Builder
	for _, n := range dnsNames {
		fmt.Fprintf(&sb, "%s A\n%s AAAA\n", n, n)
	}
	file := filepath.Join(b.TempDir(), "queries")
	if err := os.WriteFile(file, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return file
}

// startDNSBaseline starts dnsmasq on the laptop's own address with the
// records the proxy gives for dnsNames (asked of proxyDNS with dig), so both
// servers give answers of the same shape, and returns its address and
// process. Unlike
// netlab's StartDNS it logs no queries: logging would make it the slower one
// for a reason of its own.
func (pl *pathsLab) startDNSBaseline(b *testing.B, proxyDNS netip.Addr) (netip.Addr, *netlab.Proc) {
	bin, err := netlab.Dnsmasq()
	if err != nil {
		b.Skip(err)
	}
	listen := pl.laptop.Addr4()
	args := []string{"--no-daemon", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--user=root",
		"--pid-file=" + filepath.Join(b.TempDir(), "dnsmasq.pid"),
		"--listen-address=" + listen.String(), "--bind-interfaces", "--local=/i3/"}
	for _, n := range dnsNames {
		rec := n
		for _, t := range []string{"A", "AAAA"} {
			out := strings.TrimSpace(string(pl.laptopRun(b, "dig", "+short", "@"+proxyDNS.String(), n, t)))
			if out != "" {
				rec += "," + out
			}
		}
		if rec == n {
			b.Fatalf("the proxy gives no address for %s", n)
		}
		args = append(args, "--host-record="+rec)
	}
	p := mustStartProc(b, pl.laptop, bin, args...)
	if err := netlab.WaitUDP(pl.ctx, pl.laptop, 53); err != nil {
		b.Fatal(err)
	}
	return listen, p
}

var dnsperfField = regexp.MustCompile(`(?m)^\s*(Queries sent|Queries completed|Queries lost|Queries per second):\s+([0-9.]+)`)

// dnsperf runs dnsperf from the laptop against t with the query file and
// the load options, for pl.secs seconds, and returns its figures.
func (pl *pathsLab) dnsperf(b *testing.B, t dnsTarget, queries string, load []string) dnsResult {
	args := append([]string{"-s", t.addr.String(), "-d", queries, "-l", strconv.Itoa(pl.secs)}, load...)
	cpu0 := procCPU(b, t.proc.PID())
	out := pl.laptopRun(b, "dnsperf", args...)
	cpu := procCPU(b, t.proc.PID()) - cpu0
	var r dnsResult
	for _, m := range dnsperfField.FindAllStringSubmatch(string(out), -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		switch m[1] {
		case "Queries sent":
			r.sent = v
		case "Queries completed":
			r.completed = v
		case "Queries lost":
			r.lost = v
		case "Queries per second":
			r.qps = v
		}
	}
	if r.completed == 0 {
		b.Fatalf("dnsperf %s: no answers:\n%s", strings.Join(args, " "), out)
	}
	r.cpuPerAnswer = cpu / r.completed * 1e6
	return r
}

// reportDNS prints the medians (ratios to the baseline, targets[0]) and
// reports the proxy's answers/s and ratio as metrics.
func reportDNS(b *testing.B, targets []dnsTarget, results [][]dnsResult, load string) {
	med := make([]dnsResult, len(targets))
	for i, rs := range results {
		med[i] = medianDNS(rs)
	}
	avg, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(os.Stderr, "\n%s, dnsperf %s, medians of %d round(s); load average %s",
		time.Now().UTC().Format(time.DateTime), load, len(results[0]), avg)
	fmt.Fprintf(os.Stderr, "%-9s %-15s %12s %7s %12s %8s %11s  %s\n", "server", "address", "answers/s", "ratio", "sent", "lost", "CPU µs/ans", "rounds (answers/s)")
	for i, t := range targets {
		r := med[i]
		var each []string
		for _, x := range results[i] {
			each = append(each, fmt.Sprintf("%.0f", x.qps))
		}
		fmt.Fprintf(os.Stderr, "%-9s %-15s %12.0f %7.2f %12.0f %8.0f %11.2f  %s\n",
			t.name, t.addr, r.qps, r.qps/med[0].qps, r.sent, r.lost, r.cpuPerAnswer, strings.Join(each, " "))
	}
	last := len(targets) - 1
	b.ReportMetric(med[last].qps, "answers/s")
	b.ReportMetric(med[last].lost, "lost")
	b.ReportMetric(med[last].qps/med[0].qps, "i3net/dnsmasq")
	b.ReportMetric(med[last].cpuPerAnswer, "cpu-µs/answer")
}

// medianDNS takes each figure's median over rs.
func medianDNS(rs []dnsResult) dnsResult {
	med := func(get func(dnsResult) float64) float64 { return medianOf(rs, get) }
	return dnsResult{
		qps:          med(func(r dnsResult) float64 { return r.qps }),
		sent:         med(func(r dnsResult) float64 { return r.sent }),
		completed:    med(func(r dnsResult) float64 { return r.completed }),
		lost:         med(func(r dnsResult) float64 { return r.lost }),
		cpuPerAnswer: med(func(r dnsResult) float64 { return r.cpuPerAnswer }),
	}
}
