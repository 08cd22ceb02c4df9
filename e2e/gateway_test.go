package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
	"github.com/i3net/i3net/proxy"
)

// TestGatewayIntranets checks the intranets the gateway's tests use, without
// any gateway: from each router's namespace, the intranet's dnsmasq answers
// its names, nginx, sshd and vsftpd in active mode answer on 10.1.0.10 with
// that intranet's content; the two intranets, both 10.1.0.0/24, are
// isolated; a host on the internet has no route to either, and the
// intranets' hosts none to the laptops' virtual pool.
func TestGatewayIntranets(t *testing.T) {
	needProgram(t, "curl", "dig", "inetutils-ftp")
	t.Parallel()
	lab := netlabtest.New(t)
	laptop := lab.Host("laptop")
	office := newIntranet(t, lab, "gwoffice", "office", "corp.example", true)
	other := newIntranet(t, lab, "gwlab", "lab", "lab.example", false)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	gw := office.gw.Host

	t.Run("dns", func(t *testing.T) {
		at := "@" + intraDNSAddr.String()
		for name, want := range map[string]string{
			"wiki.corp.example": serverAddr.String(), "outside.corp.example": outsideAddr.String(),
			"also.elsewhere.example": serverAddr.String(), "nope.corp.example": "",
		} {
			out, status, _ := digIn(t, gw, name, at)
			switch got := digAddrs(out); {
			case want == "" && status != "NXDOMAIN":
				t.Errorf("dig %s: status %s, want NXDOMAIN:\n%s", name, status, out)
			case want != "" && (status != "NOERROR" || !slices.Equal(got, []string{want})):
				t.Errorf("dig %s: %s %v, want NOERROR [%s]:\n%s", name, status, got, want, out)
			}
		}
		out, _, _ := digIn(t, other.gw.Host, "wiki.lab.example", at)
		if got := digAddrs(out); !slices.Equal(got, []string{serverAddr.String()}) {
			t.Errorf("dig wiki.lab.example in the lab intranet: %v, want [%v]", got, serverAddr)
		}
	})

	t.Run("http", func(t *testing.T) {
		seen := nftCounter(t, office.server, "tcp dport 80")
		url := "http://" + serverAddr.String() + "/"
		for _, in := range []*intranet{office, other} {
			got, err := curlGet(t, ctx, in.gw.Host, url)
			if err != nil || !bytes.Equal(got, in.content) {
				t.Errorf("curl %s from %s: %q, %v; want %q", url, in.gw.Name(), got, err, in.content)
			}
		}
		file := filepath.Join(t.TempDir(), "big.bin")
		if _, err := curlGet(t, ctx, gw, url+"big.bin", "-o", file); err != nil {
			t.Fatal(err)
		}
		if got := fileSHA256(t, file); got != office.web.bigSum {
			t.Errorf("big.bin's sha256 is %s, want %s", got, office.web.bigSum)
		}
		if c := office.web.clients(); len(c) != 2 || c[0] != office.gw.LAN().Gateway4().String() {
			t.Errorf("office's nginx saw clients %v, want the router's LAN address %v twice", c, office.gw.LAN().Gateway4())
		}
		if n := seen(); n < 10 {
			t.Errorf("the counter of packets to port 80 on office's server shows %d, want at least 10", n)
		}
	})

	t.Run("ssh", func(t *testing.T) {
		s := startSSHD(t, office.server)
		out := mustRun(t, ctx, gw, "ssh", s.args(serverAddr.String(), "echo hello from $(hostname -I)")...)
		if !strings.HasPrefix(string(out), "hello from "+serverAddr.String()) {
			t.Errorf("ssh: %q", out)
		}
	})

	t.Run("ftp-active", func(t *testing.T) {
		s := startVsftpd(t, office.server)
		data := []byte(rand.Text())
		writeFile(t, filepath.Join(s.Root, "pub.txt"), data, 0o644)
		dir := t.TempDir()
		out := ftpClient(t, ctx, gw, dir, serverAddr.String(), "user anonymous\nbinary\nls\nget pub.txt got.txt\nquit\n")
		if got, err := os.ReadFile(filepath.Join(dir, "got.txt")); err != nil || !bytes.Equal(got, data) {
			t.Errorf("ftp get: %q, %v; want %q\n%s", got, err, data, out)
		}
		if !strings.Contains(s.ProtocolLog(), "PORT 10,1,0,1,") {
			t.Errorf("vsftpd's log shows no PORT from 10.1.0.1 (active mode):\n%s", tail([]byte(s.ProtocolLog()), 2048))
		}
	})

	t.Run("isolated", func(t *testing.T) {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if out, err := run(t, c, laptop, "ip", "route", "get", serverAddr.String()); err == nil {
			t.Errorf("the laptop has a route to the intranets:\n%s", out)
		}
		pool := netip.MustParseAddr("100.64.1.2")
		if out, err := run(t, c, office.server, "ip", "route", "get", pool.String()); err == nil {
			t.Errorf("the intranet's server has a route to the virtual pool:\n%s", out)
		}
	})
}

