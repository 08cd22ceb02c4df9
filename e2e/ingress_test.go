package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/proxy"
)

// TestIngress is issue 12's "Must show", in one world (ingressworld_test.go)
// its subtests share, in order: legacy hosts that run no i3net reach home
// and home2 behind NATs by name through a real resolver, the ingress and its
// waypoints, over HTTP (routed by Host), HTTPS (by SNI, TLS verified end to
// end with the test CA) and ssh (by the heuristic); only what was published
// is reachable; withdrawal takes a name away; the overlay host learns the
// real client address; a flood from one client is rate limited and counted.
func TestIngress(t *testing.T) {
	w := newIngressWorld(t)
	t.Run("ByName", func(t *testing.T) { testIngressByName(t, w) })
	t.Run("SSHByHeuristic", func(t *testing.T) { testIngressSSH(t, w) })
	t.Run("UnpublishedPort", func(t *testing.T) { testIngressUnpublishedPort(t, w) })
	t.Run("UnpublishedName", func(t *testing.T) { testIngressUnpublishedName(t, w) })
	t.Run("OneWaypointTwoClients", func(t *testing.T) { testIngressOneWaypoint(t, w) })
	t.Run("Withdraw", func(t *testing.T) { testIngressWithdraw(t, w) })
	t.Run("RateLimit", func(t *testing.T) { testIngressRateLimit(t, w) })
}

// testIngressByName: legacy1 resolves home through the resolver (a waypoint,
// TTL 0) and fetches its page over HTTP and HTTPS, verifying home's own
// certificate with the test CA (the ingress holds no key: TLS is end to
// end); legacy2 does the same for home2; home's nginx logs legacy1's address
// from the PROXY protocol header.
func testIngressByName(t *testing.T, w *ingWorld) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	out := mustRun(t, ctx, w.legacy1, "dig", "+tries=1", "+time=5", "+noall", "+answer", ingFQDN("home"), "A")
	f := strings.Fields(string(out))
	if len(f) != 5 || f[1] != "0" || f[3] != "A" || !isWaypoint(netip.MustParseAddr(f[4])) {
		t.Errorf("dig home.i3.example.net through the resolver: %q, want one A record with TTL 0 holding a waypoint %v", out, ingWaypoints)
	}
	for _, c := range []struct {
		h    *netlab.Host
		name string
	}{{w.legacy1, "home"}, {w.legacy2, "home2"}} {
		for _, scheme := range []string{"http", "https"} {
			url := scheme + "://" + ingFQDN(c.name) + "/"
			body, err := curlGet(t, ctx, c.h, url, "--cacert", w.caPath)
			if err != nil {
				t.Errorf("%s: curl %s: %v\ningress:\n%s", c.h.Name(), url, err, tail(w.ing.proxy.Output(), 3000))
				continue
			}
			if string(body) != ingPage(c.name) {
				t.Errorf("%s: curl %s: %q, want %q", c.h.Name(), url, body, ingPage(c.name))
			}
		}
	}
	for _, p := range w.home.mustStatus(t).Published {
		if p.State != "accepted" {
			t.Errorf("home's status shows publication %+v: want it accepted", p)
		}
	}
	w.checkIngressStatus(t)
	if c := w.ingCounters(t); c["routed_http_host"] < 2 || c["routed_tls_sni"] < 2 {
		t.Errorf("the ingress counts %d connections routed by Host and %d by SNI, want at least 2 each: %v", c["routed_http_host"], c["routed_tls_sni"], c)
	}
	clients := w.web.realClients()
	if len(clients) == 0 || clients[len(clients)-1] != w.legacy1.Addr4().String() {
		t.Errorf("home's nginx saw PROXY protocol clients %v, want the last to be legacy1 (%v)", clients, w.legacy1.Addr4())
	}
}

// ingCounters returns the ingress's counters from its "i3net status".
func (w *ingWorld) ingCounters(t *testing.T) map[string]uint64 {
	t.Helper()
	return w.ingStatus(t).Counters
}

// ingStatus returns the ingress part of the ingress's "i3net status".
func (w *ingWorld) ingStatus(t *testing.T) *proxy.IngressStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	st, err := readStatus[proxy.Status](ctx, w.world, w.ing.dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Ingress == nil {
		t.Fatalf("the ingress's status has no ingress part: %+v", st)
	}
	return st.Ingress
}

