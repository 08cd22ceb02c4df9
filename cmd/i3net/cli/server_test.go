package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/server"
)

// TestServerHelperProcess is the i3net binary for TestServerCommand: it runs
// the command line in I3NET_TEST_SERVER_ARGS when I3NET_TEST_SERVER_HELPER is set.
func TestServerHelperProcess(t *testing.T) {
	if os.Getenv("I3NET_TEST_SERVER_HELPER") != "1" {
		t.Skip("the i3net process of TestServerCommand")
	}
	os.Exit(Run(strings.Fields(os.Getenv("I3NET_TEST_SERVER_ARGS"))))
}

// serverProcess is "i3net server" running as a process of this test binary.
type serverProcess struct {
	cmd     *exec.Cmd
	addr    netip.AddrPort // from the ready line
	stderr  *bytes.Buffer
	exited  chan struct{} // closed when the process has exited
	exitErr error         // set before exited closes
}

// startServerProcess runs "i3net server ARGS" and waits (bounded) for its
// ready line; the process is killed at the end of the test.
func startServerProcess(t *testing.T, args string) *serverProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestServerHelperProcess$")
	cmd.Env = append(os.Environ(), "I3NET_TEST_SERVER_HELPER=1", "I3NET_TEST_SERVER_ARGS=server "+args)
	p := &serverProcess{cmd: cmd, stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, out)
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(processWait):
		t.Fatalf("no ready line within %v; stderr: %s", processWait, p.stderr.String())
	}
	addrText, ok := strings.CutPrefix(line, "i3net server listening on ")
	if !ok {
		t.Fatalf("ready line %q; stderr: %s", line, p.stderr.String())
	}
	if p.addr, err = netip.ParseAddrPort(addrText); err != nil {
		t.Fatalf("ready line %q: %v", line, err)
	}
	return p
}

// interrupt sends SIGINT and checks that the process exits 0, bounded.
func (p *serverProcess) interrupt(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		if p.exitErr != nil {
			t.Errorf("exit: %v; stderr: %s", p.exitErr, p.stderr.String())
		}
	case <-time.After(processWait):
		t.Fatalf("no exit within %v after SIGINT; stderr: %s", processWait, p.stderr.String())
	}
}

