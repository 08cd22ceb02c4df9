package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
	"github.com/i3net/i3net/proxy"
)

// gatewayLookups is how many names each lookup figure is the median of.
const gatewayLookups = 50

// BenchmarkGateway compares, in one run, a name lookup through an i3-to-IP
// gateway (laptop asks its proxy for a name under corp.example; the proxy
// asks the gateway, which asks the intranet's dnsmasq) with the same lookup
// made directly (from the gateway's namespace to dnsmasq), and TCP
// throughput (iperf3) laptop → gateway → intranet host with the direct path
// gateway namespace → intranet host; it reports each as a ratio. Every
// lookup asks a new name (dnsmasq answers all of corp.example), so none is
// answered from a cache. Run it once:
// go test -run '^$' -bench Gateway -benchtime 1x ./bench/ (bench/run does).
func BenchmarkGateway(b *testing.B) {
	lab, bin, secs := setUp(b, "iperf3", "/usr/sbin/dnsmasq")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	gl := gatewayLab(b, ctx, lab, bin)
	laptop, gwHost, wiki := gl.laptop, gl.gw, gl.wiki

	mustStart(b, wiki, "iperf3", "-s", "-p", "5201")
	if err := netlab.WaitListen(ctx, wiki, "tcp", 5201); err != nil {
		b.Fatal(err)
	}
	// The first lookup and connection set the session to the gateway up.
	if _, err := laptop.Run(ctx, "iperf3", "-c", "wiki.corp.example", "-p", "5201", "-t", "1"); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	direct := medianLookup(b, gwHost, netip.AddrPortFrom(netip.MustParseAddr("10.1.0.53"), 53), "d")
	through := medianLookup(b, laptop, netip.AddrPortFrom(gl.dns, 53), "g")
	tcp := func(h *netlab.Host, target string) float64 {
		out, err := h.Run(ctx, "iperf3", "-c", target, "-p", "5201", "-t", strconv.Itoa(secs), "-J")
		if err != nil {
			b.Fatalf("iperf3 to %s from %s: %v", target, h.Name(), err)
		}
		return iperfBits(b, out, "sum_received")
	}
	directTCP := tcp(gwHost, "10.1.0.10")
	gatewayTCP := tcp(laptop, "wiki.corp.example")
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(direct), "direct-lookup-ms")
	b.ReportMetric(ms(through), "gateway-lookup-ms")
	b.ReportMetric(ms(through)/ms(direct), "gateway/direct-lookup")
	b.ReportMetric(directTCP/1e9, "direct-Gb/s")
	b.ReportMetric(gatewayTCP/1e9, "gateway-Gb/s")
	b.ReportMetric(gatewayTCP/directTCP, "gateway/direct-tcp")
	fmt.Fprintf(os.Stderr, "\npath                                  lookup ms (median of %d)   TCP Gb/s\n", gatewayLookups)
	fmt.Fprintf(os.Stderr, "direct (gateway ns → intranet)        %8.3f                   %8.2f\n", ms(direct), directTCP/1e9)
	fmt.Fprintf(os.Stderr, "through the gateway (laptop → ...)    %8.3f (x%.2f)           %8.2f (ratio %.2f)\n",
		ms(through), ms(through)/ms(direct), gatewayTCP/1e9, gatewayTCP/directTCP)
}

// gwLab is the gateway's benchmark lab: laptop runs a proxy whose DNS
// server is at dns, gw the gateway, wiki the intranet's iperf3 server.
type gwLab struct {
	laptop, gw, wiki *netlab.Host
	dns              netip.Addr
}

