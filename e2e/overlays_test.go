package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/proxy"
)

// TestOverlays: one laptop proxy, one tun device, two overlays (issue 14,
// paper §10). curl and ssh reach home.i3 (ring A) and build.lab (ring B)
// at the same time; then ring A's servers are killed while an ssh session
// to build.lab streams lines: it goes on without a reconnect, and laptop's
// status shows lab's session active. A config whose pools overlap is
// refused, naming the file, line and key.
func TestOverlays(t *testing.T) {
	t.Parallel()
	needProgram(t, "curl", "python3", "ssh", "dig")
	w := newOverlaysWorld(t)
	st := w.laptop.mustStatus(t)
	lab := labStatus(t, st)
	t.Logf("laptop: .i3 %v (%s…), .lab %v (%s…) on one tun device; home %v, build %v",
		st.Self.Addr4, st.Self.ID[:8], lab.Self.Addr4, lab.Self.ID[:8], w.home.self.Addr4, w.build.self.Addr4)
	if !i3Pool4.Contains(st.Self.Addr4) || !labPool4.Contains(lab.Self.Addr4) {
		t.Fatalf("laptop's own addresses %v (.i3) and %v (.lab) are not in their pools", st.Self.Addr4, lab.Self.Addr4)
	}
	if lab.Self.Key != w.labKey {
		t.Errorf("laptop's .lab identity is %s, want lab.pem's %s", lab.Self.Key, w.labKey)
	}

	bodies := map[*node][]byte{}
	for _, n := range []*node{w.home, w.build} {
		bodies[n] = serveFile(t, n)
	}
	sshds := map[*node]*sshd{w.home: startSSHD(t, w.home.Host), w.build: startSSHD(t, w.build.Host)}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bothAtOnce(t, func(n *node, name string) {
		got := mustRun(t, ctx, w.laptop.Host, "curl", "-sS", "--fail", "-m", "30", "http://"+name+"/file")
		if !bytes.Equal(got, bodies[n]) {
			t.Errorf("curl http://%s/file: got %q, want %q", name, got, bodies[n])
		}
	}, w)
	bothAtOnce(t, func(n *node, name string) {
		out := mustRun(t, ctx, w.laptop.Host, "ssh", sshds[n].args(name, "echo $SSH_CONNECTION")...)
		self := st.Self
		if n == w.build {
			self = lab.Self
		}
		if f := strings.Fields(string(out)); len(f) != 4 || (f[0] != self.Addr4.String() && f[0] != self.Addr6.String()) {
			t.Errorf("ssh %s: SSH_CONNECTION %q, want it from laptop's own address in that overlay, %v or %v", name, out, self.Addr4, self.Addr6)
		}
	}, w)
	testLabDNS(t, ctx, w, st.Self.DNS)
	if t.Failed() {
		t.FailNow()
	}
	testKillRingA(t, ctx, w, sshds[w.build])
	testOverlapRefused(t, ctx, w)
}

// serveFile serves a random file over HTTP on port 80 of n and returns it.
func serveFile(t *testing.T, n *node) []byte {
	t.Helper()
	dir := t.TempDir()
	body := []byte(fmt.Sprintf("hello from %s %s\n", n.Name(), rand.Text()))
	writeFile(t, filepath.Join(dir, "file"), body, 0o644)
	startDaemon(t, n.Host, "python3", "-m", "http.server", "80", "--directory", dir)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := netlab.WaitListen(ctx, n.Host, "tcp", 80); err != nil {
		t.Fatal(err)
	}
	return body
}

// bothAtOnce runs f for home.i3 and build.lab concurrently.
func bothAtOnce(t *testing.T, f func(n *node, name string), w *overlaysWorld) {
	var wg sync.WaitGroup
	for n, name := range map[*node]string{w.home: "home.i3", w.build: "build.lab"} {
		wg.Go(func() { f(n, name) })
	}
	wg.Wait()
}