// freeAddr returns a loopback address with a port that was free a moment ago
// (for the TCP or UDP socket of network).
func freeAddr(t *testing.T, network string) string {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().String()
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// scrape returns the text of the Prometheus endpoint at addr.
// processWait bounds a wait for a server process to start, to form a ring or
// to exit: generous, as every wait for something to happen (it costs nothing
// when things go well, and a busy machine starts race-built processes
// slowly).
const processWait = 60 * time.Second

// waitMetric waits, bounded by processWait, until the metrics served at addr
// hold the line want, and returns an error with the last metrics otherwise.
func waitMetric(addr, want string) error {
	ctx, cancel := context.WithTimeout(context.Background(), processWait)
	defer cancel()
	c := &http.Client{Timeout: 10 * time.Second}
	return netlab.Poll(ctx, 50*time.Millisecond, func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		lines := strings.Split(string(body), "\n")
		if slices.Contains(lines, want) {
			return nil
		}
		name, _, _ := strings.Cut(want, " ")
		got := slices.DeleteFunc(lines, func(l string) bool { return !strings.HasPrefix(l, name+" ") })
		return fmt.Errorf("want %q, got %q", want, got)
	})
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// TestServerCommand runs "i3net server" as a process: it prints its ready line,
// echoes a ping, serves its counters on /metrics, and exits 0 on SIGINT.
func TestServerCommand(t *testing.T) {
	metrics := freeAddr(t, "tcp")
	p := startServerProcess(t, "--listen 127.0.0.1:0 --metrics "+metrics+" --log-level warn")

	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(p.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ping := []byte{0x11, 'h', 'i'}
	c.Write(ping)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64)
	if n, err := c.Read(buf); err != nil || !bytes.Equal(buf[:n], ping) {
		t.Fatalf("ping echo %x, %v", buf[:n], err)
	}

	body := scrape(t, metrics)
	for _, want := range []string{"i3net_server_pings_total 1", `i3net_server_drops_total{reason="version"} 0`, "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	p.interrupt(t)
}

// TestServerCommandRing runs two "i3net server" processes on loopback, the
// second joining the first with the ring's flags: both count two members.
func TestServerCommandRing(t *testing.T) {
	gossipA := freeAddr(t, "udp")
	metricsA, metricsB := freeAddr(t, "tcp"), freeAddr(t, "tcp")
	a := startServerProcess(t, "--listen 127.0.0.1:0 --ring --gossip "+gossipA+
		" --ring-preset lan --ring-position 40000000000000000000000000000000 --metrics "+metricsA+" --log-level warn")
	b := startServerProcess(t, "--listen 127.0.0.1:0 --gossip 127.0.0.1:0 --join "+gossipA+
		" --ring-preset lan --replicas 2 --metrics "+metricsB+" --log-level warn")
	for _, m := range []string{metricsA, metricsB} {
		if err := waitMetric(m, "i3net_server_ring_members 2"); err != nil {
			t.Fatalf("%s: no ring of two servers: %v\nstderr A: %s\nstderr B: %s", m, err, a.stderr, b.stderr)
		}
	}
	b.interrupt(t)
	a.interrupt(t)
}

// TestServerCommandRingKey: servers with one ring key (--ring-key-file) form a
// ring; one with another key is never let in. The servers run the default
// failure detector: "lan" declares dead, for a while, a server that cannot
// answer for half a second, as a starved process on a busy machine may, and
// what this test checks is who is let in, not how fast a death is noticed.
func TestServerCommandRingKey(t *testing.T) {
	dir := t.TempDir()
	keyA, keyB := filepath.Join(dir, "a.key"), filepath.Join(dir, "b.key")
	os.WriteFile(keyA, []byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))+"\n"), 0o600)
	os.WriteFile(keyB, []byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))+"\n"), 0o600)
	gossipA := freeAddr(t, "udp")
	metricsA, metricsB, metricsC := freeAddr(t, "tcp"), freeAddr(t, "tcp"), freeAddr(t, "tcp")
	a := startServerProcess(t, "--listen 127.0.0.1:0 --ring --gossip "+gossipA+" --ring-key-file "+keyA+
		" --ring-preset default --metrics "+metricsA+" --log-level warn")
	c := startServerProcess(t, "--listen 127.0.0.1:0 --gossip 127.0.0.1:0 --join "+gossipA+" --ring-key-file "+keyB+
		" --ring-preset default --metrics "+metricsC+" --log-level error")
	b := startServerProcess(t, "--listen 127.0.0.1:0 --gossip 127.0.0.1:0 --join "+gossipA+" --ring-key-file "+keyA+
		" --ring-preset default --metrics "+metricsB+" --log-level warn")
	for _, m := range []string{metricsA, metricsB} {
		if err := waitMetric(m, "i3net_server_ring_members 2"); err != nil {
			t.Fatalf("%s: no ring of the two servers sharing a key: %v\nstderr A: %s\nstderr B: %s", m, err, a.stderr, b.stderr)
		}
	}
	for _, m := range []string{metricsA, metricsB, metricsC} {
		body := scrape(t, m)
		want := "i3net_server_ring_members 2"
		if m == metricsC {
			want = "i3net_server_ring_members 1"
		}
		if !strings.Contains(body, want) {
			t.Errorf("%s: want %q; stderr A: %s\nstderr B: %s\nstderr C: %s", m, want, a.stderr, b.stderr, c.stderr)
		}
	}
	c.interrupt(t)
	b.interrupt(t)
	a.interrupt(t)
}

func TestServerCommandErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "server.toml")
	os.WriteFile(bad, []byte("trigger_ttl = \"20s\"\nmax_trigers = 5\n"), 0o600)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown key in the file", []string{"server", "--config", bad}, 1, bad + `:2: unknown key "max_trigers" (did you mean "max_triggers"?)`},
		{"missing file", []string{"server", "--config", filepath.Join(dir, "none.toml")}, 1,
			"i3net server: config file " + filepath.Join(dir, "none.toml") + ": file does not exist (check the path)\n"},
		{"metrics not host:port", []string{"server", "--listen", "127.0.0.1:0", "--metrics", "9610"}, 2, `--metrics "9610": want HOST:PORT`},
		{"bad advertise", []string{"server", "--advertise", "somewhere"}, 2, `--advertise "somewhere": want IP:PORT`},
		{"bad log level", []string{"server", "--log-level", "loud"}, 2, `--log-level "loud"`},
		{"bad listen", []string{"server", "--listen", "nowhere:1"}, 2, `--listen "nowhere:1": want IP:PORT`},
		{"bad ttl", []string{"server", "--listen", "127.0.0.1:0", "--trigger-ttl", "-1s"}, 2, "--trigger-ttl -1s: must be positive"},
		{"ttl without a unit", []string{"server", "--trigger-ttl", "30"}, 2, `invalid value "30" for flag -trigger-ttl: needs a unit, e.g. 30s`},
		{"argument", []string{"server", "now"}, 2, `unexpected argument "now"`},
		{"bad join", []string{"server", "--listen", "127.0.0.1:0", "--join", "198.18.0.1"}, 2,
			`--join "198.18.0.1": want HOST:PORT, the gossip address of a server in the overlay`},
		{"join port 0", []string{"server", "--listen", "127.0.0.1:0", "--join", "a:5611,b:0"}, 2, `--join "b:0": want HOST:PORT`},
		{"bad gossip", []string{"server", "--listen", "127.0.0.1:0", "--gossip", "5611"}, 2,
			`--gossip "5611": want IP:PORT`},
		{"bad gossip advertise", []string{"server", "--gossip-advertise", "nat:5611"}, 2, `--gossip-advertise "nat:5611": want IP:PORT`},
		{"unspecified gossip advertise", []string{"server", "--listen", "127.0.0.1:0", "--ring", "--gossip-advertise", "0.0.0.0:5611"}, 2,
			"--gossip-advertise 0.0.0.0:5611: want a specific IP and a non-zero port"},
		{"bad ring position", []string{"server", "--listen", "127.0.0.1:0", "--ring-position", "80"}, 2,
			`--ring-position "80": want 32 hex digits (128 bits)`},
		{"bad ring preset", []string{"server", "--listen", "127.0.0.1:0", "--ring-preset", "wan"}, 2,
			`--ring-preset "wan": want "default" or "lan"`},
		{"too many replicas", []string{"server", "--listen", "127.0.0.1:0", "--replicas", "9"}, 2,
			"--replicas 9: want 0..8"},
		{"replicas not a number", []string{"server", "--replicas", "two"}, 2, `invalid value "two" for flag -replicas: want a whole number`},
		{"ring on a wildcard address", []string{"server", "--listen", "0.0.0.0:0", "--join", "198.18.0.1:5611"}, 1,
			"a server in a ring needs a specific data address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			captureOutput(t, &out)
			if code := Run(tt.args); code != tt.code {
				t.Errorf("exit %d, want %d; output %s", code, tt.code, out.String())
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("output %q lacks %q", out.String(), tt.want)
			}
		})
	}
}

// TestServerConfigPrecedence: defaults, then the file, then the flags given.
func TestServerConfigPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.toml")
	os.WriteFile(path, []byte("listen_addr = \"127.0.0.1:5611\"\ntrigger_ttl = \"20s\"\ninsert_rate = 7\n"), 0o600)
	a := serverArgs{config: path, ttl: 40 * time.Second, advertise: "198.18.0.1:5610", allowUnsigned: true,
		set: map[string]bool{"trigger-ttl": true, "advertise": true}}
	cfg, err := serverConfig(a)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ListenAddr != "127.0.0.1:5611" || cfg.TriggerTTL != 40*time.Second || cfg.InsertRate != 7 ||
		cfg.PublicAddr != netip.MustParseAddrPort("198.18.0.1:5610") || cfg.RequireSignedPublic {
		t.Errorf("config %+v", cfg)
	}
}