// gatewayLab builds srv (overlay server), laptop (proxy with the rule
// *.corp.example → office-gw) and the intranet 10.1.0.0/24 behind gw
// (running i3net gateway), with wiki at 10.1.0.10 and dnsmasq at 10.1.0.53
// answering every name under corp.example with 10.1.0.10, and returns once
// everything answers.
func gatewayLab(b *testing.B, ctx context.Context, lab *netlabtest.Lab, bin string) gwLab {
	srv := lab.Host("srv")
	laptop := lab.Host("laptop")
	gwNAT := lab.NATHost("gw", netip.MustParsePrefix("10.1.0.0/24"), netlab.NATNone)
	wiki := gwNAT.InsideAt("wiki", netip.MustParseAddr("10.1.0.10"))
	dns := gwNAT.InsideAt("dns", netip.MustParseAddr("10.1.0.53"))

	srvAddr := netip.AddrPortFrom(srv.Addr4(), 5610).String()
	mustStart(b, srv, bin, "server", "--listen", srvAddr, "--log-level", "warn")
	mustStart(b, dns, "/usr/sbin/dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
		"--user=root", "--pid-file="+filepath.Join(b.TempDir(), "dnsmasq.pid"), "--listen-address=10.1.0.53",
		"--bind-interfaces", "--cache-size=0", "--address=/corp.example/10.1.0.10")
	if err := netlab.WaitUDP(ctx, srv, 5610); err != nil {
		b.Fatal(err)
	}
	if err := netlab.WaitUDP(ctx, dns, 53); err != nil {
		b.Fatal(err)
	}
	dirs, keys := map[string]string{}, map[string]string{}
	for _, h := range []string{"laptop", "gw"} {
		dirs[h] = b.TempDir()
		keys[h] = benchIdentity(b, bin, dirs[h])
	}
	run(b, bin, "book", "add", "office-gw", keys["gw"], "--state-dir", dirs["laptop"])
	run(b, bin, "book", "add", "laptop", keys["laptop"], "--state-dir", dirs["gw"])
	gwConf := filepath.Join(dirs["gw"], "gateway.toml")
	writeBenchFile(b, gwConf, fmt.Sprintf("servers = [%q]\nserve_names = [\"*.corp.example\"]\nserve_cidrs = [\"10.1.0.0/24\"]\nresolvers = [\"10.1.0.53:53\"]\n", srvAddr))
	pxConf := filepath.Join(dirs["laptop"], "proxy.toml")
	writeBenchFile(b, pxConf, "[[rule]]\nmatch = \"*.corp.example\"\nvia = \"office-gw\"\n")
	mustStart(b, gwNAT.Host, bin, "gateway", "--state-dir", dirs["gw"], "--config", gwConf, "--log-level", "warn")
	mustStart(b, laptop, bin, "proxy", "--server", srvAddr, "--state-dir", dirs["laptop"], "--config", pxConf, "--log-level", "warn")
	var st proxy.Status
	for _, h := range []*netlab.Host{gwNAT.Host, laptop} {
		if err := netlab.Poll(ctx, 50*time.Millisecond, func() error {
			out, err := h.Run(ctx, bin, "status", "--json", "--state-dir", dirs[h.Name()])
			if err != nil {
				return err
			}
			return json.Unmarshal(out, &st)
		}); err != nil {
			b.Fatal(err)
		}
	}
	return gwLab{laptop: laptop, gw: gwNAT.Host, wiki: wiki, dns: st.Self.DNS}
}

// medianLookup asks server, from inside h, for gatewayLookups new names
// (<tag><i>-<time>.corp.example, type A) one after the other, and returns
// the median time from sending a query to reading its answer, which must
// hold an address.
func medianLookup(b *testing.B, h *netlab.Host, server netip.AddrPort, tag string) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := h.Dial(ctx, "udp", server)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	c := &mdns.Client{Net: "udp", Timeout: 3 * time.Second}
	dc := &mdns.Conn{Conn: conn}
	stamp := time.Now().UnixNano()
	var times []time.Duration
	for i := range gatewayLookups {
		m := new(mdns.Msg)
		m.SetQuestion(fmt.Sprintf("%s%d-%d.corp.example.", tag, i, stamp), mdns.TypeA)
		r, rtt, err := c.ExchangeWithConnContext(ctx, m, dc)
		if err != nil {
			b.Fatalf("lookup from %s at %v: %v", h.Name(), server, err)
		}
		if r.Rcode != mdns.RcodeSuccess || len(r.Answer) == 0 {
			b.Fatalf("lookup from %s at %v of %s: %s, %d answers", h.Name(), server, m.Question[0].Name, mdns.RcodeToString[r.Rcode], len(r.Answer))
		}
		times = append(times, rtt)
	}
	slices.Sort(times)
	return times[len(times)/2]
}

func writeBenchFile(b *testing.B, path, text string) {
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		b.Fatal(err)
	}
}