// TestGatewayPrograms runs unmodified programs on laptop against two
// intranets with the same 10.1.0.0/24, each behind its own "i3net gateway",
// by name, through laptop's name rules (*.corp.example → office-gw,
// *.lab.example → lab-gw): curl (a page and a 20 MB file), ssh, ping and
// active FTP to office's server; both intranets' servers at 10.1.0.10 at
// once; names and destinations a gateway does not serve; a name it cannot
// resolve. Then a laptop not in the gateway's book is refused, and the
// intranet sees nothing of it.
func TestGatewayPrograms(t *testing.T) {
	needProgram(t, "curl", "dig", "ping", "inetutils-ftp")
	t.Parallel()
	g := newGatewayWorld(t)
	office := newIntranet(t, g.lab, "gwoffice", "office", "corp.example", true)
	lab := newIntranet(t, g.lab, "gwlab", "lab", "lab.example", false)
	ogw := g.addGateway(office, office.gw.Host, office.gw.LAN().Gateway4(), "", nil)
	lgw := g.addGateway(lab, lab.gw.Host, lab.gw.LAN().Gateway4(), "", nil)
	g.laptop.bookAdd("office-gw", ogw.key)
	g.laptop.bookAdd("lab-gw", lgw.key)
	g.startLaptop(g.laptop, laptopRules)
	unlisted := g.newLaptop("laptop2")
	unlisted.bookAdd("office-gw", ogw.key)
	g.startLaptop(unlisted, laptopRules)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	got, err := curlGet(t, ctx, g.laptop.Host, "http://wiki.corp.example/")
	if err != nil || !bytes.Equal(got, office.content) {
		t.Fatalf("curl http://wiki.corp.example/ on laptop: %q, %v; want %q", got, err, office.content)
	}
	t.Logf("first curl through office-gw by name in %v (lookup through the gateway, session set up)", time.Since(start).Round(time.Millisecond))

	t.Run("programs", func(t *testing.T) {
		t.Run("curl", func(t *testing.T) { t.Parallel(); testGatewayCurl(t, g, ogw) })
		t.Run("ssh", func(t *testing.T) { t.Parallel(); testGatewaySSH(t, g, ogw) })
		t.Run("ping", func(t *testing.T) { t.Parallel(); testGatewayPing(t, g) })
		t.Run("ftp-active", func(t *testing.T) { t.Parallel(); testGatewayFTP(t, g, ogw) })
		t.Run("upload", func(t *testing.T) { t.Parallel(); testGatewayUpload(t, g, ogw) })
		t.Run("two-intranets", func(t *testing.T) { t.Parallel(); testTwoIntranets(t, g, office, lab) })
		t.Run("not-served", func(t *testing.T) { t.Parallel(); testNotServed(t, g, ogw) })
		t.Run("nxdomain", func(t *testing.T) { t.Parallel(); testGatewayNXDOMAIN(t, g) })
		t.Run("other-names", func(t *testing.T) { t.Parallel(); testOtherNames(t, g) })
	})
	t.Run("unlisted", func(t *testing.T) { testUnlisted(t, unlisted, ogw) })
	st := g.laptop.rawStatus(t)
	t.Logf("laptop's status: rules %v; peers %v", st["rules"], st["peers"])
	t.Logf("office-gw's status: gateway %v", ogw.rawStatus(t)["gateway"])
}

