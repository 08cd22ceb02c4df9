package security

import (
	"fmt"
	"math"
	"net/netip"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/internal/logthrottle"
	"github.com/i3net/i3net/internal/racebuild"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/proxytest"
	"github.com/i3net/i3net/server"
	"github.com/i3net/i3net/server/servertest"
	"github.com/i3net/i3net/wire"
)

// Attack 8: garbage. Hostile input in bulk (junk_test.go: random bytes, and
// datagrams and packets that look valid) at a server, and at a proxy from
// both sides: overlay deliveries to its public and private ids, and packets
// its programs write into its tun. Nothing crashes, memory stays bounded
// (heap growth after a GC under maxGrowth), and the victims still work
// afterwards.
//
// How many: I3NET_SECURITY_DATAGRAMS, else 10^5 with -short and 2×10^5
// without (a tenth under -race); docs/security.md has the figures of a
// 10^6 run.

// maxGrowth bounds the heap growth a garbage attack may cause.
const maxGrowth = 32 << 20

func garbageCount(t testing.TB) int {
	if v := os.Getenv("I3NET_SECURITY_DATAGRAMS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("I3NET_SECURITY_DATAGRAMS=%q: want a positive count", v)
		}
		return n
	}
	n := 200_000
	if testing.Short() {
		n = 100_000
	}
	if racebuild.Enabled {
		n /= 10
	}
	return n
}

// heapInUse returns the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// peakHeap samples the heap (live and garbage) until stop is closed.
func peakHeap(stop <-chan struct{}) func() uint64 {
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak.Store(max(peak.Load(), m.HeapAlloc))
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 { <-done; return peak.Load() }
}

