package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"go/build"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
	"github.com/i3net/i3net/ring"
)

// The lab of the ring tests (ring_test.go, shortcut_test.go): several
// "i3net server" processes on the internet bridge, joined into one overlay
// with the "lan" failure detector, a sender in laptop and a receiver in home
// behind a NAT:
//
//	laptop ──┐                     ┌── nat ── home (192.168.1.0/24)
//	office ──┤ "internet" bridge   │
//	srv1..5 ─┴─────────────────────┘
//
// Servers sit at fixed ring positions (ringPositions) so that the test knows
// which one owns an id without asking; srv1 is every host's first hop and
// the one the others join. office is a receiver without a NAT, which tells
// what the NAT changes. Packets are sent and counted by i3probe
// (e2e/internal/i3probe), built once per run next to the i3net binary.

const (
	// ringMetricsPort is where each server serves Prometheus metrics, on its
	// internet address.
	ringMetricsPort = 9610
	// ringUpTimeout bounds the wait for the servers to see one another, and
	// for a server to start: generous, as every wait for something to
	// happen (it costs nothing when things go well, and a loaded machine
	// starts race-built processes slowly).
	ringUpTimeout = 60 * time.Second
	// probeReadyTimeout bounds the wait for a receiver's trigger (behind a
	// NAT, the first insertion through srv1 cannot be challenged: the retry
	// after the client's 2 s goes straight to the owner its hint names).
	probeReadyTimeout = 20 * time.Second
	// probeRate is the sender's rate, packets per second: gaps are measured
	// to 1/probeRate.
	probeRate = 200
)

// ringPositions are the servers' ring positions, srv1 first: each owns the
// ids whose first byte is above its predecessor's and at most its own.
var ringPositions = []byte{0x20, 0x50, 0x80, 0xb0, 0xe0}

// position returns the ring position whose first byte is b, as 32 hex digits.
func position(b byte) string { return fmt.Sprintf("%02x%s", b, strings.Repeat("0", 30)) }

// idOwnedBy returns a random private id whose first byte is b, so that the
// server positioned at the first of ringPositions at or above b owns it.
func idOwnedBy(b byte) id.ID {
	x := id.Random().WithPublic(false)
	x[0] = b
	return x
}

// The failure detector's presets the tests run the servers with (see
// server.Config.RingPreset). A test of failure detection runs "lan", which
// notices a dead server in about a second but also declares dead, for a
// while, a server that cannot answer for half a second, as a starved
// process on a busy machine may; a test of anything else runs "default",
// the servers' default, which survives pauses of seconds.
const (
	presetFast    = "lan"
	presetDefault = "default"
)

// ringLab is a lab with a ring of servers and the two probe hosts.
type ringLab struct {
	t       *testing.T
	preset  string // the servers' --ring-preset
	lab     *netlabtest.Lab
	servers []*ringServer
	laptop  *netlab.Host
	office  *netlab.Host
	nat     *netlabtest.NAT
	home    *netlab.Host
}

// ringServer is one "i3net server" process of the ring.
type ringServer struct {
	name   string
	host   *netlab.Host
	data   netip.AddrPort
	pos    id.Key128
	proc   *netlab.Proc
	killed bool // by kill, so not checked at cleanup
}

// newRingLab builds the lab with one server per ringPositions, all joined
// and running the failure detector's preset (presetFast or presetDefault),
// and home behind a NAT of kind nat. It skips t unless root.
func newRingLab(t *testing.T, nat netlab.NATKind, preset string) *ringLab {
	t.Helper()
	lab := netlabtest.New(t)
	probeBinary(t)
	r := &ringLab{t: t, lab: lab, preset: preset}
	start := time.Now()
	// Registered after the lab's cleanup, so it runs first, while the
	// processes are there to be stopped and looked at.
	t.Cleanup(r.checkServers)
	for _, p := range ringPositions {
		r.addServer(p)
	}
	r.laptop = lab.Host("laptop")
	r.office = lab.Host("office")
	r.nat = lab.NATHost("nat", netip.MustParsePrefix(homeLAN), nat)
	r.home = r.nat.Inside("home")
	r.waitMembers(len(ringPositions))
	t.Logf("ring of %d servers (preset %q) up in %v; laptop %v, office %v, home %v behind a %v NAT %v",
		len(r.servers), preset, time.Since(start).Round(time.Millisecond), r.laptop.Addr4(), r.office.Addr4(), r.home.Addr4(), nat, r.nat.Addr4())
	return r
}