// testGatewayCurl fetches office's page and its 20 MB file by name: the
// file arrives whole (no MTU black hole: the intranet's server sends
// 1500-byte packets toward a tunnel with less room), and nginx saw every
// request from the gateway's LAN address (NATed).
func testGatewayCurl(t *testing.T, g *gwWorld, gw *gateway) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	file := filepath.Join(t.TempDir(), "big.bin")
	start := time.Now()
	if _, err := curlGet(t, ctx, g.laptop.Host, "http://wiki.corp.example/big.bin", "-o", file, "-m", "90"); err != nil {
		t.Fatalf("the 20 MB file did not come through the gateway: %v", err)
	}
	took := time.Since(start)
	if got := fileSHA256(t, file); got != gw.in.web.bigSum {
		t.Fatalf("big.bin's sha256 on laptop is %s, want %s", got, gw.in.web.bigSum)
	}
	t.Logf("20 MB through the gateway in %v (%.0f Mbit/s), sha256 matches", took.Round(time.Millisecond), float64(bigFileSize)*8/took.Seconds()/1e6)
	for _, c := range gw.in.web.clients() {
		if c != gw.lanAddr.String() {
			t.Errorf("office's nginx saw a request from %s, want only the gateway's LAN address %v (NAT)", c, gw.lanAddr)
		}
	}
}

// testGatewaySSH runs a command on office's server with ssh by name; sshd
// sees the connection come from the gateway's LAN address.
func testGatewaySSH(t *testing.T, g *gwWorld, gw *gateway) {
	s := startSSHD(t, gw.in.server)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := mustRun(t, ctx, g.laptop.Host, "ssh", s.args("ssh.corp.example", "echo hello; echo $SSH_CONNECTION")...)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || lines[0] != "hello" {
		t.Fatalf("ssh ssh.corp.example: %q, want hello and $SSH_CONNECTION", out)
	}
	if f := strings.Fields(lines[1]); len(f) != 4 || f[0] != gw.lanAddr.String() || f[2] != serverAddr.String() {
		t.Errorf("on the server, SSH_CONNECTION is %q: want from the gateway's LAN address %v to %v", lines[1], gw.lanAddr, serverAddr)
	}
}

// testGatewayPing pings office's server by name (ICMP echo through the
// gateway's NAT).
func testGatewayPing(t *testing.T, g *gwWorld) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := run(t, ctx, g.laptop.Host, "ping", "-4", "-c", "3", "-i", "0.2", "-W", "3", "wiki.corp.example")
	if n := pingReceived(t, out); n < 3 || err != nil {
		t.Errorf("ping wiki.corp.example: %d of 3 replies (%v):\n%s", n, err, out)
	}
	t.Logf("%s", out)
}

