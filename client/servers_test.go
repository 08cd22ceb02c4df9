package client

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/server/servertest"
	"github.com/i3net/i3net/wire"
)

// TestServerList: a client that knows one server of a ring learns the others
// from its list, believes their control replies, and inserts and sends
// through them.
func TestServerList(t *testing.T) {
	checkLeaks(t)
	ring := servertest.StartRing(t, 3, nil)
	c, in := newClient(t, ring[0].Addr(), nil)
	testwait.For(t, "the ring's servers learned", func() bool { return len(c.Servers()) == 3 })
	var got []netip.AddrPort
	for _, s := range c.Servers() {
		got = append(got, s.Addr)
		if s.Configured != (s.Addr == ring[0].Addr()) {
			t.Errorf("%v: configured %v", s.Addr, s.Configured)
		}
	}
	for _, s := range ring {
		if !slices.Contains(got, s.Addr()) {
			t.Errorf("servers %v lack %v", got, s.Addr())
		}
		if c.servers.lookup(s.Addr()) == nil {
			t.Errorf("%v not believed", s.Addr())
		}
	}
	// The request is counted once its send returned, which can be after
	// the list it asked for came.
	testwait.For(t, "the list request counted", func() bool { return c.Stats().ListRequests > 0 })
	if st := c.Stats(); st.ServerLists == 0 {
		t.Errorf("stats %+v", st)
	}
	// A trigger another server owns: inserted and served there.
	x := servertest.IDOwnedBy(t, ring, 2)
	h := insert(t, c, Trigger{ID: x})
	if s := h.State().Server; s != ring[2].Addr() {
		t.Errorf("ACK from %v, want the owner %v", s, ring[2].Addr())
	}
	c.SendTo(x, payload("through the ring"))
	if d := in.next(t, "ring delivery"); string(d.Payload) != "through the ring" || d.From != ring[2].Addr() {
		t.Fatalf("got %+v", d)
	}
}

// TestServerListBounded: MaxServers bounds what lists add.
func TestServerListBounded(t *testing.T) {
	checkLeaks(t)
	ring := servertest.StartRing(t, 3, nil)
	c, _ := newClient(t, ring[0].Addr(), func(c *Config) { c.MaxServers = 2 })
	testwait.For(t, "a list received", func() bool { return c.Stats().ServerLists > 0 })
	if n := len(c.Servers()); n != 2 {
		t.Fatalf("%d servers known, want MaxServers = 2", n)
	}
}