// addServer starts a server at ring position pos (its first byte) that
// joins srv1 (unless it is srv1), and returns once its socket is bound.
func (r *ringLab) addServer(pos byte) *ringServer {
	t := r.t
	t.Helper()
	name := fmt.Sprintf("srv%d", len(r.servers)+1)
	h := r.lab.Host(name)
	s := &ringServer{name: name, host: h, data: netip.AddrPortFrom(h.Addr4(), serverPort)}
	s.pos, _ = ring.ParsePosition(position(pos))
	var join *ringServer
	if len(r.servers) > 0 {
		join = r.servers[0]
	}
	r.servers = append(r.servers, s)
	r.run(s, join)
	return s
}

// run starts s's process, joining the ring through join (none: s starts
// it), and returns once its socket is bound.
func (r *ringLab) run(s *ringServer, join *ringServer) {
	t := r.t
	t.Helper()
	args := []string{"server", "--listen", s.data.String(), "--ring", "--ring-preset", r.preset,
		"--ring-position", ring.FormatPosition(s.pos), "--metrics", netip.AddrPortFrom(s.host.Addr4(), ringMetricsPort).String()}
	if join != nil {
		args = append(args, "--join", netip.AddrPortFrom(join.data.Addr(), serverPort+1).String())
	}
	p, err := s.host.Start(i3netBin, args...)
	if err != nil {
		t.Fatal(err)
	}
	s.proc, s.killed = p, false
	ctx, cancel := context.WithTimeout(context.Background(), ringUpTimeout)
	defer cancel()
	if err := netlab.WaitUDP(ctx, s.host, serverPort); err != nil {
		t.Fatalf("%s did not start: %v\n%s", s.name, err, tail(p.Output(), 2048))
	}
	if err := netlab.WaitListen(ctx, s.host, "tcp", ringMetricsPort); err != nil {
		t.Fatalf("%s serves no metrics: %v\n%s", s.name, err, tail(p.Output(), 2048))
	}
}

// live returns the servers not killed.
func (r *ringLab) live() []*ringServer {
	var l []*ringServer
	for _, s := range r.servers {
		if !s.killed {
			l = append(l, s)
		}
	}
	return l
}

// waitMembers waits, bounded, until every live server counts n members.
func (r *ringLab) waitMembers(n int) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ringUpTimeout)
	defer cancel()
	for _, s := range r.live() {
		err := netlab.Poll(ctx, 50*time.Millisecond, func() error {
			m, err := s.metrics(ctx)
			if err != nil {
				return err
			}
			if got := m["i3net_server_ring_members"]; got != float64(n) {
				return fmt.Errorf("%v members", got)
			}
			return nil
		})
		if err != nil {
			r.t.Fatalf("%s does not see a ring of %d servers within %v: %v\n%s", s.name, n, ringUpTimeout, err, tail(s.proc.Output(), 2048))
		}
	}
}

// serverList is the --server value of the probes: every live server, srv1
// (the first hop) first.
func (r *ringLab) serverList() string {
	var l []string
	for _, s := range r.live() {
		l = append(l, s.data.String())
	}
	return strings.Join(l, ",")
}

// owner returns the live server responsible for x by the ring's rule: the
// first position at or after x's first 128 bits, wrapping around.
func (r *ringLab) owner(x id.ID) *ringServer {
	live := r.live()
	members := make([]ring.Member, len(live))
	for i, s := range live {
		members[i] = ring.Member{Name: s.name, Data: s.data, Position: s.pos}
	}
	m := ring.NewSnapshot(ring.Member{}, members, 1).Responsible(x.Key())
	for _, s := range live {
		if s.name == m.Name {
			return s
		}
	}
	return nil
}

// kill ends a server with SIGKILL: it leaves nothing behind, tells nobody.
func (r *ringLab) kill(s *ringServer) {
	r.t.Helper()
	s.killed = true
	if err := s.proc.Signal(syscall.SIGKILL); err != nil {
		r.t.Fatal(err)
	}
	select {
	case <-s.proc.Done():
	case <-time.After(netlab.StopGrace):
		r.t.Fatalf("%s still running after SIGKILL", s.name)
	}
}

