package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
)

// mbBenchRules are the IDS's rules in the benchmark: the e2e tests' two
// (an FTP upload of eggdrop, an HTTP path), which iperf3's stream matches
// neither of: Suricata still reads, reassembles and inspects every packet.
const mbBenchRules = `alert ftp any any -> any any (msg:"FTP upload of eggdrop"; flow:to_server,established; content:"STOR"; nocase; content:"eggdrop"; distance:0; nocase; sid:3100001; rev:1;)
alert http any any -> any any (msg:"HTTP GET of /ids-probe"; flow:to_server,established; http.uri; content:"/ids-probe"; sid:3100002; rev:1;)
`

// BenchmarkMiddlebox compares, in one run, TCP throughput (iperf3, one
// stream) from laptop to three hosts behind one NAT, all over the overlay
// relay: home1 directly (no middlebox), home2 imposing a middlebox without
// an IDS, home3 imposing a middlebox that hands every packet to Suricata
// reading its IDS tun live; it reports the two middlebox figures as ratios
// to the first. Run it once:
// go test -run '^$' -bench Middlebox -benchtime 1x ./bench/ (bench/run does).
func BenchmarkMiddlebox(b *testing.B) {
	lab, bin, secs := setUp(b, "iperf3", "suricata")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ml := middleboxLab(b, ctx, lab, bin)

	tcp := func(target string) float64 {
		out, err := ml.laptop.Run(ctx, "iperf3", "-c", target, "-p", "5201", "-t", strconv.Itoa(secs), "-J")
		if err != nil {
			b.Fatalf("iperf3 to %s: %v\n%s", target, err, out)
		}
		return iperfBits(b, out, "sum_received")
	}
	for _, h := range []string{"home1.i3", "home2.i3", "home3.i3"} {
		if _, err := ml.laptop.Run(ctx, "ping", "-c", "2", "-i", "0.2", "-W", "2", h); err != nil {
			b.Fatalf("ping %s: %v", h, err) // sets the session (through the middlebox) up
		}
	}
	b.ResetTimer()
	relay := tcp("home1.i3")
	plain := tcp("home2.i3")
	ids := tcp("home3.i3")
	b.StopTimer()
	toIDS := ml.counter(b, ctx, "to_ids")
	if toIDS == 0 {
		b.Fatal("the middlebox with the IDS handed it no packet (to_ids = 0)")
	}
	b.ReportMetric(relay/1e9, "relay-Gb/s")
	b.ReportMetric(plain/1e9, "middlebox-Gb/s")
	b.ReportMetric(ids/1e9, "middlebox-ids-Gb/s")
	b.ReportMetric(plain/relay, "middlebox/relay-tcp")
	b.ReportMetric(ids/relay, "middlebox-ids/relay-tcp")
	fmt.Fprintf(os.Stderr, "\npath (laptop → home, one TCP stream)        Gb/s    ratio\n")
	fmt.Fprintf(os.Stderr, "overlay relay, no middlebox              %8.3f    1.00\n", relay/1e9)
	fmt.Fprintf(os.Stderr, "through the middlebox, no IDS            %8.3f    %.2f\n", plain/1e9, plain/relay)
	fmt.Fprintf(os.Stderr, "through the middlebox, Suricata reading  %8.3f    %.2f   (%d packets to the IDS)\n", ids/1e9, ids/relay, toIDS)
}

// mbLab is the middlebox benchmark's lab: laptop's proxy knows home1..3;
// mbIDS is the state directory of the middlebox with Suricata.
type mbLab struct {
	laptop     *netlab.Host
	bin, mbIDS string
}

// counter reads a counter of the middlebox with the IDS.
func (ml mbLab) counter(b *testing.B, ctx context.Context, name string) uint64 {
	out, err := exec.CommandContext(ctx, ml.bin, "status", "--json", "--state-dir", ml.mbIDS).Output()
	if err != nil {
		b.Fatalf("i3net status of the middlebox: %v", err)
	}
	var st struct{ Counters map[string]uint64 }
	if err := json.Unmarshal(out, &st); err != nil {
		b.Fatalf("i3net status --json of the middlebox: %v: %s", err, out)
	}
	return st.Counters[name]
}