// checkIngressStatus: the ingress's "i3net status" shows its zone, its
// waypoints and what home and home2 published.
func (w *ingWorld) checkIngressStatus(t *testing.T) {
	ig := w.ingStatus(t)
	if ig.Zone != ingZone && ig.Zone != ingZone+"." {
		t.Errorf("the ingress's status shows zone %q, want %s", ig.Zone, ingZone)
	}
	for _, wp := range ingWaypoints {
		if !slices.Contains(ig.Waypoints, wp.String()) {
			t.Errorf("the ingress's status shows waypoints %v, want %v among them", ig.Waypoints, wp)
		}
	}
	want := map[string]bool{"home:22": true, "home:80": true, "home:443": true, "home2:80": true, "home2:443": true, "home2:8080": true}
	for _, p := range ig.Published {
		delete(want, fmt.Sprintf("%s:%d", strings.TrimSuffix(strings.TrimSuffix(p.Name, "."), "."+ingZone), p.Port))
	}
	if len(want) > 0 {
		t.Errorf("the ingress's status lacks the publications %v: %+v", want, ig.Published)
	}
}

// testIngressSSH: legacy1 runs ssh home.i3.example.net (BatchMode, a key
// the test made): the ingress routes port 22 by the heuristic (the waypoint
// it just handed out for home); the command runs on home (sshd sees home's
// virtual address as its own), and home's status and log show legacy1's
// real address for the flow.
func testIngressSSH(t *testing.T, w *ingWorld) {
	s := startSSHD(t, w.home.Host)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	before := w.ingCounters(t)["routed_heuristic"]
	out, err := run(t, ctx, w.legacy1, "ssh", s.args(ingFQDN("home"), "echo hello; echo $SSH_CONNECTION")...)
	if err != nil {
		t.Fatalf("ssh by the heuristic: %v\ningress:\n%s", err, tail(w.ing.proxy.Output(), 3000))
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || lines[0] != "hello" {
		t.Fatalf("ssh home.i3.example.net: %q, want hello and $SSH_CONNECTION", out)
	}
	if f := strings.Fields(lines[1]); len(f) != 4 || f[2] != w.home.self.Addr4.String() {
		t.Errorf("on home, SSH_CONNECTION is %q: want home's virtual address %v as the server's", lines[1], w.home.self.Addr4)
	}
	if after := w.ingCounters(t)["routed_heuristic"]; after <= before {
		t.Errorf("the ingress's routed_heuristic counter went from %d to %d over the ssh connection, want it up", before, after)
	}
	waitFor(t, 15*time.Second, "home's status to list legacy1's address in its ingress flows", func() error {
		st, err := w.home.status(ctx)
		if err != nil {
			return err
		}
		for _, f := range st.IngressFlows {
			if c, err := netip.ParseAddrPort(f.Client); err == nil && c.Addr() == w.legacy1.Addr4() && f.Port == 22 {
				return nil
			}
		}
		return fmt.Errorf("home's status has no ingress flow from %v to port 22: %+v", w.legacy1.Addr4(), st.IngressFlows)
	})
	flowLine := regexp.MustCompile(`ingress flow.*client=` + regexp.QuoteMeta(w.legacy1.Addr4().String()) + `:\d+.*\bport=22\b`)
	if !flowLine.Match(w.home.proxy.Output()) {
		t.Errorf("home's log has no line \"ingress flow client=%v:PORT port=22\":\n%s", w.legacy1.Addr4(), tail(w.home.proxy.Output(), 3000))
	}
}

// testIngressUnpublishedPort: home's nginx also listens on 8080, which home
// did not publish (home2 did, so the ingress listens on 8080): legacy1's
// curl to home.i3.example.net:8080 fails fast and never gets home's page;
// a port nobody published is refused too.
func testIngressUnpublishedPort(t *testing.T, w *ingWorld) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	// home2 published 8080: the ingress listens there, and must still
	// refuse home's 8080 by its own decision.
	st, err := readStatus[proxy.Status](ctx, w.world, w.ing.dir)
	if err != nil {
		t.Fatal(err)
	}
	if l := netip.AddrPortFrom(ingWaypoints[0], 8080).String(); st.Ingress == nil || !slices.Contains(st.Ingress.Listening, l) {
		t.Errorf("the ingress does not listen on %s though home2 published port 8080: %+v", l, st.Ingress)
	}
	for _, port := range []string{"8080", "9999"} {
		url := "http://" + ingFQDN("home") + ":" + port + "/"
		start := time.Now()
		body, err := run(t, ctx, w.legacy1, "curl", "-sS", "--fail", "-m", "10", url)
		took := time.Since(start)
		if err == nil || strings.Contains(string(body), "unpublished page") {
			t.Errorf("curl %s from legacy1 got %q (%v): want it refused, home did not publish port %s", url, body, err, port)
			continue
		}
		if took > 5*time.Second {
			t.Errorf("curl %s was refused after %v: want it refused at once", url, took)
		}
		t.Logf("curl %s: refused in %v: %s", url, took.Round(time.Millisecond), strings.TrimSpace(string(body)))
	}
}