// checkServers stops the live servers with SIGTERM and checks that each
// exited 0 without a panic or a data race report.
func (r *ringLab) checkServers() {
	for _, s := range r.live() {
		checkStopped(r.t, s.proc)
	}
}

// checkStopped stops p with SIGTERM (SIGKILL after netlab.StopGrace) and
// fails t unless it exited 0 without reporting a panic or a data race.
func checkStopped(t *testing.T, p *netlab.Proc) {
	t.Helper()
	if err := p.Stop(); err != nil {
		t.Error(err)
		return
	}
	out := p.Output()
	if err := p.Wait(); err != nil {
		t.Errorf("%s exited with %v after SIGTERM, want 0:\n%s", p, err, tail(out, 4096))
		return
	}
	for _, bad := range []string{"DATA RACE", "panic:"} {
		if i := bytes.Index(out, []byte(bad)); i >= 0 {
			t.Errorf("%s reported %q:\n%s", p, bad, tail(out[i:], 8192))
			return
		}
	}
}

// metrics scrapes the server's /metrics from inside its host.
func (s *ringServer) metrics(ctx context.Context) (map[string]float64, error) {
	return s.host.Metrics(ctx, netip.AddrPortFrom(s.data.Addr(), ringMetricsPort))
}

// counters are some of each live server's counters at one moment.
type counters map[string]map[string]float64 // server name → sample name → value

// scrape reads the counters of every live server.
func (r *ringLab) scrape() counters {
	r.t.Helper()
	c := counters{}
	for _, s := range r.live() {
		m, err := s.metrics(context.Background())
		if err != nil {
			r.t.Fatal(err)
		}
		c[s.name] = m
	}
	return c
}

// sum adds up one counter over the servers.
func (c counters) sum(name string) float64 {
	var n float64
	for _, m := range c {
		n += m["i3net_server_"+name]
	}
	return n
}

// probe is an i3probe process.
type probe struct {
	*netlab.Proc
	host   *netlab.Host
	rxPath string // a receiver's record of packets
}

// startReceiver starts "i3probe recv" in h for id x (extra: more flags) and
// waits, bounded, until its trigger is acknowledged.
func (r *ringLab) startReceiver(h *netlab.Host, x id.ID, extra ...string) *probe {
	r.t.Helper()
	rxPath := filepath.Join(r.t.TempDir(), "rx")
	args := append([]string{"recv", "--server", r.serverList(), "--id", x.String(), "--rx", rxPath}, extra...)
	p, err := h.Start(probeBin, args...)
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeReadyTimeout)
	defer cancel()
	start := time.Now()
	err = netlab.Poll(ctx, 20*time.Millisecond, func() error {
		select {
		case <-p.Done():
			return fmt.Errorf("exited: %v", p.Wait())
		default:
		}
		if !bytes.Contains(p.Output(), []byte("ready ")) {
			return fmt.Errorf("no trigger yet")
		}
		return nil
	})
	if err != nil {
		r.t.Fatalf("%s: the receiver's trigger: %v\n%s", h.Name(), err, tail(p.Output(), 2048))
	}
	r.t.Logf("%s: receiver of %s up in %v", h.Name(), x.Short(), time.Since(start).Round(time.Millisecond))
	return &probe{Proc: p, host: h, rxPath: rxPath}
}

// startSender starts "i3probe send" in h: probeRate packets per second to x
// until stopped (extra: more flags).
func (r *ringLab) startSender(h *netlab.Host, x id.ID, extra ...string) *probe {
	r.t.Helper()
	args := append([]string{"send", "--server", r.serverList(), "--id", x.String(), "--rate", strconv.Itoa(probeRate)}, extra...)
	p, err := h.Start(probeBin, args...)
	if err != nil {
		r.t.Fatal(err)
	}
	return &probe{Proc: p, host: h}
}

// rxRecord is one packet a receiver got.
type rxRecord struct {
	seq  uint64
	at   time.Time
	from string
}