// TestFirstHopByRTT: of two servers, the nearer one that answers becomes the
// first hop, by the background round and by Measure, and packets without a
// hint go there. The far one answers after slowDelay, far more than a server
// on loopback takes even on a busy machine under -race.
func TestFirstHopByRTT(t *testing.T) {
	checkLeaks(t)
	const slowDelay = 200 * time.Millisecond
	slow := startSlowServer(t, slowDelay)
	fast := servertest.Start(t, nil)
	c, in := newClient(t, slow.addr, func(c *Config) { c.Servers = append(c.Servers, fast.Addr()) })
	if c.FirstHop() != slow.addr { // the first round trips are measured after listWait
		t.Fatalf("first hop %v before any round trip was measured, want Servers[0]", c.FirstHop())
	}
	testwait.For(t, "the fast server as first hop", func() bool { return c.FirstHop() == fast.Addr() })
	var slowRTT time.Duration
	for _, s := range c.Servers() {
		if s.Addr == slow.addr {
			slowRTT = s.RTT
		}
	}
	if slowRTT < slowDelay {
		t.Errorf("slow server's RTT %v, want ≥ %v", slowRTT, slowDelay)
	}
	if s := c.Servers(); !s[0].FirstHop || s[0].Addr != fast.Addr() || s[0].RTT <= 0 || s[0].RTT >= slowRTT {
		t.Errorf("servers %+v", s)
	}
	x := id.Random()
	insert(t, c, Trigger{ID: x})
	c.SendTo(x, payload("near"))
	if d := in.next(t, "through the first hop"); d.From != fast.Addr() {
		t.Fatalf("delivered by %v", d.From)
	}

	// With round trips off, Measure picks it all the same.
	m, _ := newClient(t, slow.addr, func(c *Config) {
		c.Servers = append(c.Servers, fast.Addr())
		c.ProbeInterval, c.ListInterval = 0, 0
	})
	if m.FirstHop() != slow.addr {
		t.Fatalf("first hop %v without measuring, want Servers[0]", m.FirstHop())
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if err := m.Measure(ctx); err != nil || m.FirstHop() != fast.Addr() {
		t.Fatalf("Measure: %v; first hop %v", err, m.FirstHop())
	}
}

// TestFirstHopIgnoresNoise: a server measured a little faster does not
// replace the first hop (hysteresis); one clearly faster does.
func TestFirstHopIgnoresNoise(t *testing.T) {
	a, b := netip.MustParseAddrPort("127.0.0.1:1"), netip.MustParseAddrPort("127.0.0.1:2")
	var s serverSet
	s.c = &Client{cfg: Config{Servers: []netip.AddrPort{a, b}}}
	s.init(s.c)
	sa, sb := s.find(a), s.find(b)
	tests := []struct {
		name   string
		ra, rb time.Duration
		want   netip.AddrPort
	}{
		{"unmeasured", 0, 0, a},
		{"only the other measured", 0, time.Millisecond, b},
		{"slightly faster", 8500 * time.Microsecond, 9 * time.Millisecond, b},
		{"clearly faster", time.Millisecond, 10 * time.Millisecond, a},
		{"tiny gain", 300 * time.Microsecond, 200 * time.Microsecond, a},
	}
	for _, tt := range tests {
		sa.rtt.Store(int64(tt.ra))
		sb.rtt.Store(int64(tt.rb))
		s.mu.Lock()
		s.chooseLocked(false)
		s.mu.Unlock()
		if got := s.firstHop(); got != tt.want {
			t.Errorf("%s: first hop %v, want %v", tt.name, got, tt.want)
		}
	}
	sa.down.Store(true)
	s.mu.Lock()
	s.chooseLocked(true)
	s.mu.Unlock()
	if s.firstHop() != b {
		t.Errorf("first hop %v after a went down", s.firstHop())
	}
}

// TestRequestsPaddedToAnswers: a hint request and a list request are at
// least as large as the largest answer they ask for, since servers answer a
// datagram with no more bytes than it had.
func TestRequestsPaddedToAnswers(t *testing.T) {
	checkLeaks(t)
	fake := listenLoopback(t)
	fakeAddr := addrOf(fake)
	c, _ := newClient(t, fakeAddr, func(c *Config) { c.ListInterval, c.ProbeInterval, c.FailoverAfter = 0, 0, 0 })
	read := func() *wire.Packet {
		t.Helper()
		p, _ := recvWire(t, fake, "the fake server")
		return p
	}
	// To a server not known to speak the extensions: the request without
	// them, the same with them, and a list request asking whether it does.
	c.requestHint(id.Random(), fakeAddr)
	if p := read(); p.Option(wire.ExtHello) != nil || p.Option(wire.ExtPadding) != nil {
		t.Errorf("first hint request to a server not known to speak the extensions: %s", describeOpts(p))
	}
	if p := read(); p.Option(wire.OptRequestForCache) == nil || p.Option(wire.ExtHello) == nil {
		t.Errorf("second hint request to a server not known to speak the extensions: %s", describeOpts(p))
	}
	if p := read(); p.Option(wire.ExtServerList) == nil {
		t.Errorf("no list request after a hint request to an unknown server: %s", describeOpts(p))
	}
	c.extConfirmed(fakeAddr) // as after its answer to a list request
	c.requestHint(id.Random(), fakeAddr)
	p := read()
	answer := wire.Packet{}
	answer.AddOption(wire.Option{Type: wire.OptCacheAddr, Trigger: wire.Trigger{Target: wire.IPAddr(fakeAddr)}})
	if p.Option(wire.OptRequestForCache) == nil || p.HeaderLen() < answer.HeaderLen() {
		t.Errorf("hint request of %d bytes (%s), the answer has %d", p.HeaderLen(), describeOpts(p), answer.HeaderLen())
	}
	c.sendListRequest(fakeAddr)
	p = read()
	want := 3 + 2 + 3 + 1 + c.cfg.MaxServers*7
	if o := p.Option(wire.ExtServerList); o == nil || p.HeaderLen() < want || p.Option(wire.ExtHello) == nil {
		t.Errorf("list request of %d bytes (%s); a list of %d IPv4 servers takes %d", p.HeaderLen(), describeOpts(p), c.cfg.MaxServers, want)
	}
}

func describeOpts(p *wire.Packet) string {
	var s []string
	for _, o := range p.Options {
		s = append(s, o.Type.String())
	}
	return strings.Join(s, " ")
}
