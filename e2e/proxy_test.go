package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
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
	"github.com/i3net/i3net/proxy/dns"
	"github.com/i3net/i3net/proxy/vaddr"
)

// TestLegacyPrograms runs unmodified programs on laptop against servers on
// home, behind a cone NAT, by name, through the proxies. The programs share
// one lab and run in parallel: curl and python3's http.server (then
// "i3net status"), ssh and sshd, ping over IPv4 and IPv6, active-mode FTP,
// dig against the proxy's DNS, and an iperf3 transfer.
func TestLegacyPrograms(t *testing.T) {
	t.Parallel()
	w := newWorld(t, topoOptions{})
	t.Run("curl-then-status", func(t *testing.T) { t.Parallel(); testCurlAndStatus(t, w) })
	t.Run("ssh", func(t *testing.T) { t.Parallel(); testSSH(t, w) })
	t.Run("ping4", func(t *testing.T) { t.Parallel(); testPing(t, w, "-4") })
	t.Run("ping6", func(t *testing.T) { t.Parallel(); testPing(t, w, "-6") })
	t.Run("ftp-active", func(t *testing.T) { t.Parallel(); testFTPActive(t, w) })
	t.Run("dns", func(t *testing.T) { t.Parallel(); testDNS(t, w) })
	t.Run("iperf3", func(t *testing.T) { t.Parallel(); testIperf(t, w) })
}

// TestSymmetricNAT puts home behind a symmetric NAT (a new external port per
// flow): every packet goes through the overlay server home's triggers were
// inserted at, so first contact, ping and ssh work as behind a cone NAT.
func TestSymmetricNAT(t *testing.T) {
	t.Parallel()
	w := newWorld(t, topoOptions{nat: netlab.NATSymmetric})
	testPing(t, w, "-4")
	testSSH(t, w)
}