// received parses the receiver's lines so far.
func (p *probe) received() []rxRecord {
	var rs []rxRecord
	b, _ := os.ReadFile(p.rxPath)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 || f[0] != "rx" {
			continue
		}
		seq, err1 := strconv.ParseUint(f[1], 10, 64)
		ns, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		rs = append(rs, rxRecord{seq, time.Unix(0, ns), f[3]})
	}
	return rs
}

// waitReceived waits, bounded by d, until the receiver has more than n
// packets, and returns them.
func (p *probe) waitReceived(t *testing.T, n int, d time.Duration) []rxRecord {
	t.Helper()
	var rs []rxRecord
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := netlab.Poll(ctx, 20*time.Millisecond, func() error {
		if rs = p.received(); len(rs) <= n {
			return fmt.Errorf("%d packets", len(rs))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: the receiver did not get more than %d packets within %v: %v", p.host.Name(), n, d, err)
	}
	return rs
}

// stopSender stops the sender and returns the last sequence number it sent.
func (p *probe) stopSender(t *testing.T) uint64 {
	t.Helper()
	checkStopped(t, p.Proc)
	sc := bufio.NewScanner(bytes.NewReader(p.Output()))
	for sc.Scan() {
		var last, failed uint64
		if n, _ := fmt.Sscanf(sc.Text(), "sent %d failed=%d", &last, &failed); n == 2 {
			return last
		}
	}
	t.Fatalf("%s: the sender did not say what it sent:\n%s", p.host.Name(), tail(p.Output(), 2048))
	return 0
}

// flowReport is what became of packets 1..sent at a receiver.
type flowReport struct {
	sent, received uint64
	missing        []uint64 // in order
	dups           int
}

func report(sent uint64, rs []rxRecord) flowReport {
	seen := make(map[uint64]bool, len(rs))
	r := flowReport{sent: sent}
	for _, x := range rs {
		if seen[x.seq] {
			r.dups++
			continue
		}
		seen[x.seq] = true
		if x.seq <= sent {
			r.received++
		}
	}
	for s := uint64(1); s <= sent; s++ {
		if !seen[s] {
			r.missing = append(r.missing, s)
		}
	}
	return r
}

func (r flowReport) String() string {
	miss := r.missing
	more := ""
	if len(miss) > 12 {
		miss, more = miss[:12], fmt.Sprintf(" … (%d in all)", len(r.missing))
	}
	return fmt.Sprintf("sent %d, received %d, lost %d %v%s, duplicates %d", r.sent, r.received, len(r.missing), miss, more, r.dups)
}

// longestSilence returns the longest time between two packets in a row at
// the receiver, among those received from since on, and the packets that
// end it.
func longestSilence(rs []rxRecord, since time.Time) (gap time.Duration, before, after rxRecord) {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b rxRecord) int { return a.at.Compare(b.at) })
	for i := 1; i < len(rs); i++ {
		if rs[i].at.Before(since) {
			continue
		}
		if d := rs[i].at.Sub(rs[i-1].at); d > gap {
			gap, before, after = d, rs[i-1], rs[i]
		}
	}
	return gap, before, after
}

// probeBin is the i3probe binary, built by probeBinary.
var (
	probeBin   string
	probeOnce  sync.Once
	probeBuild error
)

// probeBinary builds e2e/internal/i3probe next to the i3net binary (so that
// TestMain's cleanup removes it), once per run.
func probeBinary(t *testing.T) {
	t.Helper()
	if i3netBin == "" {
		t.Fatal("e2e: no i3net binary (TestMain did not build it)")
	}
	probeOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(build.Default.GOROOT, "bin", "go")
		}
		bin := filepath.Join(filepath.Dir(i3netBin), "i3probe")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		args := []string{"build", "-o", bin}
		if os.Getenv("I3NET_E2E_RACE") == "1" {
			args = append(args, "-race")
		}
		cmd := exec.CommandContext(ctx, goTool, append(args, "./internal/i3probe")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			probeBuild = fmt.Errorf("%s %v: %w\n%s", goTool, cmd.Args[1:], err, out)
			return
		}
		probeBin = bin
	})
	if probeBuild != nil {
		t.Fatalf("e2e: cannot build the probe: %v", probeBuild)
	}
}