// TestServerRingFlags: the ring's flags replace the file's keys (--join the
// whole list), a flag not given leaves the file's value, and --join takes
// repeated flags and comma lists.
func TestServerRingFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.toml")
	os.WriteFile(path, []byte(`listen_addr = "127.0.0.1:5610"
join = ["198.18.0.9:5611"]
gossip_addr = "127.0.0.1:7001"
ring_preset = "lan"
replicas = 2
ring_position = "10000000000000000000000000000000"
`), 0o600)
	tests := []struct {
		name  string
		args  []string
		check func(c server.Config) bool
	}{
		{"file only", []string{"--config", path}, func(c server.Config) bool {
			return slices.Equal(c.Join, []string{"198.18.0.9:5611"}) && c.GossipAddr == "127.0.0.1:7001" &&
				c.RingPreset == "lan" && c.Replicas == 2 && c.RingPosition == "10000000000000000000000000000000"
		}},
		{"flags replace", []string{"--config", path, "--join", "198.18.0.1:5611, 198.18.0.2:5611", "--join", "srv3.example:5611",
			"--gossip", "127.0.0.1:7002", "--gossip-advertise", "203.0.113.7:5611", "--ring-preset", "default",
			"--replicas", "0", "--ring-position", "ffffffffffffffffffffffffffffffff"}, func(c server.Config) bool {
			return slices.Equal(c.Join, []string{"198.18.0.1:5611", "198.18.0.2:5611", "srv3.example:5611"}) &&
				c.GossipAddr == "127.0.0.1:7002" && c.GossipAdvertise == netip.MustParseAddrPort("203.0.113.7:5611") &&
				c.RingPreset == "default" && c.Replicas == 0 && c.RingPosition == "ffffffffffffffffffffffffffffffff"
		}},
		{"defaults", nil, func(c server.Config) bool {
			return !c.Ring && c.Join == nil && c.GossipAddr == "" && c.RingPreset == "default" && c.Replicas == 1
		}},
		{"ring alone", []string{"--ring"}, func(c server.Config) bool { return c.Ring }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a serverArgs
			fs := a.flagSet()
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			a.noteSet(fs)
			got, err := serverConfig(a)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(got) {
				t.Errorf("config %+v", got)
			}
		})
	}
}

// TestServerDoc checks docs/server.md against the command: every flag, every
// configuration key, every metric and every drop and refusal reason is
// documented; every TOML example is a valid configuration; every
// "i3net server" command line of the examples parses.
func TestServerDoc(t *testing.T) {
	b, err := os.ReadFile("../../../docs/server.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	var a serverArgs
	fs := a.flagSet()
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(doc, "`--"+f.Name) {
			t.Errorf("flag --%s is not documented", f.Name)
		}
	})
	for _, k := range server.ConfigKeys() {
		if !strings.Contains(doc, "`"+k+"`") {
			t.Errorf("configuration key %s is not documented", k)
		}
	}
	for _, m := range serverMetricNames(t) {
		if !strings.Contains(doc, "`"+m) {
			t.Errorf("metric %s is not documented", m)
		}
	}
	for r := range server.NumDropReasons {
		if !strings.Contains(doc, "`"+r.String()+"`") {
			t.Errorf("drop reason %s is not documented", r)
		}
	}
	for r := range server.NumRefusals {
		if !strings.Contains(doc, "`"+r.String()+"`") {
			t.Errorf("refusal reason %s is not documented", r)
		}
	}

	blocks := regexp.MustCompile("(?s)```(toml|sh)\n(.*?)```").FindAllStringSubmatch(doc, -1)
	var tomls, lines int
	for _, blk := range blocks {
		if blk[1] == "toml" {
			tomls++
			if _, err := server.ParseConfig("docs/server.md", []byte(blk[2]), server.DefaultConfig()); err != nil {
				t.Errorf("TOML example:\n%s\n%v", blk[2], err)
			}
			continue
		}
		for _, line := range strings.Split(strings.ReplaceAll(blk[2], "\\\n", " "), "\n") {
			args, ok := strings.CutPrefix(strings.TrimSpace(line), "i3net server")
			if !ok {
				continue
			}
			lines++
			var a serverArgs
			fs := a.flagSet()
			if err := fs.Parse(strings.Fields(args)); err != nil {
				t.Errorf("%s: %v", line, err)
				continue
			}
			a.noteSet(fs)
			a.config = "" // the file is an example of its own, checked above
			if _, err := serverConfig(a); err != nil {
				t.Errorf("%s: %v", line, err)
			}
		}
	}
	if tomls < 2 || lines < 4 {
		t.Errorf("%d TOML examples and %d command lines found in docs/server.md", tomls, lines)
	}
}

// serverMetricNames returns the names of the metrics a server exports.
func serverMetricNames(t *testing.T) []string {
	t.Helper()
	cfg := server.TestConfig()
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ch := make(chan *prometheus.Desc, 256)
	srv.Collector().Describe(ch)
	close(ch)
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	var names []string
	for d := range ch {
		if m := fq.FindStringSubmatch(d.String()); m != nil {
			names = append(names, m[1])
		}
	}
	if len(names) < 30 {
		t.Fatalf("only %d metrics described", len(names))
	}
	return names
}