// testIngressUnpublishedName: names nobody published are NXDOMAIN through
// the resolver.
func testIngressUnpublishedName(t *testing.T, w *ingWorld) {
	for _, name := range []string{"nothere", "www.home"} {
		if _, status, _ := digIn(t, w.legacy1, ingFQDN(name)); status != "NXDOMAIN" {
			t.Errorf("dig %s through the resolver: %s, want NXDOMAIN", ingFQDN(name), status)
		}
	}
}

// ingRounds is how many rounds each legacy host fetches in
// testIngressOneWaypoint.
const ingRounds = 20

// testIngressOneWaypoint: legacy1 and legacy2, at the same time, fetch
// home's and home2's pages (swapping each round) over HTTP and HTTPS, both
// through the first waypoint only (curl --resolve): the ingress routes each
// connection by its Host or SNI, so every page is right. home's nginx sees
// only legacy1's and legacy2's addresses.
func testIngressOneWaypoint(t *testing.T, w *ingWorld) {
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Second)
	defer cancel()
	wp := ingWaypoints[0].String()
	var wg sync.WaitGroup
	errs := make(chan error, 2*ingRounds)
	var fetched atomic.Int64
	for i, h := range []*netlab.Host{w.legacy1, w.legacy2} {
		wg.Go(func() {
			for r := range ingRounds {
				name := []string{"home", "home2"}[(i+r)%2]
				fqdn := ingFQDN(name)
				out, err := h.Run(ctx, "curl", "-sS", "--fail", "-m", "20", "--cacert", w.caPath,
					"--resolve", fqdn+":80:"+wp, "--resolve", fqdn+":443:"+wp,
					"http://"+fqdn+"/", "https://"+fqdn+"/")
				if want := ingPage(name) + ingPage(name); err != nil || string(out) != want {
					errs <- fmt.Errorf("%s round %d: curl http and https://%s/ through %s: %q (%v), want %q", h.Name(), r, fqdn, wp, out, err, want)
					continue
				}
				fetched.Add(2)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d pages fetched right through waypoint %s by legacy1 and legacy2 at once", fetched.Load(), wp)
	for _, c := range w.web.realClients() {
		if c != w.legacy1.Addr4().String() && c != w.legacy2.Addr4().String() {
			t.Errorf("home's nginx saw PROXY protocol client %s: want only legacy1 (%v) and legacy2 (%v)", c, w.legacy1.Addr4(), w.legacy2.Addr4())
		}
	}
}

// testIngressWithdraw: home publishes old.home on port 80 while running; it
// resolves and serves; "i3net publish withdraw" takes it away: connections
// to it are refused and the resolver answers NXDOMAIN, within a bounded
// wait.
func testIngressWithdraw(t *testing.T, w *ingWorld) {
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Second)
	defer cancel()
	fqdn := ingFQDN("old.home")
	w.publish(w.home, "old.home", "80", "--proxy-protocol")
	waitFor(t, 15*time.Second, fqdn+" to resolve through the resolver", func() error {
		rcode, addrs, err := dnsAsk(ctx, w.legacy2, netip.AddrPortFrom(w.resolver.Addr4(), 53), fqdn)
		if err != nil || rcode != "NOERROR" || len(addrs) == 0 {
			return fmt.Errorf("%s %v %v", rcode, addrs, err)
		}
		return nil
	})
	get := func() ([]byte, error) {
		return w.legacy2.Run(ctx, "curl", "-sS", "--fail", "-m", "10", "--resolve", fqdn+":80:"+ingWaypoints[0].String(), "http://"+fqdn+"/")
	}
	if body, err := get(); err != nil || string(body) != ingPage("home") {
		t.Fatalf("curl http://%s/ before the withdrawal: %q (%v), want %q", fqdn, body, err, ingPage("home"))
	}
	start := time.Now()
	if _, err := w.i3net(ctx, "publish", "withdraw", ingName, "old.home", "--state-dir", w.home.dir); err != nil {
		t.Fatal(err)
	}
	if out, err := w.i3net(ctx, "publish", "list", "--state-dir", w.home.dir); err != nil || strings.Contains(string(out), "old.home") {
		t.Errorf("i3net publish list after the withdrawal: %q (%v), want no old.home", out, err)
	}
	waitFor(t, 15*time.Second, "connections to "+fqdn+" to be refused", func() error {
		if body, err := get(); err == nil {
			return fmt.Errorf("still served: %q", body)
		}
		return nil
	})
	waitFor(t, 15*time.Second, fqdn+" to be NXDOMAIN through the resolver", func() error {
		rcode, _, err := dnsAsk(ctx, w.legacy2, netip.AddrPortFrom(w.resolver.Addr4(), 53), fqdn)
		if err != nil || rcode != "NXDOMAIN" {
			return fmt.Errorf("%s (%v)", rcode, err)
		}
		return nil
	})
	t.Logf("%s withdrawn: refused and NXDOMAIN %v after i3net publish withdraw", fqdn, time.Since(start).Round(time.Millisecond))
	if body, err := curlGet(t, ctx, w.legacy2, "http://"+ingFQDN("home")+"/"); err != nil || string(body) != ingPage("home") {
		t.Errorf("home itself after withdrawing old.home: %q (%v), want %q", body, err, ingPage("home"))
	}
}

// ingFlood is how many connections legacy3 opens at once in
// testIngressRateLimit, and ingFloodWorkers how many are in flight.
const (
	ingFlood        = 4 * ingBurst
	ingFloodWorkers = 64
)

// testIngressRateLimit: legacy3 opens ingFlood connections to home2's port
// 80 as fast as it can (client_burst is ingBurst, client_rate 50/s): some are
// refused, at least a burst's worth served, the ingress's status counts the
// limited ones, and legacy1 is still served.
func testIngressRateLimit(t *testing.T, w *ingWorld) {
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Second)
	defer cancel()
	to := netip.AddrPortFrom(ingWaypoints[0], 80)
	var ok, refused, failed atomic.Int64
	jobs := make(chan int, ingFlood)
	for i := range ingFlood {
		jobs <- i
	}
	close(jobs)
	start := time.Now()
	var wg sync.WaitGroup
	for range ingFloodWorkers {
		wg.Go(func() {
			for range jobs {
				switch served, err := fetchRaw(ctx, w.legacy3, to, ingFQDN("home2")); {
				case served:
					ok.Add(1)
				case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF):
					refused.Add(1) // the ingress's reset
				default:
					failed.Add(1) // slow on a loaded machine, not a refusal
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	t.Logf("legacy3: %d connections in %v: %d served, %d refused, %d failed otherwise (client_burst %d, client_rate %s/s)",
		ingFlood, took.Round(time.Millisecond), ok.Load(), refused.Load(), failed.Load(), ingBurst, ingRateStr)
	if refused.Load() == 0 {
		t.Errorf("no connection of the flood was refused")
	}
	if ok.Load() < ingBurst/2 {
		t.Errorf("only %d connections served: want about client_burst (%d) at least", ok.Load(), ingBurst)
	}
	if c := w.ingCounters(t); c["conns_rate_limited"] < uint64(refused.Load()) {
		t.Errorf("the ingress counts %d connections rate limited, want at least the %d refused: %v", c["conns_rate_limited"], refused.Load(), c)
	}
	if body, err := curlGet(t, ctx, w.legacy1, "http://"+ingFQDN("home2")+"/"); err != nil || string(body) != ingPage("home2") {
		t.Errorf("legacy1 during legacy3's flood: %q (%v), want %q (the limit is per client)", body, err, ingPage("home2"))
	}
}

// fetchRaw sends one HTTP/1.1 request for host's page over a new
// connection from h to "to" and reports whether the response was 200, and
// else the error that ended it (a reset: the ingress refused it).
func fetchRaw(ctx context.Context, h *netlab.Host, to netip.AddrPort, host string) (bool, error) {
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := h.Dial(dctx, "tcp", to)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host); err != nil {
		return false, err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return false, err
	}
	return strings.HasPrefix(line, "HTTP/1.1 200"), nil
}

// waitFor is poll failing t with what and cond's last error.
func waitFor(t *testing.T, d time.Duration, what string, cond func() error) {
	t.Helper()
	if err := poll(d, cond); err != nil {
		t.Fatalf("waiting %v for %s: %v", d, what, err)
	}
}