// checkGrowth fails t when the heap grew by maxGrowth or more from before.
func checkGrowth(t *testing.T, what string, before, peak uint64) {
	t.Helper()
	after := heapInUse()
	growth := int64(after) - int64(before)
	t.Logf("%s: heap %.1f MiB before, %.1f MiB after (growth %+.1f MiB), peak %.1f MiB with garbage",
		what, mib(before), mib(after), float64(growth)/(1<<20), mib(peak))
	if growth >= maxGrowth {
		t.Errorf("%s: the heap grew by %.1f MiB, more than %d MiB", what, float64(growth)/(1<<20), maxGrowth>>20)
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// nonZero formats the non-zero counters of m, sorted.
func nonZero(m map[string]uint64) string {
	var ks []string
	for k, v := range m {
		if v != 0 {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	var b strings.Builder
	for _, k := range ks {
		fmt.Fprintf(&b, " %s=%d", k, m[k])
	}
	return b.String()
}

func serverDrops(st server.Stats) map[string]uint64 {
	m := map[string]uint64{}
	for r := range server.NumDropReasons {
		m[r.String()] = st.Drops[r]
	}
	for r := range server.NumRefusals {
		m["refused_"+r.String()] = st.Refused[r]
	}
	return m
}

// TestGarbageAtServer: two sources send garbage at a server as fast as they
// can (its insertion limit raised, so that every request reaches the control
// path); every reply goes to the test's own sockets. The server decodes and
// drops (counted) what is malformed, refuses or answers the rest, installs
// nothing, and still forwards an honest host's packets afterwards.
func TestGarbageAtServer(t *testing.T) {
	n := garbageCount(t)
	srv := servertest.Start(t, func(c *server.Config) {
		c.InsertRate, c.InsertBurst = 1e9, 1<<20
		c.SocketBuffer = server.DefaultConfig().SocketBuffer
	})
	via := []netip.AddrPort{srv.Addr()}
	recv := newHonest(t, via, nil)
	x := id.Random()
	recv.insert(t, x)
	send := newHonest(t, via, nil)
	sink := newRaw(t, "127.0.0.51")
	attackers := []*raw{newRaw(t, "127.0.0.52"), newRaw(t, "127.0.0.53")}
	safe := []netip.AddrPort{sink.addr, attackers[0].addr, attackers[1].addr}
	aims := []id.ID{x, id.RandomWithPrefix(x, 128), id.RandomWithPrefix(x, 200)}
	before := srv.Stats()

	heap0 := heapInUse()
	stop := make(chan struct{})
	peak := peakHeap(stop)
	start := time.Now()
	var wg sync.WaitGroup
	var bytesSent atomic.Uint64
	for i, a := range attackers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j := newJunk(uint64(i+1), safe, aims, nil)
			for range n / len(attackers) {
				b := j.datagram()
				if _, err := a.conn.WriteToUDPAddrPort(b, srv.Addr()); err == nil {
					bytesSent.Add(uint64(len(b)))
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	settle(t, srv.Addr())
	close(stop)

	st := srv.Stats()
	in := st.PacketsIn - before.PacketsIn
	t.Logf("%d datagrams (%.1f MB) in %v (%.0f/s); the server took %d (the rest the kernel dropped), handled %d, "+
		"echoed %d pings, answered with %d datagrams, delivered %d to the honest trigger; installed %d, %d triggers in the table",
		n, float64(bytesSent.Load())/1e6, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), in,
		st.Handled-before.Handled, st.Pings-before.Pings, st.PacketsOut-before.PacketsOut, recv.count.Load(),
		st.Installed-before.Installed, st.Triggers)
	t.Logf("server drops and refusals:%s", nonZero(serverDrops(st)))
	checkGrowth(t, "server", heap0, peak())

	if in < uint64(n)/10 {
		t.Errorf("the server took only %d of %d datagrams", in, n)
	}
	if st.Installed != before.Installed {
		t.Errorf("garbage installed %d triggers", st.Installed-before.Installed)
	}
	defer func() {
		if t.Failed() {
			t.Logf("server after: %+v", srv.Stats())
			t.Logf("receiver: %+v", recv.c.Stats())
			t.Logf("sender: %+v", send.c.Stats())
		}
	}()
	testwait.For(t, "an honest packet after the garbage", func() bool {
		send.c.SendTo(x, []byte("after the garbage"))
		return recv.received([]byte("after the garbage"))
	})
}

// TestGarbageAtProxy: home and laptop have a session through a server (and
// a relay, on the path, that gives the attacker home's private id and real
// frames to change). Then (1) garbage arrives at home's client from its
// server's address: wire datagrams of every kind, data to home's public and
// private ids with random payloads, frames of every type and changed real
// ones; (2) home's programs write garbage into its tun: random bytes, packets
// to laptop, to the DNS address (queries real and changed; the upstream
// answers with changed copies), to unmapped addresses. Home drops and counts
// what is bad, its memory stays bounded, and afterwards laptop and home still
// exchange packets both ways.
func TestGarbageAtProxy(t *testing.T) {
	n := garbageCount(t)
	path := newRelay(t)
	srv := servertest.Start(t, func(c *server.Config) { c.PublicAddr = path.addr })
	path.attach(srv.Addr())
	via := []netip.AddrPort{path.addr}
	upstream := newRaw(t, "127.0.0.61") // home's DNS upstream
	go answerJunk(upstream)
	laptop, home := newHost(t, "laptop"), newHost(t, "home")
	laptop.WriteBook(t, map[string]*identity.Identity{"home": home.Ident})
	home.WriteBook(t, map[string]*identity.Identity{"laptop": laptop.Ident})
	home.Start(t, via, func(c *proxy.Config) { c.Upstreams = []netip.AddrPort{upstream.addr} })
	laptop.Start(t, via, nil)
	l4, h4 := laptop.Addr(), home.Addr()
	v4, _, _ := laptop.PX.ResolveOverlay("home")
	lv4, lv6, _ := home.PX.ResolveOverlay("laptop")

	// Sent again until one lands: on a loaded machine the handshake can
	// outlast its first try, which drops what was queued.
	var sent time.Time
	testwait.For(t, "a session", func() bool {
		if home.Tun.Written() >= 1 {
			return true
		}
		if time.Since(sent) > time.Second {
			laptop.Tun.Send(udp(t, l4, v4, 1))
			sent = time.Now()
		}
		return false
	})
	homeLocal := home.PX.Status().Local
	var homePriv id.ID
	var frames [][]byte
	for _, s := range path.seenWhere(func(s seen, p *wire.Packet) bool { return s.host == homeLocal }) {
		var p wire.Packet
		p.Decode(s.b)
		if o := p.Option(wire.OptTriggerInsert); s.toward && o != nil && !o.Trigger.ID.IsPublic() {
			homePriv = o.Trigger.ID
		}
		if !s.toward && p.Flags&wire.FlagData != 0 && len(p.Payload) > 0 {
			frames = append(frames, p.Payload)
		}
	}
	if homePriv.IsZero() || len(frames) < 2 {
		t.Fatalf("the path saw home's private id %v and %d frames to home", homePriv.Short(), len(frames))
	}
	path.stopRecording()
	laptop.Tun.KeepNone()
	logLines := home.Log.Count()
	c0 := home.PX.Status().Counters

	// (1) From the overlay.
	sink := newRaw(t, "127.0.0.62")
	safe := []netip.AddrPort{sink.addr, path.addr, srv.Addr()}
	aims := []id.ID{home.Ident.ID(), homePriv, id.RandomWithPrefix(homePriv, 128)}
	heap0 := heapInUse()
	stop := make(chan struct{})
	peak := peakHeap(stop)
	start := time.Now()
	garbageStart := start
	j := newJunk(7, safe, aims, frames)
	for range n {
		path.deliver(homeLocal, j.datagram())
	}
	elapsed := time.Since(start)
	// A packet from laptop, on the path like the garbage (from the relay's
	// socket to home's), lands after it; sent again until one does (the
	// kernel drops what home cannot read in time).
	marker := uint32(2)
	written := home.Tun.Written()
	if !testwait.Poll(10*time.Second, func() bool {
		laptop.Tun.Send(udp(t, l4, v4, marker))
		marker++
		return home.Tun.Written() > written
	}) {
		t.Fatalf("no packet of laptop's at home within 10 s of the garbage; home's counters:%s\nlaptop's:%s\nlaptop's peers: %+v",
			nonZero(home.PX.Status().Counters), nonZero(laptop.PX.Status().Counters), laptop.PX.Status().Peers)
	}
	close(stop)
	c1 := home.PX.Status().Counters
	t.Logf("overlay: %d datagrams to home in %v (%.0f/s); home's client received %d, passed %d to the proxy",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(),
		c1["client_received"]-c0["client_received"], c1["overlay_in"]-c0["overlay_in"])
	t.Logf("home's counters after the overlay garbage:%s", nonZero(c1))
	checkGrowth(t, "proxy, overlay garbage", heap0, peak())
	if c1["overlay_in"] == c0["overlay_in"] {
		t.Error("no garbage reached home's proxy")
	}
	for _, b := range home.Tun.Packets()[1:] {
		if seq := seqOf(t, b, l4, h4); seq < 2 || seq >= marker {
			t.Errorf("garbage from the overlay made home write packet %d into its tun", seq)
		}
	}
	home.Tun.KeepNone()

	// (2) From the tun.
	dnsQueries := [][]byte{dnsQuery("laptop.i3.", 1), dnsQuery("laptop.i3.", 28), dnsQuery("home.i3.", 1),
		dnsQuery("nobody.i3.", 1), dnsQuery("www.example.org.", 1), dnsQuery("1.0.64.100.in-addr.arpa.", 12)}
	dns := home.PX.Status().Self.DNS
	heap0 = heapInUse()
	stop = make(chan struct{})
	peak = peakHeap(stop)
	start = time.Now()
	j = newJunk(8, safe, aims, dnsQueries)
	own := []netip.Addr{h4, home.PX.Status().Self.Addr6}
	dsts := []netip.Addr{lv4, lv6, h4, dns, netip.MustParseAddr("100.64.0.1"), netip.MustParseAddr("198.51.100.7")}
	tunOut := home.Tun.Written()
	for range n {
		home.Tun.Send(j.tunPacket(own, dsts, []netip.Addr{dns}))
	}
	elapsed = time.Since(start)
	// Home reads its tun in order, one packet after the other: once it has
	// read one more, it is done with the garbage.
	home.Tun.Send(udp(t, h4, lv4, 1))
	testwait.For(t, "home to read the garbage from its tun", func() bool {
		return home.PX.Status().Counters["tun_in"] > c1["tun_in"]+uint64(n)
	})
	close(stop)
	c2 := home.PX.Status().Counters
	t.Logf("tun: %d packets written into home's tun in %v (%.0f/s); home read %d, sent %d to laptop (laptop's "+
		"program got %d), answered %d DNS queries of %d (forwarded %d)",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), c2["tun_in"]-c1["tun_in"],
		c2["overlay_out"]-c1["overlay_out"], laptop.Tun.Written(), home.Tun.Written()-tunOut,
		c2["dns_queries"]-c1["dns_queries"], c2["dns_forwarded"]-c1["dns_forwarded"])
	t.Logf("home's counters after the tun garbage:%s", nonZero(c2))
	checkGrowth(t, "proxy, tun garbage", heap0, peak())
	lines := home.Log.Count() - logLines
	t.Logf("home logged %d lines during the garbage, by message:%s", lines, logSummary(home.Log, logLines))
	// Refusals from the server's address are logged at most
	// logthrottle.DefaultBurst + DefaultRate per second per kind, by the
	// client ("refused") and by the proxy ("server refused a request"); the
	// rest are counted.
	secs := math.Ceil(time.Since(garbageStart).Seconds())
	bound := uint64(client.NumRefusalKinds * (logthrottle.DefaultBurst + int(secs*logthrottle.DefaultRate)))
	counts := logCounts(home.Log, logLines)
	for _, msg := range []string{"refused", "server refused a request"} {
		if counts[msg] > bound {
			t.Errorf("home logged %q %d times in %.0f s, bound %d", msg, counts[msg], secs, bound)
		}
	}
	if c2["server_refusals"] > bound && (c2["server_refusals_unlogged"] == 0 || c2["client_refusals_unlogged"] == 0) {
		t.Errorf("%d refusals, none counted as unlogged (client %d, proxy %d)", c2["server_refusals"],
			c2["client_refusals_unlogged"], c2["server_refusals_unlogged"])
	}
	if c2["tun_in"]-c1["tun_in"] < uint64(n)-256 {
		t.Errorf("home read %d of %d packets from its tun", c2["tun_in"]-c1["tun_in"], n)
	}

	// Both still work, both ways.
	var seq uint32 = 1000
	testwait.For(t, "laptop → home after the garbage", func() bool {
		seq++
		laptop.Tun.Send(udp(t, l4, v4, seq))
		return home.PX.Status().Counters["tun_out"] > c2["tun_out"]
	})
	written = laptop.Tun.Written()
	testwait.For(t, "home → laptop after the garbage", func() bool {
		seq++
		home.Tun.Send(udp(t, h4, lv4, seq))
		return laptop.Tun.Written() > written
	})
	for _, p := range []*proxy.Proxy{home.PX, laptop.PX} {
		for _, ps := range p.Status().Peers {
			if ps.State != "active" {
				t.Errorf("peer %s: %s (%s)", ps.Name, ps.State, ps.Error)
			}
		}
	}
}

// logSummary counts the lines of l after the first skip by their msg=.
func logSummary(l *proxytest.LogBuffer, skip int) string { return nonZero(logCounts(l, skip)) }

// logCounts counts the lines of l after the first skip by message.
func logCounts(l *proxytest.LogBuffer, skip int) map[string]uint64 {
	counts := map[string]uint64{}
	for i, line := range strings.Split(l.String(), "\n") {
		if i < skip || line == "" {
			continue
		}
		msg := line
		if _, after, ok := strings.Cut(line, "msg="); ok {
			msg = after
			if strings.HasPrefix(msg, "\"") {
				msg, _, _ = strings.Cut(msg[1:], "\"")
			} else {
				msg, _, _ = strings.Cut(msg, " ")
			}
		}
		counts[msg]++
	}
	return counts
}

// answerJunk answers each DNS query r receives with a copy, marked a
// response, with one byte changed every other time, until r is closed.
func answerJunk(r *raw) {
	b := make([]byte, 2048)
	for i := 0; ; i++ {
		r.conn.SetReadDeadline(time.Time{})
		n, from, err := r.conn.ReadFromUDPAddrPort(b)
		if err != nil {
			return
		}
		if n > 3 {
			b[2] |= 0x80
			if i%2 == 1 {
				b[i%n] ^= 0x5a
			}
		}
		r.conn.WriteToUDPAddrPort(b[:n], from)
	}
}

// dnsQuery returns a DNS query for name (a fully qualified name) and type.
func dnsQuery(name string, qtype uint16) []byte {
	b := []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0, byte(qtype>>8), byte(qtype), 0, 1)
}
