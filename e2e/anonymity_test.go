package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/proxy"
)

// TestAnonymity shows issue 14's anonymous peers (paper §6.3) with real
// programs: curl from laptop to a web server on home.i3, which laptop's
// book marks anonymous, twice, one rotation apart; then curl through a
// gateway that allows anonymous clients, and through one that does not.
func TestAnonymity(t *testing.T) {
	a := newAnonWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	t.Run("peer", func(t *testing.T) { testAnonPeer(t, ctx, a) })
	t.Run("gateway", func(t *testing.T) { testAnonGateway(t, ctx, a) })
	t.Run("gateway-refuses", func(t *testing.T) { testAnonGatewayRefuses(t, ctx, a) })
}

// anonSession is what one anonymous session looked like: laptop's view
// (its ephemeral key and address, the relay) and home's (the peer and the
// packets it sent laptop).
type anonSession struct {
	key    string
	addr   netip.Addr
	relay  netip.AddrPort
	first  netip.AddrPort   // laptop's first hop at the status read
	avoid  []netip.AddrPort // the servers the relay was not to be when picked
	homeTx uint64
}

func (s anonSession) String() string {
	return fmt.Sprintf("key %s… seen as %v, relay %v (avoided %v, first hop %v), home sent %d packets",
		s.key[:14], s.addr, s.relay, s.avoid, s.first, s.homeTx)
}

// testAnonPeer: home sees, per session, a key and an address that are not
// laptop's, on its tun device and in its status; its physical link carries
// only server addresses; each session's relay is not laptop's first hop,
// differs from the previous one, and carried home's packets (its metrics).
func testAnonPeer(t *testing.T, ctx context.Context, a *anonWorld) {
	home := a.home
	content := []byte("home's page " + rand.Text() + "\n")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "index.html"), content, 0o644)
	startDaemon(t, home.Host, "python3", "-m", "http.server", "8080", "--bind", "0.0.0.0", "--directory", dir)
	if err := netlab.WaitListen(ctx, home.Host, "tcp", 8080); err != nil {
		t.Fatal(err)
	}
	tun := startCapture(t, home.Host, "i3net0", "ip")
	phys := startCapture(t, home.Host, netlab.Uplink, "ip")

	before := a.ring.scrape()
	s1 := a.anonCurl(t, ctx, content)
	after1 := a.ring.scrape()
	a.checkRelay(t, s1, before, after1)

	testwait.For(t, "laptop's session with home to be due for rotation and quiet for 2 s", func() bool {
		p, ok := peerNamed(a.laptop.mustStatus(t), "home")
		return ok && p.SessionAge > anonRotate && time.Since(p.LastUse) > 2500*time.Millisecond
	})
	s2 := a.anonCurl(t, ctx, content)
	a.checkRelay(t, s2, after1, a.ring.scrape())
	if s2.key == s1.key || s2.addr == s1.addr {
		t.Errorf("the second session kept the first's key or address: %+v, %+v", s1, s2)
	}
	if s2.relay == s1.relay {
		t.Errorf("both sessions went through relay %v; with three servers the second avoids the first's", s1.relay)
	}

	own := a.laptop.self.Addr4
	// tcpdump prints what it captured a little later on a busy machine.
	var seen map[netip.Addr]int
	testwait.Poll(testwait.Timeout, func() bool {
		seen = tun.addrs()
		return seen[s1.addr] > 0 && seen[s2.addr] > 0
	})
	if seen[s1.addr] == 0 || seen[s2.addr] == 0 || seen[own] != 0 {
		t.Errorf("home's tun device saw %v: want both sessions' addresses %v and %v, never laptop's own %v", seen, s1.addr, s2.addr, own)
	}
	// home's link: the servers, and the upstream resolver in web, only.
	allowed := map[netip.Addr]bool{home.Addr4(): true, a.web.Addr4(): true}
	for _, s := range a.ring.servers {
		allowed[s.data.Addr()] = true
	}
	for addr, n := range phys.addrs() {
		if !allowed[addr] {
			t.Errorf("home's link carried %d packets naming %v (laptop is %v), neither home, web nor a server", n, addr, a.laptop.Addr4())
		}
	}
	t.Logf("session 1: %v; session 2: %v; home's tun saw %v", s1, s2, seen)
}