// testKillRingA kills both of ring A's servers while ssh build.lab prints
// a line every 0.2 s: lines keep arriving after the kill, the one ssh
// process prints them all and exits 0, and laptop's status shows lab's
// session active with more traffic.
func testKillRingA(t *testing.T, ctx context.Context, w *overlaysWorld, s *sshd) {
	const n = 60
	lines := startLines(t, ctx, w.laptop.Host, "ssh",
		s.args("build.lab", fmt.Sprintf("for i in $(seq 1 %d); do echo $i; sleep 0.2; done", n))...)
	if err := lines.waitLines(ctx, 5); err != nil {
		t.Fatalf("ssh build.lab: %v", err)
	}
	before := labPeer(t, w, "build")
	for _, srv := range w.ringA {
		srv.kill(t)
	}
	killed := time.Now()
	t.Logf("killed ring A (%s, %s) after %d lines", w.ringA[0].name, w.ringA[1].name, lines.count())
	at := lines.count()
	if err := lines.waitLines(ctx, at+10); err != nil {
		t.Fatalf("ssh build.lab stopped when ring A died: %v", err)
	}
	gap, after := lines.finishCounting(t, ctx, n)
	t.Logf("ssh build.lab: all %d lines in one session; first line after the kill %v later; longest gap %v (after line %d)",
		n, lines.firstAfter(killed).Sub(killed).Round(time.Millisecond), gap.Round(time.Millisecond), after)

	p := labPeer(t, w, "build")
	if p.State != "active" || p.RxBytes <= before.RxBytes {
		t.Errorf("laptop's .lab peer build: state %q, rx %d B (before the kill %d B): want active, more bytes", p.State, p.RxBytes, before.RxBytes)
	}
	// A new connection to build.lab: the primary's DNS does not need ring A.
	out, err := run(t, ctx, w.laptop.Host, "curl", "-sS", "--fail", "-m", "30", "-o", "/dev/null", "-w", "%{http_code}", "http://build.lab/file")
	if err != nil || string(out) != "200" {
		t.Errorf("curl build.lab after ring A died: %v: %s", err, out)
		explainDNS(t, ctx, w, "build.lab")
	}
	table := string(mustRun(t, ctx, w.laptop.Host, i3netBin, "status", "--state-dir", w.laptop.dir))
	t.Logf("i3net status on laptop:\n%s", table)
	if !strings.Contains(table, "# overlay lab (.lab): servers") || !strings.Contains(table, "# overlay i3 (.i3): servers") {
		t.Errorf("i3net status does not head each overlay")
	}
}

// labPeer returns laptop's .lab peer name from "i3net status --json".
func labPeer(t *testing.T, w *overlaysWorld, name string) proxy.PeerStatus {
	t.Helper()
	lab := labStatus(t, w.laptop.mustStatus(t))
	p, ok := peerNamed(lab, name)
	if !ok {
		t.Fatalf("laptop's .lab overlay has no peer %s: %+v", name, lab.Peers)
	}
	return p
}

// testOverlapRefused runs a proxy, in laptop, whose [[overlay]] pool
// overlaps the top-level one: it exits at once, naming file, line and key.
func testOverlapRefused(t *testing.T, ctx context.Context, w *overlaysWorld) {
	dir := t.TempDir()
	if _, err := w.i3net(ctx, "id", "--state-dir", dir); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "proxy.toml")
	writeFile(t, conf, []byte("servers = [\"198.18.0.1:5610\"]\n\n[[overlay]]\nsuffix = \"lab\"\nservers = [\"198.19.0.1:5610\"]\npool4 = \"100.96.0.0/12\"\n"), 0o600)
	out, err := run(t, ctx, w.laptop.Host, i3netBin, "proxy", "--state-dir", dir, "--config", conf, "--tun", "i3nettest1", "--dns-mode", "off")
	want := conf + `:6: overlay[0].pool4 = "100.96.0.0/12": overlaps overlay "i3" pool 100.64.0.0/10: choose another`
	if err == nil || !strings.Contains(string(out), want) {
		t.Errorf("a proxy with overlapping pools: %v: %s\nwant a failure saying %q", err, out, want)
	}
}

// explainDNS logs what the resolver and the primary's DNS say of name, for
// a failure's report.
func explainDNS(t *testing.T, ctx context.Context, w *overlaysWorld, name string) {
	for _, c := range [][]string{{"getent", "ahosts", name}, {"dig", "+tries=1", "+time=3", name, "A"}, {"dig", "+tries=1", "+time=3", name, "AAAA"}} {
		out, err := run(t, ctx, w.laptop.Host, c[0], c[1:]...)
		t.Logf("%v: %v\n%s", c, err, out)
	}
	st := w.laptop.mustStatus(t)
	t.Logf("laptop's DNS counters: queries %d, forwarded %d, errors %d; resolv.conf: %s", st.Counters["dns_queries"],
		st.Counters["dns_forwarded"], st.Counters["dns_errors"], mustRun(t, ctx, w.laptop.Host, "cat", "/etc/resolv.conf"))
}

// testLabDNS asks the primary's DNS address for build.lab over TCP, and for
// the reverse name of the answer: lab's proxy answers both, as the name
// and the address are lab's.
func testLabDNS(t *testing.T, ctx context.Context, w *overlaysWorld, dns netip.Addr) {
	ans, out := dig(t, ctx, w.world, "+tcp", "@"+dns.String(), "build.lab", "A")
	if len(ans) != 1 || ans[0].rdata != w.build.self.Addr4.String() {
		t.Errorf("dig +tcp build.lab A at the primary's DNS %v: want %v (build's own address, in lab's pool), got:\n%s", dns, w.build.self.Addr4, out)
	}
	ans, out = dig(t, ctx, w.world, "@"+dns.String(), "-x", w.build.self.Addr4.String())
	if len(ans) != 1 || ans[0].typ != "PTR" || ans[0].rdata != "build.lab." {
		t.Errorf("dig -x %v: want PTR build.lab., got:\n%s", w.build.self.Addr4, out)
	}
}