// testIperf measures TCP throughput from laptop to home with iperf3 for two
// seconds: bulk traffic through tun, session and overlay, both ways (data
// one way, ACKs the other). It checks the transfer works and logs the rate.
func testIperf(t *testing.T, w *world) {
	needProgram(t, "iperf3")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	startDaemon(t, w.home.Host, "iperf3", "-s", "-1", "-p", "5201")
	if err := netlab.WaitListen(ctx, w.home.Host, "tcp", 5201); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, ctx, w.laptop.Host, "iperf3", "-c", "home.i3", "-p", "5201", "-t", "2", "-J")
	var res struct {
		End struct {
			SumReceived struct {
				Bytes         float64 `json:"bytes"`
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("iperf3 -J: %v: %s", err, tail(out, 1024))
	}
	if res.Error != "" || res.End.SumReceived.Bytes == 0 {
		t.Fatalf("iperf3 to home.i3 moved nothing (%s): %s", res.Error, tail(out, 1024))
	}
	t.Logf("iperf3 laptop → home.i3: %.0f Mbit/s received over 2 s (%.1f MB; 2 shared cores, tests running alongside)",
		res.End.SumReceived.BitsPerSecond/1e6, res.End.SumReceived.Bytes/1e6)
}

// testCurlAndStatus fetches a file from python3's http.server on home with
// curl http://home.i3:8080/file, then checks that "i3net status" on laptop
// lists home as active, encrypted, with its headers preserved and traffic
// counted both ways.
func testCurlAndStatus(t *testing.T, w *world) {
	needProgram(t, "curl", "python3")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	dir := t.TempDir()
	body := []byte(fmt.Sprintf("hello from home over i3 %s\n", rand.Text()))
	writeFile(t, filepath.Join(dir, "file"), body, 0o644)
	startDaemon(t, w.home.Host, "python3", "-m", "http.server", "8080", "--directory", dir)
	if err := netlab.WaitListen(ctx, w.home.Host, "tcp", 8080); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	got := mustRun(t, ctx, w.laptop.Host, "curl", "-sS", "--fail", "-m", "20", "http://home.i3:8080/file")
	if !bytes.Equal(got, body) {
		t.Fatalf("curl http://home.i3:8080/file: got %q, want %q", got, body)
	}
	t.Logf("curl fetched %d bytes from home by name in %v (first contact: DNS, private triggers, handshake)", len(got), time.Since(start).Round(time.Millisecond))

	// A bigger file, to move more than a few packets each way.
	big := make([]byte, 256<<10)
	rand.Read(big)
	writeFile(t, filepath.Join(dir, "big"), big, 0o644)
	start = time.Now()
	got = mustRun(t, ctx, w.laptop.Host, "curl", "-sS", "--fail", "-m", "20", "http://home.i3:8080/big")
	if !bytes.Equal(got, big) {
		t.Fatalf("curl http://home.i3:8080/big: got %d bytes, want the %d written", len(got), len(big))
	}
	t.Logf("curl fetched 256 KiB in %v", time.Since(start).Round(time.Millisecond))

	// i3net status on laptop: home is active, with its traffic counted.
	st := w.laptop.mustStatus(t)
	p, ok := peerNamed(st, "home")
	if !ok {
		t.Fatalf("i3net status on laptop lists no peer named home: %+v", st.Peers)
	}
	if p.State != "active" || p.Mode != "encrypted" {
		t.Errorf("home's state on laptop is %q (%q), want active (encrypted)", p.State, p.Mode)
	}
	if !p.Preserved || p.Addr4 != w.home.self.Addr4 || p.Addr6 != w.home.self.Addr6 {
		t.Errorf("laptop maps home at %v %v (preserved %v); home's own addresses are %v %v: headers should be preserved",
			p.Addr4, p.Addr6, p.Preserved, w.home.self.Addr4, w.home.self.Addr6)
	}
	if p.TxPackets == 0 || p.RxPackets == 0 || p.RxBytes < uint64(len(big)) {
		t.Errorf("home's counters on laptop: tx %d pkts %d B, rx %d pkts %d B; want traffic both ways, rx ≥ %d B",
			p.TxPackets, p.TxBytes, p.RxPackets, p.RxBytes, len(big))
	}
	if st.Counters["overlay_out"] == 0 || st.Counters["overlay_in"] == 0 || st.Counters["dns_queries"] == 0 {
		t.Errorf("laptop's proxy counters show no traffic: %v", st.Counters)
	}
	// The table people read, run inside laptop as they would.
	table := string(mustRun(t, ctx, w.laptop.Host, i3netBin, "status", "--state-dir", w.laptop.dir))
	t.Logf("i3net status on laptop:\n%s", table)
	line := ""
	for l := range strings.Lines(table) {
		if strings.HasPrefix(l, "home ") {
			line = l
		}
	}
	if !strings.Contains(line, "active") || !strings.Contains(line, p.Addr4.String()) || strings.Contains(line, "rewritten") ||
		!regexp.MustCompile(`[1-9][0-9]* pkts .*[1-9][0-9]* pkts`).MatchString(line) {
		t.Errorf("i3net status: want a line for home, active, at %v, not rewritten, with packets both ways; got %q", p.Addr4, line)
	}
}

// testPing pings home by name, family "-4" or "-6" (the IPv6 pool).
func testPing(t *testing.T, w *world, family string) {
	needProgram(t, "ping")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := mustRun(t, ctx, w.laptop.Host, "ping", family, "-c", "3", "-i", "0.2", "-W", "5", "-w", "20", "home.i3")
	t.Logf("%s", out)
	want := w.home.self.Addr4
	if family == "-6" {
		want = w.home.self.Addr6
	}
	if !strings.Contains(string(out), "("+want.String()+")") {
		t.Errorf("ping %s home.i3 did not ping home's own virtual address %v", family, want)
	}
	if !strings.Contains(string(out), "3 packets transmitted, 3 received") {
		t.Errorf("ping %s home.i3: want 3 of 3 echoes answered", family)
	}
}

// digAnswer is one answer record from dig +noall +answer.
type digAnswer struct {
	name  string
	ttl   int
	typ   string
	rdata string
}

// dig runs dig on laptop with args and returns its answer records and its
// full output (with +comments, so the status line shows).
func dig(t *testing.T, ctx context.Context, w *world, args ...string) ([]digAnswer, string) {
	t.Helper()
	args = append([]string{"+noall", "+answer", "+comments", "+tries=1", "+time=3"}, args...)
	out := string(mustRun(t, ctx, w.laptop.Host, "dig", args...))
	var ans []digAnswer
	for l := range strings.Lines(out) {
		f := strings.Fields(l)
		if len(f) < 5 || strings.HasPrefix(l, ";") || f[2] != "IN" {
			continue
		}
		ttl, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		ans = append(ans, digAnswer{name: f[0], ttl: ttl, typ: f[3], rdata: f[4]})
	}
	return ans, out
}

// digQueryTime returns the query time dig reports with +stats (";; Query
// time: 3 msec"): from sending the query to reading the answer, without the
// process's start-up.
func digQueryTime(out string) (time.Duration, bool) {
	m := regexp.MustCompile(`;; Query time: (\d+) msec`).FindStringSubmatch(out)
	if m == nil {
		return 0, false
	}
	ms, err := strconv.Atoi(m[1])
	return time.Duration(ms) * time.Millisecond, err == nil
}

// digStatus returns the status of dig's header line (NOERROR, NXDOMAIN…).
func digStatus(out string) string {
	m := regexp.MustCompile(`status: ([A-Z]+)`).FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return m[1]
}

// testDNS checks the proxy's DNS (§3.2): A and AAAA of home.i3 on the
// service address, in the pools, TTL 0, equal to home's own addresses;
// the rewritten resolv.conf; NXDOMAIN at once for unknown overlay names;
// other names answered by the upstream in web; reverse lookups.
func testDNS(t *testing.T, w *world) {
	needProgram(t, "dig")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dnsAddr := w.laptop.self.DNS
	if !vaddr.DefaultPool4.Contains(dnsAddr) {
		t.Fatalf("laptop's proxy DNS service address %v is not in the pool %v", dnsAddr, vaddr.DefaultPool4)
	}
	at := "@" + dnsAddr.String()

	check := func(typ string, pool netip.Prefix, own netip.Addr, args ...string) netip.Addr {
		t.Helper()
		ans, out := dig(t, ctx, w, args...)
		if len(ans) != 1 || ans[0].typ != typ || ans[0].name != "home.i3." {
			t.Fatalf("dig %v: want one %s record for home.i3., got:\n%s", args, typ, out)
		}
		a, err := netip.ParseAddr(ans[0].rdata)
		if err != nil || !pool.Contains(a) {
			t.Fatalf("dig %v: %q is not an address of %v", args, ans[0].rdata, pool)
		}
		if ans[0].ttl != 0 {
			t.Errorf("dig %v: TTL %d, want 0", args, ans[0].ttl)
		}
		if a != own {
			t.Errorf("dig %v: %v, but home's own tun address is %v: headers would not be preserved", args, a, own)
		}
		t.Logf("dig %s: home.i3. %d IN %s %v", strings.Join(args, " "), ans[0].ttl, typ, a)
		return a
	}
	home4 := check("A", vaddr.DefaultPool4, w.home.self.Addr4, at, "home.i3", "A")
	home6 := check("AAAA", vaddr.DefaultPool6, w.home.self.Addr6, at, "home.i3", "AAAA")
	// The IPv6 pool's service address answers too.
	check("AAAA", vaddr.DefaultPool6, w.home.self.Addr6, "@"+vaddr.ServiceAddr(vaddr.DefaultPool6).String(), "home.i3", "AAAA")
	if home4 != w.home.derived4() || home6 != w.home.derived6() {
		t.Errorf("home.i3 is %v %v; derived from home's public id: %v %v", home4, home6, w.home.derived4(), w.home.derived6())
	}

	// The resolver file now names the proxy, so plain dig (and every
	// program) asks it.
	rc, err := os.ReadFile(filepath.Join("/etc/netns", w.laptop.Namespace(), "resolv.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rc), "nameserver "+dnsAddr.String()) || strings.Contains(string(rc), "nameserver "+w.web.Addr4().String()) ||
		!strings.Contains(string(rc), "search "+searchDomain) {
		t.Errorf("laptop's resolv.conf does not point at the proxy (%v) only, keeping the search line:\n%s", dnsAddr, rc)
	}
	check("A", vaddr.DefaultPool4, w.home.self.Addr4, "home.i3")

	// An overlay name the book lacks, and an overlay name with the search
	// domain appended (what a resolver tries next): NXDOMAIN at once, never
	// asked upstream.
	w.dns.askedNames()
	checkNXDomainAtOnce(t, ctx, w, "nosuch.i3", "home.i3."+searchDomain)
	for _, n := range w.dns.askedNames() {
		if strings.Contains(n, ".i3.") || strings.HasSuffix(n, ".i3") {
			t.Errorf("the upstream resolver was asked %q: overlay names must stay local", n)
		}
	}

	// Other names go to the upstream the resolv.conf had: web's server.
	before := w.dns.queries.Load()
	ans, out := dig(t, ctx, w, upstreamName, "A")
	if len(ans) != 1 || ans[0].typ != "A" || ans[0].rdata != upstreamA.String() {
		t.Errorf("dig %s: want A %v from the upstream in web, got:\n%s", upstreamName, upstreamA, out)
	}
	if w.dns.queries.Load() == before {
		t.Errorf("dig %s was answered without asking the upstream in web", upstreamName)
	}
	asked := w.dns.askedNames()
	if !strings.Contains(strings.Join(asked, " "), upstreamName) {
		t.Errorf("upstream was asked %v, want %s", asked, upstreamName)
	}
	t.Logf("dig %s: %v, forwarded to web's DNS %v", upstreamName, upstreamA, w.dns.addr)
	if _, out := dig(t, ctx, w, "other.example.org"); digStatus(out) != "NXDOMAIN" {
		t.Errorf("dig other.example.org: want the upstream's NXDOMAIN passed on, got:\n%s", out)
	}

	// Reverse lookups of home's virtual addresses name it.
	for _, a := range []netip.Addr{home4, home6} {
		ans, out := dig(t, ctx, w, "-x", a.String())
		if len(ans) != 1 || ans[0].typ != "PTR" || ans[0].rdata != "home.i3." {
			t.Errorf("dig -x %v: want PTR home.i3., got:\n%s", a, out)
		} else {
			t.Logf("dig -x %v: %s", a, ans[0].rdata)
		}
	}
}

// checkNXDomainAtOnce runs dig for each name on laptop and checks that the
// proxy answers NXDOMAIN at once. "At once" is measured by dig itself (its
// query time, from the query sent to the answer read), not by the wall time
// of the process, which counts dig's start-up on a busy machine: well under
// the proxy's upstream budget, so the proxy waited on nothing.
func checkNXDomainAtOnce(t *testing.T, ctx context.Context, w *world, names ...string) {
	t.Helper()
	for _, name := range names {
		_, out := dig(t, ctx, w, "+stats", name)
		if s := digStatus(out); s != "NXDOMAIN" {
			t.Errorf("dig %s: status %q, want NXDOMAIN:\n%s", name, s, out)
		}
		took, ok := digQueryTime(out)
		if !ok {
			t.Errorf("dig +stats %s: no query time in its output:\n%s", name, out)
		} else if took >= dns.DefaultForwardBudget/2 {
			t.Errorf("dig %s: answered in %v (dig's query time), want at once: well under the proxy's upstream budget (%v)",
				name, took, dns.DefaultForwardBudget)
		}
		t.Logf("dig %s: NXDOMAIN in %v (dig's query time)", name, took)
	}
}