// anonCurl fetches home's page from laptop and returns the session it went
// through, checking that home's view of it names neither laptop's key nor
// its own address.
func (a *anonWorld) anonCurl(t *testing.T, ctx context.Context, content []byte) anonSession {
	t.Helper()
	got, err := curlGet(t, ctx, a.laptop.Host, "http://home.i3:8080/")
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("curl http://home.i3:8080/: %q, %v; want %q", got, err, content)
	}
	lst := a.laptop.mustStatus(t)
	p, ok := peerNamed(lst, "home")
	if !ok || !p.Anonymous || p.AnonKey == "" || !p.Relay.IsValid() {
		t.Fatalf("laptop's status of home: %+v, want an anonymous session with its relay", p)
	}
	s := anonSession{key: p.AnonKey, addr: p.AnonAddr4, relay: p.Relay, first: lst.FirstHop, avoid: p.RelayAvoided}
	if s.key == a.laptop.key || s.addr == a.laptop.self.Addr4 || s.addr == a.laptop.derived4() {
		t.Fatalf("laptop's anonymous session uses its own key or address: %+v", s)
	}
	// The first hop was avoided when the relay was picked (it may have
	// changed since, as round trips are measured again).
	if len(s.avoid) == 0 || slices.Contains(s.avoid, s.relay) {
		t.Errorf("the session's relay %v is one it was to avoid, %v", s.relay, s.avoid)
	}
	if len(s.avoid) > 0 && s.relay == s.first && s.first == s.avoid[0] {
		t.Errorf("the session's relay %v is laptop's first hop", s.relay)
	}
	for _, hp := range anonPeers(a.home.mustStatus(t)) {
		if hp.Key == s.key {
			if hp.Addr4 != s.addr {
				t.Errorf("home maps laptop's session key to %v, laptop says it is seen as %v", hp.Addr4, s.addr)
			}
			s.homeTx = hp.TxPackets
			return s
		}
	}
	t.Fatalf("home's status has no anonymous peer with key %s: %+v", s.key, a.home.mustStatus(t).Peers)
	return s
}

// checkRelay checks, from the servers' metrics before and after a session,
// that its relay delivered at least the packets home sent laptop (they all
// go to laptop's private trigger there).
func (a *anonWorld) checkRelay(t *testing.T, s anonSession, before, after counters) {
	t.Helper()
	for _, srv := range a.ring.servers {
		if srv.data != s.relay {
			continue
		}
		d := after[srv.name]["i3net_server_delivered_total"] - before[srv.name]["i3net_server_delivered_total"]
		if d < float64(s.homeTx) {
			t.Errorf("relay %s (%v) delivered %v packets during the session, fewer than the %d home sent laptop", srv.name, s.relay, d, s.homeTx)
		}
		t.Logf("relay %s (%v) delivered %v packets; home sent laptop %d", srv.name, s.relay, d, s.homeTx)
		return
	}
	t.Errorf("relay %v is none of the servers", s.relay)
}

// testAnonGateway: curl through the gateway that allows anonymous clients
// reaches nginx, which sees the gateway's address; the gateway's status
// holds an anonymous client but not laptop's key.
func testAnonGateway(t *testing.T, ctx context.Context, a *anonWorld) {
	url := "http://" + a.office.name("wiki") + "/"
	got, err := curlGet(t, ctx, a.laptop.Host, url)
	if err != nil || !bytes.Equal(got, a.office.content) {
		t.Fatalf("curl %s: %q, %v; want %q", url, got, err, a.office.content)
	}
	if c := a.office.web.clients(); len(c) == 0 || c[len(c)-1] != a.gwOK.lanAddr.String() {
		t.Errorf("nginx saw clients %v, want the gateway's address %v", c, a.gwOK.lanAddr)
	}
	raw, err := json.Marshal(a.gwOK.rawStatus(t))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), a.laptop.key) || strings.Contains(string(raw), a.laptop.self.Addr4.String()) {
		t.Errorf("the gateway's status names laptop's key or address:\n%s", raw)
	}
	st := a.gwOK.mustStatus(t)
	if len(anonPeers(st)) == 0 {
		t.Errorf("the gateway's status shows no anonymous client: %+v", st.Peers)
	}
	p, ok := peerNamed(a.laptop.mustStatus(t), "office-gw")
	if !ok || !p.Anonymous || p.AnonKey == "" {
		t.Errorf("laptop's status of office-gw: %+v, want an anonymous session", p)
	}
}

// testAnonGatewayRefuses: the gateway without allow_anonymous refuses the
// session at once; curl fails and laptop's status says why.
func testAnonGatewayRefuses(t *testing.T, ctx context.Context, a *anonWorld) {
	url := "http://" + a.lab.name("wiki") + "/"
	start := time.Now()
	got, err := curlGet(t, ctx, a.laptop.Host, url)
	took := time.Since(start)
	if err == nil {
		t.Fatalf("curl %s through a gateway that refuses anonymous clients: %q, want a failure", url, got)
	}
	var p proxy.PeerStatus
	testwait.For(t, "laptop to show lab-gw refusing it", func() bool {
		var ok bool
		p, ok = peerNamed(a.laptop.mustStatus(t), "lab-gw")
		return ok && p.State == "refused" && strings.Contains(p.Error, "accepts no anonymous session")
	})
	if n := len(a.lab.web.clients()); n != 0 {
		t.Errorf("lab's nginx served %d requests", n)
	}
	t.Logf("curl failed after %v: %v; laptop's status: %s: %s", took.Round(time.Millisecond), err, p.State, p.Error)
}