// middleboxLab builds srv (overlay server), laptop, home1..3 behind one NAT
// (home2 imposing the middlebox mb (host mb), home3 the middlebox mbids
// (host mbids, Suricata on its IDS tun)), starts everything with iperf3
// servers on the homes, and returns once all answer.
func middleboxLab(b *testing.B, ctx context.Context, lab *netlabtest.Lab, bin string) mbLab {
	srv := lab.Host("srv")
	laptop := lab.Host("laptop")
	nat := lab.NATHost("nat", netip.MustParsePrefix("192.168.1.0/24"), netlab.NATCone)
	homes := []*netlab.Host{nat.Inside("home1"), nat.Inside("home2"), nat.Inside("home3")}
	mbPlain, mbIDS := lab.Host("mb"), lab.Host("mbids")
	srvAddr := netip.AddrPortFrom(srv.Addr4(), 5610).String()
	mustStart(b, srv, bin, "server", "--listen", srvAddr, "--log-level", "warn")
	if err := netlab.WaitUDP(ctx, srv, 5610); err != nil {
		b.Fatal(err)
	}
	dirs, keys := map[string]string{}, map[string]string{}
	for _, h := range []string{"laptop", "home1", "home2", "home3", "mb", "mbids"} {
		dirs[h] = b.TempDir()
		keys[h] = benchIdentity(b, bin, dirs[h])
	}
	for _, h := range homes {
		run(b, bin, "book", "add", h.Name(), keys[h.Name()], "--state-dir", dirs["laptop"])
		run(b, bin, "book", "add", "laptop", keys["laptop"], "--state-dir", dirs[h.Name()])
	}
	eve := filepath.Join(b.TempDir(), "suricata")
	if err := os.Mkdir(eve, 0o755); err != nil {
		b.Fatal(err)
	}
	for _, m := range []struct{ home, mb, ids string }{{"home2", "mb", ""}, {"home3", "mbids", eve}} {
		run(b, bin, "book", "add", "ids-mb", keys[m.mb], "--state-dir", dirs[m.home])
		writeBenchFile(b, filepath.Join(dirs[m.home], "proxy.toml"), "middlebox = \"ids-mb\"\n")
		conf := fmt.Sprintf("servers = [%q]\n", srvAddr)
		if m.ids != "" {
			conf += fmt.Sprintf("ids_tun = \"i3ids0\"\neve_json = %q\n", filepath.Join(m.ids, netlab.SuricataEve))
		}
		conf += fmt.Sprintf("[[host]]\nname = %q\nkey = %q\n", m.home, keys[m.home])
		writeBenchFile(b, filepath.Join(dirs[m.mb], "middlebox.toml"), conf)
	}
	for _, m := range []*netlab.Host{mbPlain, mbIDS} {
		mustStart(b, m, bin, "middlebox", "--state-dir", dirs[m.Name()], "--config", filepath.Join(dirs[m.Name()], "middlebox.toml"), "--log-level", "warn")
	}
	for _, h := range homes {
		args := []string{"proxy", "--server", srvAddr, "--state-dir", dirs[h.Name()], "--log-level", "warn"}
		if h.Name() != "home1" {
			args = append(args, "--config", filepath.Join(dirs[h.Name()], "proxy.toml"))
		}
		mustStart(b, h, bin, args...)
	}
	mustStart(b, laptop, bin, "proxy", "--server", srvAddr, "--state-dir", dirs["laptop"], "--log-level", "warn")
	for _, h := range append([]*netlab.Host{laptop, mbPlain, mbIDS}, homes...) {
		if err := netlab.Poll(ctx, 50*time.Millisecond, func() error {
			_, err := h.Run(ctx, bin, "status", "--state-dir", dirs[h.Name()])
			return err
		}); err != nil {
			b.Fatalf("%s does not answer status: %v", h.Name(), err)
		}
	}
	if err := netlab.Poll(ctx, 50*time.Millisecond, func() error {
		_, err := mbIDS.Run(ctx, "ip", "link", "set", "i3ids0", "up")
		return err
	}); err != nil {
		b.Fatalf("the middlebox made no i3ids0: %v", err)
	}
	if _, err := mbIDS.StartSuricata(ctx, eve, "i3ids0", mbBenchRules); err != nil {
		b.Fatal(err)
	}
	for _, h := range homes {
		mustStart(b, h, "iperf3", "-s", "-p", "5201")
		if err := netlab.WaitListen(ctx, h, "tcp", 5201); err != nil {
			b.Fatal(err)
		}
	}
	return mbLab{laptop: laptop, bin: bin, mbIDS: dirs["mbids"]}
}

// benchIdentity makes an identity in dir and returns its key.
func benchIdentity(b *testing.B, bin, dir string) string {
	out, err := exec.Command(bin, "id", "--state-dir", dir, "--json").Output()
	if err != nil {
		b.Fatal(err)
	}
	var v struct{ Key string }
	if err := json.Unmarshal(out, &v); err != nil {
		b.Fatalf("i3net id --json: %v: %s", err, out)
	}
	return v.Key
}