// testOtherNames checks the names around the rules: a name no rule matches
// goes to laptop's upstream resolver, and the reverse name of a gateway
// target's virtual address (which ping looks up for every reply, ssh and
// servers' logs too) gets an answer within a second.
func testOtherNames(t *testing.T, g *gwWorld) {
	out, status, _ := digIn(t, g.laptop.Host, upstreamName)
	if a := digAddrs(out); status != "NOERROR" || !slices.Equal(a, []string{upstreamA.String()}) {
		t.Errorf("dig %s (no rule): %s %v, want %v from the upstream resolver:\n%s", upstreamName, status, a, upstreamA, out)
	}
	a := digAddrs(mustDig(t, g.laptop.Host, "wiki.corp.example"))
	if len(a) != 1 {
		t.Fatalf("dig wiki.corp.example: addresses %v, want one", a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, _ := run(t, ctx, g.laptop.Host, "dig", "+tries=1", "+time=3", "-x", a[0])
	out = string(b)
	took, ok := digQueryTime(out)
	if status := digStatus(out); !ok || took > time.Second || (status != "NOERROR" && status != "NXDOMAIN") {
		dnsCounters := map[string]uint64{}
		for k, v := range g.laptop.mustStatus(t).Counters {
			if strings.Contains(k, "dns") {
				dnsCounters[k] = v
			}
		}
		t.Errorf("reverse lookup of wiki.corp.example's virtual address %s: status %q after %v (answered: %v), want a PTR or NXDOMAIN within a second; laptop's DNS counters %v:\n%s",
			a[0], status, took, ok, dnsCounters, out)
	}
	t.Logf("reverse lookup of %s: %s", a[0], out)
}

// mustDig is digIn's output, failing t unless the status is NOERROR.
func mustDig(t *testing.T, h *netlab.Host, name string) string {
	t.Helper()
	out, status, _ := digIn(t, h, name)
	if status != "NOERROR" {
		t.Fatalf("dig %s: %s:\n%s", name, status, out)
	}
	return out
}

// testGatewayUpload sends 8 MB with netcat from laptop to office's server by
// name: laptop's kernel hands its proxy large TCP packets, which cross whole
// to the gateway and are written whole into its tun device, and the gateway's
// kernel forwards them through its NAT onto the intranet (cutting them up
// there). Every byte must arrive.
func testGatewayUpload(t *testing.T, g *gwWorld, gw *gateway) {
	needProgram(t, "nc")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	up := make([]byte, 8<<20)
	rand.Read(up)
	writeFile(t, filepath.Join(dir, "up"), up, 0o644)
	received := filepath.Join(dir, "received")
	sink := startDaemon(t, gw.in.server, "sh", "-c", "exec nc -l 9000 > "+received)
	if err := netlab.WaitListen(ctx, gw.in.server, "tcp", 9000); err != nil {
		t.Fatal(err)
	}
	mustRun(t, ctx, g.laptop.Host, "sh", "-c", "nc -N ftp.corp.example 9000 < "+filepath.Join(dir, "up"))
	select {
	case <-sink.Done():
	case <-ctx.Done():
		t.Fatalf("nc -l on office's server did not end once laptop's nc closed: %s", sink.Report(1024))
	}
	if got, err := os.ReadFile(received); err != nil || !bytes.Equal(got, up) {
		t.Fatalf("nc to ftp.corp.example:9000: office's server received %d of %d bytes (or altered; %v)", len(got), len(up), err)
	}
}

// testGatewayFTP lists and gets a file from vsftpd on office's server in
// active mode (classic PORT with laptop's virtual address, which the
// gateway's FTP helper rewrites to its own and opens the data connection
// back for).
func testGatewayFTP(t *testing.T, g *gwWorld, gw *gateway) {
	s := startVsftpd(t, gw.in.server)
	data := make([]byte, 300<<10)
	rand.Read(data)
	writeFile(t, filepath.Join(s.Root, "pub.bin"), data, 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	out := ftpClient(t, ctx, g.laptop.Host, dir, "ftp.corp.example", "user anonymous\nbinary\nls\nget pub.bin got.bin\nquit\n")
	if !strings.Contains(out, "pub.bin") || strings.Count(out, "226 ") < 2 {
		t.Errorf("want a listing naming pub.bin and two transfers completed (226):\n%s", out)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "got.bin")); err != nil || !bytes.Equal(got, data) {
		t.Errorf("ftp get pub.bin: %d of %d bytes (%v)", len(got), len(data), err)
	}
	log := s.ProtocolLog()
	if port := "PORT " + portArg(gw.lanAddr.String()) + ","; !strings.Contains(log, port) {
		t.Errorf("vsftpd's log shows no %s… (the PORT command rewritten to the gateway's address):\n%s", port, tail([]byte(log), 2048))
	}
}

// testTwoIntranets fetches wiki.corp.example and wiki.lab.example at the
// same time: both are 10.1.0.10 in their intranets, and each curl gets its
// own intranet's page; laptop sees them at two virtual addresses.
func testTwoIntranets(t *testing.T, g *gwWorld, office, lab *intranet) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	type result struct {
		body []byte
		err  error
	}
	ins := []*intranet{office, lab}
	results := make([]chan result, len(ins))
	for i, in := range ins {
		results[i] = make(chan result, 1)
		go func() {
			body, err := g.laptop.Run(ctx, "curl", "-sS", "--fail", "-m", "30", "http://"+in.name("wiki")+"/")
			results[i] <- result{body, err}
		}()
	}
	var addrs []string
	for i, in := range ins {
		r := <-results[i]
		if r.err != nil || !bytes.Equal(r.body, in.content) {
			t.Errorf("curl http://%s/: %q, %v; want %q", in.name("wiki"), r.body, r.err, in.content)
		}
		out, status, _ := digIn(t, g.laptop.Host, in.name("wiki"))
		a := digAddrs(out)
		if status != "NOERROR" || len(a) != 1 || a[0] == serverAddr.String() {
			t.Errorf("dig %s on laptop: %s %v, want one virtual address:\n%s", in.name("wiki"), status, a, out)
		}
		addrs = append(addrs, a...)
	}
	if len(addrs) == 2 && addrs[0] == addrs[1] {
		t.Errorf("both intranets' wikis have the same virtual address %s on laptop", addrs[0])
	}
	t.Logf("one laptop, two intranets both 10.1.0.10: wiki.corp.example at %v, wiki.lab.example at %v", addrs[0], addrs[len(addrs)-1])
}

// testNotServed asks through office-gw for a name outside its serve_names
// (REFUSED) and for a name that resolves outside its serve_cidrs (refused:
// REFUSED or no address); curl fails at once for both.
func testNotServed(t *testing.T, g *gwWorld, gw *gateway) {
	out, status, _ := digIn(t, g.laptop.Host, "also.elsewhere.example")
	if status != "REFUSED" {
		t.Errorf("dig also.elsewhere.example (not under office-gw's serve_names): %s, want REFUSED:\n%s", status, out)
	}
	out, status, _ = digIn(t, g.laptop.Host, "outside.corp.example")
	if a := digAddrs(out); status != "REFUSED" && !(status == "NOERROR" && len(a) == 0) {
		t.Errorf("dig outside.corp.example (resolves to %v, outside serve_cidrs): %s %v, want REFUSED or no address:\n%s", outsideAddr, status, a, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, name := range []string{"outside.corp.example", "also.elsewhere.example"} {
		start := time.Now()
		if out, err := curlGet(t, ctx, g.laptop.Host, "http://"+name+"/", "-m", "10"); err == nil {
			t.Errorf("curl http://%s/ succeeded: %q", name, out)
		} else if took := time.Since(start); took > 5*time.Second {
			t.Errorf("curl http://%s/ took %v to fail, want a prompt failure", name, took)
		}
	}
	refused := gatewayCounters(gw.rawStatus(t), "refus")
	t.Logf("office-gw's refusal counters: %v", refused)
	total := 0.0
	for _, v := range refused {
		total += v
	}
	if len(refused) > 0 && total == 0 {
		t.Errorf("office-gw refused names and destinations but counted none: %v", refused)
	}
}

// testGatewayNXDOMAIN asks for a name office's DNS does not have: dig on
// laptop gets NXDOMAIN, within a second.
func testGatewayNXDOMAIN(t *testing.T, g *gwWorld) {
	start := time.Now()
	out, status, took := digIn(t, g.laptop.Host, "nope.corp.example", "+stats")
	wall := time.Since(start)
	if status != "NXDOMAIN" {
		t.Fatalf("dig nope.corp.example on laptop: %s, want NXDOMAIN:\n%s", status, out)
	}
	if took > time.Second {
		t.Errorf("NXDOMAIN for nope.corp.example took %v (dig's query time), want within a second", took)
	}
	t.Logf("NXDOMAIN through the gateway: query time %v (dig's, in whole ms), %v with dig's start-up", took, wall.Round(time.Millisecond))
}

// testUnlisted has laptop2, which is not in office-gw's book, fetch a page
// of office: curl fails within seconds, laptop2's status shows office-gw
// refused, and no packet of it reaches the intranet (no query at its DNS
// server, nothing at its web server).
func testUnlisted(t *testing.T, laptop2 *node, gw *gateway) {
	seen := nftCounter(t, gw.in.server, "tcp dport 80")
	served := len(gw.in.web.clients())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	out, err := curlGet(t, ctx, laptop2.Host, "http://secret.corp.example/", "-m", "10")
	took := time.Since(start)
	if err == nil {
		t.Fatalf("laptop2, not in office-gw's book, fetched %q", out)
	}
	if took > 5*time.Second {
		t.Errorf("curl on laptop2 failed after %v, want within a few seconds", took)
	}
	t.Logf("unlisted laptop2: curl failed in %v: %v", took.Round(time.Millisecond), err)

	var p proxy.PeerStatus
	err = netlab.Poll(ctx, 100*time.Millisecond, func() error {
		st, err := laptop2.status(ctx)
		if err != nil {
			return err
		}
		var ok bool
		if p, ok = peerNamed(st, "office-gw"); !ok {
			return fmt.Errorf("no peer office-gw in laptop2's status: %+v", st.Peers)
		}
		if !strings.Contains(strings.ToLower(p.State+" "+p.Error), "refused") {
			return fmt.Errorf("office-gw is %q (%q) in laptop2's status", p.State, p.Error)
		}
		return nil
	})
	if err != nil {
		t.Errorf("laptop2's status does not show office-gw refused: %v", err)
	} else {
		t.Logf("laptop2's status: office-gw %s: %s", p.State, p.Error)
	}
	if n := seen(); n != 0 {
		t.Errorf("office's server saw %d packets to port 80 while only unlisted laptop2 tried", n)
	}
	if n := len(gw.in.web.clients()); n != served {
		t.Errorf("office's nginx served %d requests while only unlisted laptop2 tried", n-served)
	}
	if log := string(gw.in.dnsLog.Output()); strings.Contains(log, "secret.corp.example") {
		t.Errorf("office's DNS server was asked for laptop2's name secret.corp.example:\n%s", tail([]byte(log), 1024))
	}
}

// anycastBound is the bound on the move of new connections to the
// surviving gateway of an anycast group after the one in use dies.
// The figure is taken when the first curl that succeeds has finished, so the
// curl's own run (process start-up through "ip netns exec", its lookup and
// request: 40 ms on a quiet machine, 300 ms and more under the full suite)
// is the harness's, not the system's: the bound applies to the figure less
// one curl's run, measured just before the kill, and anycastMargin covers
// pollEvery and the scatter of curls' run times. Measured about 1.0 s on a
// quiet machine; the gateway watch's own budget is about 1 s
// (proxy/gwwatch.go).
const (
	anycastBound  = 2 * time.Second
	anycastMargin = 250 * time.Millisecond
	pollEvery     = 50 * time.Millisecond
)

// TestGatewayAnycast runs two gateways of one intranet, gw-a in gwoffice and
// gw-b in gwb (both on its LAN), sharing one identity. laptop fetches a page
// through whichever the overlay picks; that one is killed with SIGKILL, and
// new connections succeed through the other within anycastBound of the kill.
func TestGatewayAnycast(t *testing.T) {
	needProgram(t, "curl")
	t.Parallel()
	g := newGatewayWorld(t)
	office := newIntranet(t, g.lab, "gwoffice", "office", "corp.example", false)
	second := office.gw.AddRouter("gwb")
	a := g.addGateway(office, office.gw.Host, office.gw.LAN().Gateway4(), "gw-a", nil)
	b := g.addGateway(office, second.Host, second.LANAddr(), "gw-b", a)
	g.laptop.bookAdd("office-gw", a.key)
	g.startLaptop(g.laptop, laptopRules)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if got, err := curlGet(t, ctx, g.laptop.Host, "http://wiki.corp.example/"); err != nil || !bytes.Equal(got, office.content) {
		t.Fatalf("curl http://wiki.corp.example/ through the anycast pair: %q, %v", got, err)
	}
	used, other := carrier(t, office, a, b)
	for _, gw := range []*gateway{a, b} {
		t.Logf("%s's status before the kill: peers %v, gateway %v", gw.Name(), gw.rawStatus(t)["peers"], gw.rawStatus(t)["gateway"])
	}

	start := time.Now()
	if _, err := g.laptop.Run(ctx, "curl", "-sS", "--fail", "--connect-timeout", "1", "-m", "1.5", "http://wiki.corp.example/"); err != nil {
		t.Fatal(err)
	}
	oneCurl := time.Since(start)
	if err := used.proxy.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	g.forget(used.proxy)
	<-used.proxy.Done()
	first, err := firstSuccess(ctx, g.laptop, "http://wiki.corp.example/", office.content)
	if err != nil {
		t.Fatalf("after kill -9 of %s, no new connection succeeded: %v", used.Name(), err)
	}
	moved := first.Sub(killed)
	t.Logf("kill -9 of %s (it carried the flow): first new curl succeeded %v after the kill (one curl took %v before it)",
		used.Name(), moved.Round(time.Millisecond), oneCurl.Round(time.Millisecond))
	if c := office.web.clients(); c[len(c)-1] != other.lanAddr.String() {
		t.Errorf("after the kill nginx saw %s, want the surviving gateway %s (%v)", c[len(c)-1], other.Name(), other.lanAddr)
	}
	switch {
	case moved-oneCurl > anycastBound+anycastMargin:
		t.Errorf("new connections succeeded %v after the kill of the gateway in use (%v less one curl's run), want within %v (+%v for the harness)",
			moved, moved-oneCurl, anycastBound, anycastMargin)
	case moved-oneCurl > anycastBound:
		t.Logf("note: %v is over the issue's %v by less than the harness's margin %v", moved-oneCurl, anycastBound, anycastMargin)
	}
}

// carrier returns the gateway of a and b that carried the intranet's last
// request (from nginx's access log: each gateway NATs to its LAN address),
// and the other.
func carrier(t *testing.T, in *intranet, a, b *gateway) (used, other *gateway) {
	t.Helper()
	c := in.web.clients()
	switch last := c[len(c)-1]; last {
	case a.lanAddr.String():
		return a, b
	case b.lanAddr.String():
		return b, a
	default:
		t.Fatalf("nginx saw the request from %s, neither gateway (%v, %v)", last, a.lanAddr, b.lanAddr)
		return nil, nil
	}
}

// firstSuccess starts a curl of url on n every pollEvery, each with a short
// timeout, until one gets want, and returns when the first did; bounded by
// ctx and 30 s.
func firstSuccess(ctx context.Context, n *node, url string, want []byte) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	done := make(chan time.Time, 1)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		go func() {
			out, err := n.Run(ctx, "curl", "-sS", "--fail", "--connect-timeout", "1", "-m", "1.5", url)
			if err == nil && bytes.Equal(out, want) {
				select {
				case done <- time.Now():
				default:
				}
			}
		}()
		select {
		case at := <-done:
			return at, nil
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-tick.C:
		}
	}
}
